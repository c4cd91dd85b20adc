// Command compat-env starts the servers one `make compat` run needs, on
// loopback and on free ports, writes their addresses to a file, and stops
// them all when it gets SIGINT or SIGTERM (or when -lifetime is up).
//
// It reuses keyway.dev/dataplane/redistest, the helpers every test uses,
// so a Redis started here looks like one started by a test: its own
// directory, no persistence, the same cluster setup.
//
// Configurations (-config):
//
//	direct             one redis-server
//	direct-cluster     one redis-server in cluster mode owning every slot
//	                   (what Redis's own CI runs the suite against in
//	                   --cluster-mode)
//	proxy              keyway-proxy --upstream in front of one redis-server
//	proxy-cluster-emu  keyway-proxy with cluster_emulation (3 virtual nodes)
//	                   in front of a 3-primary/3-replica Redis Cluster
//	proxy-cluster      keyway-proxy, ordinary listener, same cluster upstream
//	clients            all of the above at once, for the client scenarios
//
// The address file has KEY=VALUE lines: TARGET (the address to test),
// and for clients DIRECT, PROXY, CLUSTER_NODES, PROXY_EMU (comma
// separated virtual nodes) and PROXY_CLUSTER.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/proto/readyfile"
)

func main() {
	config := flag.String("config", "direct", "direct, direct-cluster, proxy, proxy-cluster-emu, proxy-cluster or clients")
	proxyBin := flag.String("proxy-bin", "bin/keyway-proxy", "keyway-proxy binary")
	dir := flag.String("dir", "", "working directory for servers and logs (required)")
	out := flag.String("out", "", "file the addresses are written to once everything is ready (required)")
	lifetime := flag.Duration("lifetime", 30*time.Minute, "stop everything after this long even without a signal")
	freePort := flag.Bool("free-port", false, "print a free port on 127.0.0.1 (as redistest picks them) and exit")
	flag.Parse()
	if *freePort {
		t := &tb{}
		defer func() {
			if r := recover(); r != nil {
				fmt.Fprintln(os.Stderr, "compat-env:", r)
				os.Exit(1)
			}
		}()
		fmt.Println(redistest.FreePort(t))
		return
	}
	if *dir == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "compat-env: -dir and -out are required")
		os.Exit(2)
	}
	abs, err := filepath.Abs(*dir)
	if err == nil {
		err = os.MkdirAll(abs, 0o755)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat-env:", err)
		os.Exit(1)
	}
	t := &tb{dir: abs}
	code := 0
	func() {
		defer func() {
			if r := recover(); r != nil {
				if f, ok := r.(fatal); ok {
					fmt.Fprintln(os.Stderr, "compat-env:", string(f))
				} else {
					fmt.Fprintf(os.Stderr, "compat-env: panic: %v\n%s", r, debug.Stack())
				}
				code = 1
			}
		}()
		env := &environment{t: t, proxyBin: *proxyBin, dir: abs}
		vars := env.start(*config)
		var b strings.Builder
		for _, kv := range vars {
			b.WriteString(kv[0] + "=" + kv[1] + "\n")
		}
		tmp := *out + ".tmp"
		if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
			t.Fatalf("write %s: %v", tmp, err)
		}
		if err := os.Rename(tmp, *out); err != nil {
			t.Fatalf("rename %s: %v", tmp, err)
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		select {
		case <-sig:
		case <-time.After(*lifetime):
			fmt.Fprintln(os.Stderr, "compat-env: lifetime is up, stopping")
		}
	}()
	t.cleanup()
	os.Exit(code)
}

type environment struct {
	t        *tb
	proxyBin string
	dir      string
	n        int
}

