package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a server the benchmark started: redis-server, twemproxy or
// keyway-proxy. The benchmark stops every proc it started, by its pid,
// and nothing else.
type proc struct {
	name string
	addr string // where RESP clients connect
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// pid is the server's own pid: taskset execs it, so the pid is the same.
func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// procs starts servers in dir, pinned to CPUs when taskset is given.
type procs struct {
	dir     string
	taskset string // path of taskset, or "" not to pin
	started []*proc
}

// start runs argv in the background, on cpus when pinning.
func (ps *procs) start(name, cpus string, argv ...string) (*proc, error) {
	if ps.taskset != "" && cpus != "" {
		argv = append([]string{ps.taskset, "-c", cpus}, argv...)
	}
	logPath := filepath.Join(ps.dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create log of %s: %w", name, err)
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	// The waiter ends when the process does; stopAll makes sure it does.
	go func() { _ = cmd.Wait(); close(p.done) }()
	ps.started = append(ps.started, p)
	return p, nil
}

// stop ends p: SIGTERM, then SIGKILL after a grace period.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// stopAll sends SIGTERM to every started process, then SIGKILL to those
// still running after a grace period, and waits for all of them.
func (ps *procs) stopAll() {
	for _, p := range ps.started {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(5 * time.Second)
	for _, p := range ps.started {
		select {
		case <-p.done:
		case <-deadline:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

// usedPorts keeps freePort from handing out a port twice in one run.
var usedPorts = map[int]bool{}

// freePort returns a port in 20000-32000, below Linux's ephemeral range,
// so that the thousands of client sockets of the connection storm never
// collide with a listener.
func freePort() (int, error) {
	for range 200 {
		p := 20000 + rand.IntN(12000)
		if usedPorts[p] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		_ = ln.Close()
		usedPorts[p] = true
		return p, nil
	}
	return 0, errors.New("no free port in 20000-32000")
}

// waitPing waits until addr answers PING, failing early when p exits.
func waitPing(ctx context.Context, p *proc) error {
	deadline := time.Now().Add(30 * time.Second)
	var last error
	for time.Now().Before(deadline) {
		if p.exited() {
			return fmt.Errorf("%s exited during start; see %s", p.name, p.log)
		}
		if last = ping(p.addr); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s did not answer PING on %s within 30s (last: %v); see %s", p.name, p.addr, last, p.log)
}

func ping(addr string) error {
	reply, err := command(addr, "PING")
	if err != nil {
		return err
	}
	if reply != "+PONG" {
		return fmt.Errorf("PING: %q", reply)
	}
	return nil
}

// command sends one command on a new connection and returns its reply's
// first line, or for a bulk reply its contents.
func command(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", fmt.Errorf("dial %s: %w", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write(appendCommand(nil, args...)); err != nil {
		return "", fmt.Errorf("write to %s: %w", addr, err)
	}
	return readSimple(bufio.NewReader(c))
}

// readSimple reads one non-aggregate reply.
func readSimple(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read reply: %w", err)
	}
	line = strings.TrimSuffix(line, "\r\n")
	if !strings.HasPrefix(line, "$") {
		return line, nil
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 {
		return line, nil
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("read bulk: %w", err)
	}
	return string(b[:n]), nil
}

// appendCommand encodes args as a RESP array of bulk strings.
func appendCommand(dst []byte, args ...string) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(len(args)), 10)
	dst = append(dst, '\r', '\n')
	for _, a := range args {
		dst = append(dst, '$')
		dst = strconv.AppendInt(dst, int64(len(a)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, a...)
		dst = append(dst, '\r', '\n')
	}
	return dst
}
