package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// rolloutPolicy is one version of the fleet's policy: connections named
// "a-…" are domain a, "b-…" domain b, "f-…" domain f. Domain b always
// writes to r1, domain f picks r1 or r2 by the flag "exp", and domain a
// writes to aAddr.
func rolloutPolicy(r1, r2, aAddr, note string) string {
	return fmt.Sprintf(`# %s
r1 = redis("r1", address = %q)
r2 = redis("r2", address = %q)
target = redis("target", address = %q)
domain("a", target)
domain("b", r1)
domain("f", flag("exp", on = r2, off = r1))
identity(default_domain = "b", client_names = {"a-": "a", "b-": "b", "f-": "f"})
`, note, r1, r2, aAddr)
}

// respConn is a raw RESP connection, so the test controls exactly when a
// connection is opened and what name it takes.
type respConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialNamed(addr, name string) (*respConn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	cn := &respConn{c: c, r: bufio.NewReader(c)}
	if reply, err := cn.do("CLIENT", "SETNAME", name); err != nil || reply != "+OK" {
		c.Close()
		return nil, fmt.Errorf("CLIENT SETNAME %s: %q %v", name, reply, err)
	}
	return cn, nil
}

// do sends one command and returns the first line of its reply.
func (cn *respConn) do(args ...string) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = cn.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := cn.c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	line, err := cn.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if strings.HasPrefix(line, "$") && line != "$-1" {
		if _, err := cn.r.ReadString('\n'); err != nil {
			return "", err
		}
	}
	return line, nil
}

func (cn *respConn) close() { _ = cn.c.Close() }

// domainLoad keeps n connections of a domain writing until stopped, counting
// replies and errors (an error reply or a broken connection).
type domainLoad struct {
	ok, errs atomic.Int64
	lastErr  atomic.Value
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startDomainLoad(t *testing.T, addr, domain string, n int) *domainLoad {
	t.Helper()
	l := &domainLoad{stop: make(chan struct{})}
	for i := range n {
		l.wg.Go(func() {
			name := fmt.Sprintf("%s-%d", domain, i)
			var cn *respConn
			defer func() {
				if cn != nil {
					cn.close()
				}
			}()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				var err error
				if cn == nil {
					if cn, err = dialNamed(addr, name); err != nil {
						l.fail(err)
						time.Sleep(20 * time.Millisecond)
						continue
					}
				}
				reply, err := cn.do("SET", "load:"+name, "x")
				switch {
				case err != nil:
					l.fail(err)
					cn.close()
					cn = nil
				case reply != "+OK":
					l.fail(fmt.Errorf("%s: %s", name, reply))
					time.Sleep(5 * time.Millisecond)
				default:
					l.ok.Add(1)
					time.Sleep(2 * time.Millisecond)
				}
			}
		})
	}
	t.Cleanup(l.halt)
	return l
}

func (l *domainLoad) fail(err error) {
	l.errs.Add(1)
	l.lastErr.Store(err.Error())
}

func (l *domainLoad) halt() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

