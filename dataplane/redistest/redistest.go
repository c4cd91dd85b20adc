// Package redistest starts real redis-server processes on loopback for
// tests. Every module's tests use it, so a Redis started by a test looks
// the same everywhere: its own directory, a free port, no persistence, and
// stopped when the test ends.
package redistest

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// NewPort, as the value of a config line passed to Start ("tls-port "
// + NewPort, "cluster-port " + NewPort), is a port Start picks with
// FreePort on each attempt, so a retry after losing a port to another
// process gets new ones for every line; Server.Ports says what each
// directive got.
const NewPort = "<new-port>"

// Server is one running redis-server.
type Server struct {
	Addr string
	Port int
	// Ports are the ports Start picked for config lines given NewPort,
	// by directive ("tls-port").
	Ports map[string]int
	Dir   string
	cmd   *exec.Cmd
	t     testing.TB
	bin   string // to start it again after a Kill
	conf  string
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
// It is a guess, and only for programs that cannot take a port from the
// kernel: redis-server (it cannot inherit a listener, and its cluster bus
// and TLS ports must be named in its configuration) and etcd peer URLs
// (every member must know the others' before any starts). Keyway's own
// binaries listen on 127.0.0.1:0 and report the bound addresses with
// --ready-file; use that for them, and DeadAddr for an address where
// nothing listens.
//
// It picks from below the kernel's ephemeral range (32768 and up on
// Linux): a port the kernel handed out as "free" is exactly the kind the
// kernel then hands to the next outgoing connection, and with a dozen
// Redis clients in flight that race was common enough to fail CI. Ports
// already returned to this test binary are not returned again. Callers
// that start a process on the port still retry when it is taken by
// another test binary in the meantime (see Start).
func FreePort(t testing.TB) int {
	t.Helper()
	for attempt := 0; attempt < 200; attempt++ {
		port := freeLow + rand.IntN(freeHigh-freeLow)
		handedMu.Lock()
		taken := handed[port]
		handedMu.Unlock()
		if taken {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		_ = ln.Close()
		handedMu.Lock()
		handed[port] = true
		handedMu.Unlock()
		return port
	}
	t.Fatalf("redistest: no free port in [%d, %d) after 200 tries", freeLow, freeHigh)
	return 0
}

const freeLow, freeHigh = 20000, 32000

var (
	handedMu sync.Mutex
	handed   = map[int]bool{}
)

// Start runs redis-server with extra config lines (e.g. "maxmemory 10mb")
// and waits until it answers PING. It fails the test if redis-server is
// not installed: `make deps` installs it.
func Start(t testing.TB, config ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redistest: redis-server not found (run `make deps`): %v", err)
	}
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := FreePort(t)
		conf := []string{
			"bind 127.0.0.1",
			"port " + strconv.Itoa(port),
			"dir " + dir,
			"save \"\"",
			"appendonly no",
			"protected-mode no",
			"daemonize no",
			"logfile " + filepath.Join(dir, "redis.log"),
		}
		ports := map[string]int{}
		for _, line := range config {
			if directive, ok := strings.CutSuffix(line, " "+NewPort); ok {
				ports[directive] = FreePort(t)
				line = directive + " " + strconv.Itoa(ports[directive])
			}
			conf = append(conf, line)
		}
		path := filepath.Join(dir, "redis.conf")
		if err := os.WriteFile(path, []byte(strings.Join(conf, "\n")+"\n"), 0o644); err != nil {
			t.Fatalf("redistest: write config: %v", err)
		}
		cmd := Command(bin, path)
		if err := cmd.Start(); err != nil {
			t.Fatalf("redistest: start redis-server: %v", err)
		}
		s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Port: port, Ports: ports, Dir: dir, cmd: cmd, t: t, bin: bin, conf: path}
		if err := s.waitReady(10 * time.Second); err != nil {
			lastErr = err
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			continue // most likely a port was taken between FreePort and bind
		}
		t.Cleanup(s.Stop)
		return s
	}
	t.Fatalf("redistest: redis-server did not start: %v", lastErr)
	return nil
}

func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		reply, err := s.tryDo("PING")
		if err == nil && reply == "+PONG" {
			return nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			return fmt.Errorf("no PONG from %s within %v (last error %v); log:\n%s", s.Addr, limit, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server. It is safe to call more than once.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Kill stops the server abruptly (SIGKILL), as a crash would.
func (s *Server) Kill() { s.Stop() }

// Restart starts a killed server again with its configuration, port and
// directory, so what it persisted (with "appendonly yes") is loaded, as
// after a crash and restart by a supervisor. It waits until the server
// answers PING.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatalf("redistest: restart %s: it is still running", s.Addr)
	}
	cmd := Command(s.bin, s.conf)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: restart %s: %v", s.Addr, err)
	}
	s.cmd = cmd
	if err := s.waitReady(30 * time.Second); err != nil {
		s.t.Fatalf("redistest: restart %s: %v", s.Addr, err)
	}
}

// Do sends one command on a fresh connection and returns the first line of
// the reply (e.g. "+OK", ":3", "$5" followed by the value on its own line
// for bulk strings, joined with "\n"). Enough for assertions in tests
// without a client library.
func (s *Server) Do(args ...string) string {
	s.t.Helper()
	reply, err := s.tryDo(args...)
	if err != nil {
		s.t.Fatalf("redistest: %s %v: %v", s.Addr, args, err)
	}
	return reply
}

func (s *Server) tryDo(args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "$") && line != "$-1" {
		n, _ := strconv.Atoi(line[1:])
		buf := make([]byte, n+2)
		if _, err := ioReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line, nil
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