// start brings config up and returns the variables of the address file.
func (e *environment) start(config string) [][2]string {
	switch config {
	case "direct":
		return [][2]string{{"TARGET", e.redis().Addr}}
	case "direct-cluster":
		return [][2]string{{"TARGET", e.singleNodeCluster().Addr}}
	case "proxy":
		p := e.proxy("--upstream", e.redis().Addr)
		return [][2]string{{"TARGET", p[0]}}
	case "proxy-cluster-emu":
		cl := redistest.StartCluster(e.t, 3, 1)
		p := e.proxy(e.clusterPolicy(cl, true), 3)
		return [][2]string{{"TARGET", p[0]}, {"TARGETS", strings.Join(p, ",")}}
	case "proxy-cluster":
		cl := redistest.StartCluster(e.t, 3, 1)
		p := e.proxy(e.clusterPolicy(cl, false), 1)
		return [][2]string{{"TARGET", p[0]}}
	case "clients":
		direct := e.redis()
		proxy := e.proxy("--upstream", e.redis().Addr)
		cl := redistest.StartCluster(e.t, 3, 1)
		emu := e.proxy(e.clusterPolicy(cl, true), 3)
		plain := e.proxy(e.clusterPolicy(cl, false), 1)
		return [][2]string{
			{"DIRECT", direct.Addr},
			{"PROXY", proxy[0]},
			{"CLUSTER_NODES", strings.Join(cl.Seeds(), ",")},
			{"PROXY_EMU", strings.Join(emu, ",")},
			{"PROXY_CLUSTER", plain[0]},
		}
	}
	e.t.Fatalf("unknown -config %q", config)
	return nil
}

// redis starts one redis-server in a directory under -dir, which is also
// its working directory: the calling script finds leftovers by it should
// this process die without cleaning up.
func (e *environment) redis(config ...string) *redistest.Server {
	return redistest.Start(e.t, config...)
}

// singleNodeCluster is one cluster-mode redis-server that owns every slot.
func (e *environment) singleNodeCluster() *redistest.Server {
	s := e.redis("cluster-enabled yes", "cluster-config-file nodes.conf",
		"cluster-port "+redistest.NewPort)
	if got := s.Do("CLUSTER", "ADDSLOTSRANGE", "0", "16383"); got != "+OK" {
		e.t.Fatalf("cluster addslotsrange on %s: %s", s.Addr, got)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(s.Do("CLUSTER", "INFO"), "cluster_state:ok") {
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: cluster_state not ok after 30s", s.Addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return s
}

// clusterPolicy writes the policy of a proxy in front of cl and returns
// its path. Keyspace commands (KEYS, FLUSHALL, FLUSHDB) are allowed to fan
// out: the suite cleans up between tests with FLUSHALL, and a user who
// wants the proxy to be a drop-in allows them too; so are admin commands
// (SYNC, MONITOR, DEBUG, CONFIG mutations), which the suite uses as a
// client of one server would.
func (e *environment) clusterPolicy(cl *redistest.Cluster, emulation bool) string {
	quoted := make([]string, 0, len(cl.Seeds()))
	for _, s := range cl.Seeds() {
		quoted = append(quoted, strconv.Quote(s))
	}
	policy := fmt.Sprintf("cache = redis_cluster(\"cache\", seeds = [%s], refresh_interval = \"5s\", allow_keyspace_commands = True)\n"+
		"domain(\"default\", cache, allow_admin_commands = [\"*\"])\n", strings.Join(quoted, ", "))
	if emulation {
		policy += "listener(\"default\", domain = \"default\", cluster_emulation = True, virtual_nodes = 3)\n"
	}
	e.n++
	path := filepath.Join(e.dir, fmt.Sprintf("policy-%d.star", e.n))
	if err := os.WriteFile(path, []byte(policy), 0o644); err != nil {
		e.t.Fatalf("write policy: %v", err)
	}
	return path
}

// proxy starts keyway-proxy and waits until it is ready. With a policy
// path and nodes > 1, the listener has nodes addresses (--listen plus
// --cluster-listen). It returns the client addresses, --listen first.
func (e *environment) proxy(args ...any) []string {
	var flags []string
	nodes := 1
	switch {
	case len(args) == 2 && args[0] == "--upstream":
		flags = []string{"--upstream", args[1].(string)}
	case len(args) == 2:
		flags = []string{"--policy", args[0].(string)}
		nodes = args[1].(int)
	default:
		e.t.Fatalf("proxy: bad arguments %v", args)
	}
	e.n++
	name := fmt.Sprintf("proxy-%d", e.n)
	logPath := filepath.Join(e.dir, name+".log")
	ready := filepath.Join(e.dir, name+".ready")
	// Every port is the kernel's choice, read back from --ready-file, so
	// no other process can take one between a pick and the bind.
	argv := []string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--ready-file", ready, "--node-id", name,
		"--state-dir", filepath.Join(e.dir, name+".state"), "--log-level", "warn"}
	if nodes > 1 {
		argv = append(argv, "--cluster-listen", strings.TrimSuffix(strings.Repeat("127.0.0.1:0,", nodes-1), ","))
	}
	argv = append(argv, flags...)
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		e.t.Fatalf("open %s: %v", logPath, err)
	}
	fmt.Fprintf(logf, "--- %s %s\n", e.proxyBin, strings.Join(argv, " "))
	cmd := redistest.Command(e.proxyBin, argv...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start %s: %v", e.proxyBin, err)
	}
	// exited is closed, not sent on, so the waits below and stop can
	// all see the end.
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = logf.Close()
	}
	e.t.Cleanup(stop)
	bound, err := waitReadyFile(ready, exited)
	if errors.Is(err, errExited) {
		err = fmt.Errorf("%w: %v", err, waitErr)
	}
	if err != nil {
		e.t.Fatalf("keyway-proxy did not start (log %s): %v", logPath, err)
	}
	addrs := []string{bound["listen"]}
	if nodes > 1 {
		addrs = append(addrs, strings.Split(bound["cluster-listen"], ",")...)
	}
	if err := waitReady(bound["admin"], addrs, exited); err != nil {
		if errors.Is(err, errExited) {
			err = fmt.Errorf("%w: %v", err, waitErr)
		}
		e.t.Fatalf("keyway-proxy did not start (log %s): %v", logPath, err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		e.t.Fatalf("write pid: %v", err)
	}
	return addrs
}

