// Package harness starts Keyway's real processes for end-to-end tests:
// keyway-control with its embedded etcd, keyway-proxy instances and the
// keyway CLI, built once per test binary from the workspace's sources.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
	"keyway.dev/proto/readyfile"
)

// Binaries are the paths of the three programs under test.
type Binaries struct {
	Control, Proxy, CLI string
}

var (
	buildOnce sync.Once
	built     Binaries
	buildErr  error
)

// Build compiles keyway-control, keyway-proxy and keyway into a temporary
// directory once per test binary. KEYWAY_BIN points at prebuilt binaries
// instead (make integration builds them into bin/).
func Build(t testing.TB) Binaries {
	t.Helper()
	buildOnce.Do(func() {
		if dir := os.Getenv("KEYWAY_BIN"); dir != "" {
			built = Binaries{filepath.Join(dir, "keyway-control"), filepath.Join(dir, "keyway-proxy"), filepath.Join(dir, "keyway")}
			return
		}
		dir, err := os.MkdirTemp("", "keyway-bin-")
		if err != nil {
			buildErr = err
			return
		}
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		for _, b := range []struct{ mod, pkg, out string }{
			{"controlplane", "./cmd/keyway-control", "keyway-control"},
			{"dataplane", "./cmd/keyway-proxy", "keyway-proxy"},
			{"cli", "./cmd/keyway", "keyway"},
		} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
			cmd.Dir = filepath.Join(root, b.mod)
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("build %s: %v\n%s", b.out, err, out)
				return
			}
		}
		built = Binaries{filepath.Join(dir, "keyway-control"), filepath.Join(dir, "keyway-proxy"), filepath.Join(dir, "keyway")}
	})
	if buildErr != nil {
		t.Fatalf("harness: %v", buildErr)
	}
	return built
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.work above the working directory")
		}
		dir = parent
	}
}

// RepoRoot is the directory holding go.work.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("harness: %v", err)
	}
	return root
}

// Process is a running program under test.
type Process struct {
	Name string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{}
}

type syncWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func start(t testing.TB, name, bin string, args ...string) *Process {
	t.Helper()
	p := &Process{Name: name, log: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{})}
	// Killed with the test binary (a timeout, ^C), which runs no Cleanup.
	p.cmd = redistest.Command(bin, args...)
	w := syncWriter{p.mu, p.log}
	p.cmd.Stdout, p.cmd.Stderr = w, w
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("harness: start %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("--- log of %s ---\n%s", name, p.Log())
		}
	})
	return p
}