func kw(t *testing.T, cp *harness.Control, args ...string) string {
	t.Helper()
	r := harness.CLI(t, cp.Addr, args...)
	if r.Code != 0 {
		t.Fatalf("keyway %v: exit %d\nstdout: %s\nstderr: %s", args, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

type rolloutState struct {
	ID      string `json:"id"`
	State   string `json:"state"`
	Step    uint32 `json:"step"`
	Percent uint32 `json:"percent"`
	Reason  string `json:"reason"`
	Pin     *struct {
		Version string `json:"version"`
	} `json:"pin"`
}

// startRollout starts a rollout and, should the subtest fail before it
// ends, aborts it so the next subtest starts from a finished domain.
func startRollout(t *testing.T, cp **harness.Control, args ...string) {
	t.Helper()
	kw(t, *cp, append([]string{"rollout", "start"}, args...)...)
	t.Cleanup(func() {
		if t.Failed() {
			harness.CLI(t, (*cp).Addr, "rollout", "abort", "--domain", "a", "--reason", "test failed")
		}
	})
}

func rolloutStatus(t *testing.T, cp *harness.Control, domain string) rolloutState {
	t.Helper()
	var s rolloutState
	out := kw(t, cp, "rollout", "status", "--domain", domain, "-o", "json")
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("rollout status: %v: %s", err, out)
	}
	return s
}

// waitState waits until domain's rollout is in state, failing early if it
// ends in another.
func waitState(t *testing.T, cp *harness.Control, domain, state string, limit time.Duration) rolloutState {
	t.Helper()
	var s rolloutState
	harness.Eventually(t, limit, "rollout of "+domain+" "+state, func() error {
		s = rolloutStatus(t, cp, domain)
		if s.State == state {
			return nil
		}
		if s.State == "completed" || s.State == "aborted" {
			t.Fatalf("rollout of %s ended %s, want %s: %s", domain, s.State, state, s.Reason)
		}
		return fmt.Errorf("%s at %d%% (step %d)", s.State, s.Percent, s.Step)
	})
	return s
}

// setWith writes key through a new connection named name and reports
// which of the redis servers holds it afterwards.
func setWith(t *testing.T, proxy, name, key string) error {
	t.Helper()
	cn, err := dialNamed(proxy, name)
	if err != nil {
		return err
	}
	defer cn.close()
	reply, err := cn.do("SET", key, "v")
	if err != nil {
		return err
	}
	if reply != "+OK" {
		return fmt.Errorf("SET %s as %s: %s", key, name, reply)
	}
	return nil
}

func exists(t *testing.T, r *redistest.Server, keys ...string) int {
	t.Helper()
	cn, err := dialNamed(r.Addr, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer cn.close()
	reply, err := cn.do(append([]string{"EXISTS"}, keys...)...)
	if err != nil || !strings.HasPrefix(reply, ":") {
		t.Fatalf("EXISTS on %s: %q %v", r.Addr, reply, err)
	}
	n, _ := strconv.Atoi(reply[1:])
	return n
}

func TestRolloutsAndFlags(t *testing.T) {
	outer := t // processes started inside subtests must outlive them
	r1, r2 := redistest.Start(t), redistest.Start(t)
	broken := redistest.DeadAddr(t) // nothing listens
	dataDir := t.TempDir()
	cp := harness.StartControl(t, "", dataDir)
	p := harness.StartProxy(t, "proxy-1", cp.Addr, "--telemetry-interval", "250ms")

	// v1 is active with a on r1; v2 (a on a closed port), v3 (a on r2) and
	// v4 (a on r1 again) are stored for rollouts only.
	for i, v := range []struct{ addr, note string }{
		{r1.Addr, "v1"}, {broken, "v2: a broken"}, {r2.Addr, "v3: a on r2"}, {r1.Addr, "v4: a back on r1"},
	} {
		dir := harness.WritePolicy(t, map[string]string{"main.star": rolloutPolicy(r1.Addr, r2.Addr, v.addr, v.note)})
		args := []string{"policy", "push", dir, "-m", v.note, "--author", "tester"}
		if i > 0 {
			args = append(args, "--no-activate")
		}
		kw(t, cp, args...)
	}
	waitApplied(t, cp, "v1", p)
	harness.Eventually(t, 10*time.Second, "domain a serves", func() error { return setWith(t, p.Addr, "a-probe", "probe:a") })

	bLoad := startDomainLoad(t, p.Addr, "b", 10)

	t.Run("a rollout to a broken version aborts by itself and b sees no errors", func(t *testing.T) {
		aLoad := startDomainLoad(t, p.Addr, "a", 20)
		startRollout(t, &cp, "--domain", "a", "--to", "v2", "--steps", "50,100", "--interval", "1s", "--max-error-rate", "0.05")
		// Half of a's connections now run v2's tree, which cannot reach
		// its upstream.
		harness.Eventually(t, 20*time.Second, "canary tree on the proxy", func() error {
			if aLoad.errs.Load() == 0 {
				return fmt.Errorf("no errors in domain a yet")
			}
			return nil
		})
		s := waitState(t, cp, "a", "aborted", 60*time.Second)
		harness.Contains(t, "abort reason", s.Reason, "guard breached", "canary error rate")
		aLoad.halt()
		// Back on stable: new connections of a write to r1 again.
		harness.Eventually(t, 10*time.Second, "a back on stable", func() error { return setWith(t, p.Addr, "a-after-abort", "after:abort") })
		if exists(t, r1, "after:abort") != 1 {
			t.Errorf("after the abort, domain a did not write to r1")
		}
		out := kw(t, cp, "rollout", "status", "--domain", "a")
		harness.Contains(t, "status", out, "state:     aborted", "guard breached")
	})

	t.Run("a rollout to a good version completes and becomes a's stable version", func(t *testing.T) {
		aLoad := startDomainLoad(t, p.Addr, "a", 20)
		defer aLoad.halt()
		startRollout(t, &cp, "--domain", "a", "--to", "v3", "--steps", "50,100", "--interval", "1s")
		s := waitState(t, cp, "a", "completed", 60*time.Second)
		if s.Pin == nil || s.Pin.Version != "v3" {
			t.Fatalf("completed rollout left pin %+v, want v3", s.Pin)
		}
		harness.Eventually(t, 10*time.Second, "a on v3", func() error {
			if err := setWith(t, p.Addr, "a-after-complete", "after:complete"); err != nil {
				return err
			}
			if exists(t, r2, "after:complete") != 1 {
				return fmt.Errorf("domain a still writes elsewhere than r2")
			}
			return nil
		})
		// The fleet's active version did not move, and b still writes to r1.
		waitApplied(t, cp, "v1", p)
		if err := setWith(t, p.Addr, "b-check", "b:after"); err != nil || exists(t, r1, "b:after") != 1 {
			t.Errorf("domain b moved: %v", err)
		}
	})

	t.Run("a control-plane restart mid-rollout continues the rollout", func(t *testing.T) {
		aLoad := startDomainLoad(t, p.Addr, "a", 20)
		defer aLoad.halt()
		startRollout(t, &cp, "--domain", "a", "--to", "v4", "--steps", "20,40,60,80,100", "--interval", "1s")
		var before rolloutState
		harness.Eventually(t, 60*time.Second, "rollout past its first step", func() error {
			before = rolloutStatus(t, cp, "a")
			if before.State != "running" || before.Step < 2 {
				return fmt.Errorf("%s at step %d", before.State, before.Step)
			}
			return nil
		})
		cp.Stop()
		cp = harness.StartControl(outer, cp.Addr, dataDir)
		after := rolloutStatus(t, cp, "a")
		if after.ID != before.ID || after.Step < before.Step {
			t.Fatalf("after the restart: %+v, before: %+v", after, before)
		}
		s := waitState(t, cp, "a", "completed", 90*time.Second)
		if s.Pin == nil || s.Pin.Version != "v4" {
			t.Errorf("pin %+v, want v4", s.Pin)
		}
		audit := kw(t, cp, "audit", "--limit", "200")
		harness.Contains(t, "audit", audit, "rollout.complete", before.ID)
	})

	bLoad.halt()
	if n := bLoad.errs.Load(); n != 0 || bLoad.ok.Load() == 0 {
		t.Errorf("domain b: %d errors (last %v), %d successes; want no errors", n, bLoad.lastErr.Load(), bLoad.ok.Load())
	}

	t.Run("a flag at 30% sends a binomial share of connections to on", func(t *testing.T) {
		before := appliedFlag(t, cp, p)
		kw(t, cp, "flag", "set", "exp", "--domain", "f", "--percent", "30")
		harness.Eventually(t, 10*time.Second, "flag applied", func() error {
			if appliedFlag(t, cp, p) == before {
				return fmt.Errorf("proxy has not applied the flag")
			}
			return nil
		})
		// Each connection takes the on branch independently with p = 0.3
		// (a uniform hash of its id), so the count of n = 400 connections
		// on r2 is Binomial(400, 0.3): mean 120, standard deviation
		// sqrt(400*0.3*0.7) ≈ 9.2. Three standard deviations (±27) make a
		// false failure about 1 in 370.
		const n = 400
		keys := make([]string, n)
		for i := range n {
			keys[i] = fmt.Sprintf("flag:%d", i)
			if err := setWith(t, p.Addr, fmt.Sprintf("f-%d", i), keys[i]); err != nil {
				t.Fatal(err)
			}
		}
		on, off := exists(t, r2, keys...), exists(t, r1, keys...)
		if on+off != n {
			t.Fatalf("%d keys on r2 and %d on r1, want %d in all", on, off, n)
		}
		if on < 120-27 || on > 120+27 {
			t.Errorf("%d of %d connections took the on branch, want 120 ± 27", on, n)
		}
		out := kw(t, cp, "flag", "list", "--domain", "f")
		harness.Contains(t, "flag list", out, "exp", "30%")
	})
}

// appliedFlag is the Flag version the proxy last applied.
func appliedFlag(t *testing.T, cp *harness.Control, p *harness.Proxy) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := cp.Fleet().ListNodes(ctx, &keywayv1.ListNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, node := range resp.GetNodes() {
		if node.GetId() == p.NodeID {
			return node.GetApplied()["Flag"]
		}
	}
	return ""
}
