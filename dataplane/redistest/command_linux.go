package redistest

import (
	"os/exec"
	"syscall"
)

// dieWithParent asks the kernel to SIGKILL the child when its parent
// goes away. Strictly the signal fires when the OS thread that forked
// the child exits, not the process: Go's runtime never ends a thread
// except when a goroutine that called runtime.LockOSThread returns
// without unlocking it, which these helpers never do, so here the two
// are the same.
func dieWithParent(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
