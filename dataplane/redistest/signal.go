package redistest

import (
	"fmt"
	"syscall"
)

// Pause stops the server's process (SIGSTOP): it keeps its sockets but
// answers nothing, as a server stuck in a long command or a frozen VM
// would. Resume undoes it; Stop works on a paused server too.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) error {
	if s.cmd == nil || s.cmd.Process == nil {
		return fmt.Errorf("redistest: %s is not running", s.Addr)
	}
	return s.cmd.Process.Signal(sig)
}