// Log returns what the process printed so far.
func (p *Process) Log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// Stop sends SIGTERM and waits (SIGKILL after 10s).
func (p *Process) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Kill stops the process with SIGKILL, as a crash would.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Eventually polls cond until it returns nil or limit passes; the last
// error fails the test. It bounds waits for asynchronous effects; it
// asserts nothing about speed.
func Eventually(t testing.TB, limit time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("harness: %s: still failing after %v: %v", what, limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Control is a running keyway-control.
type Control struct {
	*Process
	Addr    string
	DataDir string
	// Metrics is the bound --metrics-listen address, when Args set one.
	Metrics string
	conn    *grpc.ClientConn
}

// StartControl starts keyway-control with an embedded etcd in dataDir
// (a new temporary directory when empty) on addr (a port the kernel
// picks when empty), and waits until its admin API answers.
func StartControl(t testing.TB, addr, dataDir string) *Control {
	t.Helper()
	return startControl(t, ControlOptions{Addr: addr, DataDir: dataDir}, func(c *Control) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := c.Policies().ListVersions(ctx, &keywayv1.ListVersionsRequest{})
		return err
	})
}

// startControl starts keyway-control with o, reads its bound addresses
// from --ready-file and waits until check passes.
func startControl(t testing.TB, o ControlOptions, check func(*Control) error) *Control {
	t.Helper()
	bins := Build(t)
	if o.DataDir == "" {
		o.DataDir = t.TempDir()
	}
	if len(o.Dial) == 0 {
		o.Dial = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	listen := o.Addr
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	c := &Control{DataDir: o.DataDir}
	for attempt := 1; ; attempt++ {
		ready := filepath.Join(t.TempDir(), "ready.json")
		args := append([]string{"--listen", listen, "--data-dir", o.DataDir, "--log-level", "debug", "--ready-file", ready}, o.Args...)
		c.Process = start(t, "keyway-control", bins.Control, args...)
		bound := waitReadyFile(t, c.Process, ready)
		if bound != nil {
			c.Addr, c.Metrics = bound["listen"], bound["metrics-listen"]
			break
		}
		// A restart on the address of an earlier run (o.Addr) cannot let
		// the kernel choose. Between the two runs that port, which came
		// from the ephemeral range, may serve as the source port of an
		// outgoing connection, and the bind fails until that connection
		// closes; no process of ours binds a port explicitly any more
		// (FreePort's picks lie below the ephemeral range). So a few more
		// tries, each as long as a start takes, rather than a failure.
		if o.Addr != "" && attempt < 10 && strings.Contains(c.Log(), "address already in use") {
			t.Logf("harness: keyway-control's address %s is taken; starting it again", o.Addr)
			continue
		}
		t.Fatalf("harness: keyway-control exited:\n%s", c.Log())
	}
	conn, err := grpc.NewClient(c.Addr, o.Dial...)
	if err != nil {
		t.Fatalf("harness: dial control plane: %v", err)
	}
	c.conn = conn
	t.Cleanup(func() { _ = conn.Close() })
	waitAnswers(t, c.Process, func() error { return check(c) })
	return c
}

// waitReadyFile polls for the ready file p writes once its listeners are
// bound and returns what it names, or nil when p exits first.
func waitReadyFile(t testing.TB, p *Process, path string) map[string]string {
	t.Helper()
	var bound map[string]string
	Eventually(t, 60*time.Second, p.Name+" writes "+path, func() error {
		b, err := readyfile.Read(path)
		switch {
		case err == nil:
			bound = b
			return nil
		case p.Exited():
			return nil
		case errors.Is(err, os.ErrNotExist):
			return err
		}
		t.Fatalf("harness: %s: %v", p.Name, err)
		return nil
	})
	return bound
}

// waitAnswers waits until check passes, failing with p's log when p
// exits first.
func waitAnswers(t testing.TB, p *Process, check func() error) {
	t.Helper()
	Eventually(t, 30*time.Second, p.Name+" answers", func() error {
		if p.Exited() {
			t.Fatalf("harness: %s exited:\n%s", p.Name, p.Log())
		}
		return check()
	})
}

// Policies is a client of the admin PolicyService.
func (c *Control) Policies() keywayv1.PolicyServiceClient {
	return keywayv1.NewPolicyServiceClient(c.conn)
}

// Fleet is a client of the admin FleetService.
func (c *Control) Fleet() keywayv1.FleetServiceClient {
	return keywayv1.NewFleetServiceClient(c.conn)
}

// Conn is the gRPC connection to the control plane.
func (c *Control) Conn() *grpc.ClientConn { return c.conn }

// Proxy is a running keyway-proxy.
type Proxy struct {
	*Process
	NodeID string
	// Addr, Admin, TLSAddr and ClusterAddrs are the bound addresses of
	// --listen, --admin, --tls-listen and --cluster-listen, as the proxy
	// reported them in its ready file.
	Addr         string
	Admin        string
	TLSAddr      string
	ClusterAddrs []string
}

// StartProxy starts keyway-proxy subscribed to controlAddr, with extra
// flags, and waits until its admin listener answers /healthz. --listen
// and --admin are ports the kernel picks; so are --tls-listen and
// --cluster-listen when extra gives them as 127.0.0.1:0.
func StartProxy(t testing.TB, nodeID, controlAddr string, extra ...string) *Proxy {
	t.Helper()
	bins := Build(t)
	p := &Proxy{NodeID: nodeID}
	dir := t.TempDir()
	ready := filepath.Join(dir, "ready.json")
	args := []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--ready-file", ready,
		"--node-id", nodeID, "--state-dir", filepath.Join(dir, "state"), "--log-level", "debug"}
	if controlAddr != "" {
		args = append(args, "--control-plane", controlAddr)
	}
	p.Process = start(t, "keyway-proxy "+nodeID, bins.Proxy, append(args, extra...)...)
	bound := waitReadyFile(t, p.Process, ready)
	if bound == nil {
		t.Fatalf("harness: %s exited:\n%s", p.Name, p.Log())
	}
	p.Addr, p.Admin, p.TLSAddr = bound["listen"], bound["admin"], bound["tls-listen"]
	if cl := bound["cluster-listen"]; cl != "" {
		p.ClusterAddrs = strings.Split(cl, ",")
	}
	waitAnswers(t, p.Process, func() error { return p.get("/healthz") })
	return p
}

// Ready reports whether /readyz answers 200.
func (p *Proxy) Ready() error { return p.get("/readyz") }

func (p *Proxy) get(path string) error {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + p.Admin + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	return nil
}

// CLIResult is the outcome of one keyway command.
type CLIResult struct {
	Stdout, Stderr string
	Code           int
}

// CLI runs the keyway command against controlAddr.
func CLI(t testing.TB, controlAddr string, args ...string) CLIResult {
	t.Helper()
	bins := Build(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bins.CLI, append([]string{"--addr", controlAddr}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("harness: run keyway %v: %v", args, err)
	}
	return CLIResult{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// WritePolicy writes files (relative path -> contents) into a new
// directory and returns it.
func WritePolicy(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// WaitPort waits until something listens on addr.
func WaitPort(t testing.TB, addr string) {
	t.Helper()
	Eventually(t, 10*time.Second, "listen "+addr, func() error {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// Contains fails the test unless s contains every one of parts.
func Contains(t testing.TB, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Fatalf("%s: %q does not contain %q", what, s, p)
		}
	}
}

// ControlOptions configure StartControlWith.
type ControlOptions struct {
	// Addr and DataDir are as for StartControl.
	Addr, DataDir string
	// Args are extra keyway-control flags (TLS, auth, render).
	Args []string
	// Dial are the options of the harness's own connection; empty means
	// plaintext. Set them when Args turn TLS on.
	Dial []grpc.DialOption
}

// StartControlWith starts keyway-control with extra flags and waits until
// its health service answers, which needs no credentials, so it works
// with authentication on.
func StartControlWith(t testing.TB, o ControlOptions) *Control {
	t.Helper()
	return startControl(t, o, func(c *Control) error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := healthpb.NewHealthClient(c.conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	})
}

// Pid is the process id, for reading /proc.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the process, for faults other than a clean stop:
// SIGTERM for a drain, SIGSTOP and SIGCONT for a frozen process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits until the process has ended.
func (p *Process) Wait() { <-p.done }
