//go:build chaos

package chaos

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// system is one Keyway deployment under test: a control plane with its
// embedded etcd, one proxy subscribed to it, and the Redis it fronts.
type system struct {
	t     testing.TB
	redis *redistest.Server
	cp    *harness.Control
	proxy *harness.Proxy
	// versions pushed so far by name ("v1", ...), for activation.
	versions map[string]uint64
}

// policy is the scenarios' policy: one Redis behind the default domain,
// with a per-request deadline of 1 s. connections varies it, so that two
// versions differ in what they render.
func policy(addr string, connections int) string {
	return fmt.Sprintf("a = redis(\"a\", address = %q, pool = pool(connections = %d, timeout = \"1s\"))\ndomain(\"default\", a)\n", addr, connections)
}

// lockedPolicy renders but no proxy can build it: its Redis password
// comes from an environment variable no proxy has (issue 18's repro).
func lockedPolicy(addr string) string {
	return fmt.Sprintf(`
a = redis("a", address = %q, pool = pool(timeout = "1s"))
locked = redis("locked", address = %q, credentials = credentials(password = env("KEYWAY_CHAOS_UNSET")))
domain("default", a)
domain("web", locked)
identity(default_domain = "web")
`, addr, addr)
}

// startSystem starts Redis (persisting every write, so a killed Redis
// restarts with what it acknowledged), a control plane and a proxy
// running policy v1.
func startSystem(t testing.TB) *system {
	t.Helper()
	s := &system{t: t, versions: map[string]uint64{}}
	s.redis = redistest.Start(t, "appendonly yes", "appendfsync always")
	s.cp = harness.StartControl(t, "", "")
	s.proxy = harness.StartProxy(t, "chaos-proxy", s.cp.Addr, "--drain-timeout", "10s")
	s.push("v1", policy(s.redis.Addr, 4), true)
	s.waitRunning("v1")
	return s
}

// push stores a version and, when activate, makes it active.
func (s *system) push(name, source string, activate bool) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := s.cp.Policies().Push(ctx, &keywayv1.PushRequest{
		Bundle:     &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(source)}},
		Message:    "chaos " + name,
		Author:     "chaos",
		Force:      true,
		NoActivate: !activate,
	})
	if err != nil {
		s.t.Fatalf("push %s: %v", name, err)
	}
	s.versions[name] = resp.GetVersion().GetVersion()
}

// activate makes a stored version active.
func (s *system) activate(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := s.cp.Policies().Activate(ctx, &keywayv1.ActivateRequest{Version: s.versions[name], Author: "chaos", Reason: "reload storm"})
	return err
}

// waitRunning waits until the proxy's own /metrics report the version
// named name.
func (s *system) waitRunning(name string) time.Duration {
	s.t.Helper()
	start := time.Now()
	want := fmt.Sprintf("v%d", s.versions[name])
	harness.Eventually(s.t, 60*time.Second, "proxy runs "+want, func() error {
		got, err := policyInfo(s.proxy)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("proxy runs %q", got)
		}
		return nil
	})
	return time.Since(start)
}

var policyInfoRE = regexp.MustCompile(`(?m)^keyway_policy_info\{[^}]*version="([^"]*)"[^}]*\} 1$`)

func policyInfo(p *harness.Proxy) (string, error) {
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + p.Admin + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	m := policyInfoRE.FindStringSubmatch(b.String())
	if m == nil {
		return "", fmt.Errorf("no keyway_policy_info in /metrics")
	}
	return m[1], nil
}

// restartControl SIGKILLs nothing: it starts the control plane again on
// its address and data directory after a Kill.
func (s *system) restartControl() {
	s.t.Helper()
	s.cp = harness.StartControl(s.t, s.cp.Addr, s.cp.DataDir)
}

// recovery polls a SET and GET through the proxy until both succeed and
// returns how long that took.
func recovery(t testing.TB, addr string) time.Duration {
	t.Helper()
	d, err := recoveryErr(addr)
	if err != nil {
		t.Fatalf("proxy does not serve again: %v", err)
	}
	return d
}

// recoveryErr is recovery for callers that go on after a failure; it
// gives up after a minute.
func recoveryErr(addr string) (time.Duration, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
	defer c.Close()
	start := time.Now()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := c.Set(ctx, "chaos:probe", "1", 0).Err()
		if err == nil {
			err = c.Get(ctx, "chaos:probe").Err()
		}
		cancel()
		if err == nil {
			return time.Since(start), nil
		}
		if time.Since(start) > time.Minute {
			return 0, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rss is a process's resident set in MiB, from /proc.
func rss(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// direct is a client of the Redis behind the proxy, for reading back.
func direct(t testing.TB, addr string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: 3})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// fleetNack is the last NACK the control plane recorded for the proxy.
func fleetNack(s *system) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := s.cp.Fleet().ListNodes(ctx, &keywayv1.ListNodesRequest{})
	if err != nil {
		return "", err
	}
	for _, n := range resp.GetNodes() {
		if n.GetId() == s.proxy.NodeID {
			return n.GetLastNack().GetError(), nil
		}
	}
	return "", fmt.Errorf("proxy %s not in the fleet", s.proxy.NodeID)
}