// errExited is a wait cut short because the proxy ended.
var errExited = errors.New("keyway-proxy exited")

// waitReadyFile waits until the proxy has written its ready file and
// returns the bound addresses it names.
func waitReadyFile(path string, exited <-chan struct{}) (map[string]string, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		bound, err := readyfile.Read(path)
		if err == nil {
			return bound, nil
		}
		select {
		case <-exited:
			return nil, errExited
		default:
		}
		if !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitReady waits until the proxy's /readyz answers 200 and every client
// address accepts connections.
func waitReady(admin string, addrs []string, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	client := http.Client{Timeout: time.Second}
	for {
		select {
		case <-exited:
			return errExited
		default:
		}
		err := func() error {
			resp, err := client.Get("http://" + admin + "/readyz")
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return errors.New("/readyz: " + resp.Status)
			}
			for _, a := range addrs {
				c, err := net.DialTimeout("tcp", a, time.Second)
				if err != nil {
					return err
				}
				_ = c.Close()
			}
			return nil
		}()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after 30s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fatal is what tb.Fatalf panics with; main recovers it, stops what was
// started and exits 1.
type fatal string

// tb lets redistest, written for tests, run in this command. Only the
// methods redistest calls are implemented; the embedded nil TB makes any
// other call panic, which main reports.
type tb struct {
	testing.TB
	dir      string
	n        int
	cleanups []func()
}

func (t *tb) Helper()                 {}
func (t *tb) Logf(f string, a ...any) { fmt.Fprintf(os.Stderr, "compat-env: "+f+"\n", a...) }
func (t *tb) Fatalf(f string, a ...any) {
	panic(fatal(fmt.Sprintf(f, a...)))
}
func (t *tb) Fatal(a ...any)     { panic(fatal(fmt.Sprint(a...))) }
func (t *tb) Cleanup(f func())   { t.cleanups = append(t.cleanups, f) }
func (t *tb) Name() string       { return "compat-env" }
func (t *tb) Failed() bool       { return false }
func (t *tb) Setenv(k, v string) { _ = os.Setenv(k, v) }

// TempDir returns a new directory under -dir, kept after the run so
// server logs can be read.
func (t *tb) TempDir() string {
	t.n++
	d := filepath.Join(t.dir, fmt.Sprintf("redis-%d", t.n))
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatalf("mkdir %s: %v", d, err)
	}
	return d
}

// cleanup runs the registered cleanups, last first, as testing does.
func (t *tb) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		func() {
			defer func() { _ = recover() }()
			t.cleanups[i]()
		}()
	}
	t.cleanups = nil
}
