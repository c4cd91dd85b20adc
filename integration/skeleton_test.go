package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// policyV1 sends session keys to b and everything else to a.
func policyV1(a, b string) string {
	return fmt.Sprintf(`
a = redis("a", address = %q)
b = redis("b", address = %q)
domain("default", route(routes = {"session:": b}, default = a))
`, a, b)
}

// policyV2 also sends user keys to b.
func policyV2(a, b string) string {
	return fmt.Sprintf(`
a = redis("a", address = %q)
b = redis("b", address = %q)
domain("default", route(routes = {"session:": b, "user:": b}, default = a))
`, a, b)
}

// policyUnappliable renders but names a CA bundle no proxy host has, so
// every proxy must refuse it.
func policyUnappliable(a, b string) string {
	return fmt.Sprintf(`
a = redis("a", address = %q)
b = redis("b", address = %q, tls = tls(ca_file = "/nonexistent/keyway-test-ca.pem"))
domain("default", route(routes = {"session:": b, "user:": b}, default = a))
`, a, b)
}

func client(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func push(t *testing.T, cp *harness.Control, dir, msg string, extra ...string) harness.CLIResult {
	t.Helper()
	args := append([]string{"policy", "push", dir, "-m", msg}, extra...)
	return harness.CLI(t, cp.Addr, args...)
}

func mustPush(t *testing.T, cp *harness.Control, dir, msg string) {
	t.Helper()
	if r := push(t, cp, dir, msg); r.Code != 0 {
		t.Fatalf("push %q: exit %d\nstdout: %s\nstderr: %s", msg, r.Code, r.Stdout, r.Stderr)
	}
}

// waitApplied waits until every proxy reports policy version v to the
// control plane and answers through it.
func waitApplied(t *testing.T, cp *harness.Control, v string, proxies ...*harness.Proxy) {
	t.Helper()
	harness.Eventually(t, 30*time.Second, "fleet on "+v, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		resp, err := cp.Fleet().ListNodes(ctx, &keywayv1.ListNodesRequest{})
		if err != nil {
			return err
		}
		for _, p := range proxies {
			var found *keywayv1.Node
			for _, n := range resp.GetNodes() {
				if n.GetId() == p.NodeID {
					found = n
				}
			}
			if found == nil {
				return fmt.Errorf("node %s not in fleet", p.NodeID)
			}
			if found.GetPolicyVersion() != v {
				return fmt.Errorf("node %s runs %q", p.NodeID, found.GetPolicyVersion())
			}
		}
		return nil
	})
}

func TestSkeletonEndToEnd(t *testing.T) {
	outer := t // processes started inside subtests must outlive them
	ctx := context.Background()
	ra, rb := redistest.Start(t), redistest.Start(t)
	cp := harness.StartControl(t, "", "")
	p1 := harness.StartProxy(t, "proxy-1", cp.Addr)
	p2 := harness.StartProxy(t, "proxy-2", cp.Addr)
	c1, c2 := client(t, p1.Addr), client(t, p2.Addr)

	v1 := harness.WritePolicy(t, map[string]string{"main.star": policyV1(ra.Addr, rb.Addr)})
	v2 := harness.WritePolicy(t, map[string]string{"main.star": policyV2(ra.Addr, rb.Addr)})

	// Before any policy, the proxy says so instead of guessing.
	if err := c1.Get(ctx, "x").Err(); err == nil || !strings.Contains(err.Error(), "TRYAGAIN") {
		t.Fatalf("GET before any policy: %v, want a TRYAGAIN error", err)
	}
	if p1.Ready() == nil {
		t.Fatal("proxy ready before any policy was applied")
	}

	mustPush(t, cp, v1, "v1: sessions on b")
	waitApplied(t, cp, "v1", p1, p2)
	nodes, err := cp.Fleet().ListNodes(ctx, &keywayv1.ListNodesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes.GetNodes() {
		want := map[string]string{p1.NodeID: p1.Addr, p2.NodeID: p2.Addr}[n.GetId()]
		if len(n.GetListeners()) == 0 || n.GetListeners()[0] != want {
			t.Errorf("fleet shows %s listening on %v, want %s", n.GetId(), n.GetListeners(), want)
		}
	}
	harness.Eventually(t, 10*time.Second, "proxy ready", p1.Ready)

	t.Run("keys route to the right redis", func(t *testing.T) {
		for _, c := range []*redis.Client{c1, c2} {
			if err := c.Set(ctx, "session:1", "s", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.Set(ctx, "user:1", "u", 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if got := rb.Do("GET", "session:1"); got != "s" {
			t.Fatalf("session:1 on b = %q", got)
		}
		if got := ra.Do("EXISTS", "session:1"); got != ":0" {
			t.Fatalf("session:1 leaked to a: EXISTS = %q", got)
		}
		if got := ra.Do("GET", "user:1"); got != "u" {
			t.Fatalf("user:1 on a = %q", got)
		}
		if got, err := c2.Get(ctx, "session:1").Result(); err != nil || got != "s" {
			t.Fatalf("GET session:1 through proxy-2 = %q, %v", got, err)
		}
	})

	t.Run("v2 pushed under load with zero client errors", func(t *testing.T) {
		var errs, ops atomic.Int64
		var firstErr atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for i, c := range []*redis.Client{c1, c2, c1, c2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					key := fmt.Sprintf("load:%d:%d", i, n%100)
					if err := c.Set(ctx, key, n, 0).Err(); err != nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					if err := c.Get(ctx, key).Err(); err != nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
					ops.Add(2)
				}
			}()
		}
		harness.Eventually(t, 10*time.Second, "load running", func() error {
			if ops.Load() < 200 {
				return fmt.Errorf("%d ops so far", ops.Load())
			}
			return nil
		})
		mustPush(t, cp, v2, "v2: users on b too")
		waitApplied(t, cp, "v2", p1, p2)
		before := ops.Load()
		harness.Eventually(t, 10*time.Second, "load after v2", func() error {
			if ops.Load() < before+200 {
				return fmt.Errorf("%d ops since v2", ops.Load()-before)
			}
			return nil
		})
		close(stop)
		wg.Wait()
		if n := errs.Load(); n != 0 {
			t.Fatalf("%d client errors during the v2 push (first: %v) in %d ops", n, firstErr.Load(), ops.Load())
		}
		if err := c1.Set(ctx, "user:2", "v2", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got := rb.Do("GET", "user:2"); got != "v2" {
			t.Fatalf("after v2, user:2 on b = %q", got)
		}
	})

	t.Run("an unappliable snapshot is NACKed and the proxies keep serving", func(t *testing.T) {
		bad := harness.WritePolicy(t, map[string]string{"main.star": policyUnappliable(ra.Addr, rb.Addr)})
		mustPush(t, cp, bad, "v3: needs a CA no proxy has")
		harness.Eventually(t, 30*time.Second, "NACK reported", func() error {
			r := harness.CLI(t, cp.Addr, "fleet", "-o", "json")
			if r.Code != 0 {
				return fmt.Errorf("fleet: exit %d: %s", r.Code, r.Stderr)
			}
			for _, id := range []string{p1.NodeID, p2.NodeID} {
				if !strings.Contains(r.Stdout, id) {
					return fmt.Errorf("fleet output lacks %s", id)
				}
			}
			if strings.Count(r.Stdout, "keyway-test-ca.pem") < 2 {
				return fmt.Errorf("fleet does not show the NACK reason for both nodes: %s", r.Stdout)
			}
			return nil
		})
		human := harness.CLI(t, cp.Addr, "fleet")
		harness.Contains(t, "keyway fleet", human.Stdout, p1.NodeID, p2.NodeID, "v3")
		// Still serving v2's routing.
		if err := c2.Set(ctx, "user:3", "still-v2", 0).Err(); err != nil {
			t.Fatalf("proxy stopped serving after a NACK: %v", err)
		}
		if got := rb.Do("GET", "user:3"); got != "still-v2" {
			t.Fatalf("user:3 on b = %q, want v2 routing", got)
		}
		ctxT, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		nodes, err := cp.Fleet().ListNodes(ctxT, &keywayv1.ListNodesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes.GetNodes() {
			if n.GetPolicyVersion() != "v2" {
				t.Errorf("node %s runs %q after the NACK, want v2", n.GetId(), n.GetPolicyVersion())
			}
			if !strings.Contains(n.GetLastNack().GetError(), "keyway-test-ca.pem") {
				t.Errorf("node %s last NACK = %q", n.GetId(), n.GetLastNack().GetError())
			}
		}
	})

	t.Run("a Starlark error is refused with its position and nothing is stored", func(t *testing.T) {
		before := history(t, cp)
		broken := harness.WritePolicy(t, map[string]string{"main.star": "a = redis(\"a\", address = \"127.0.0.1:1\")\ndomain(\"default\", route(routes = {\"x:\": a}, default = a)\n"})
		r := push(t, cp, broken, "broken")
		if r.Code == 0 {
			t.Fatalf("push of a broken policy succeeded: %s", r.Stdout)
		}
		if !regexp.MustCompile(`main\.star:\d+:\d+`).MatchString(r.Stderr) {
			t.Fatalf("error lacks file:line:col: %q", r.Stderr)
		}
		if after := history(t, cp); after != before {
			t.Fatalf("history changed from %d to %d versions", before, after)
		}
	})

	t.Run("two pushes racing on the same parent: one wins", func(t *testing.T) {
		head := headVersion(t, cp)
		var wg sync.WaitGroup
		results := make([]harness.CLIResult, 2)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Each racer pushes a bundle of its own: a bundle identical
				// to the head would be "no change", not a race.
				dir := harness.WritePolicy(t, map[string]string{"main.star": policyV2(ra.Addr, rb.Addr) + fmt.Sprintf("# racer %d\n", i)})
				results[i] = push(t, cp, dir, fmt.Sprintf("racer %d", i), "--parent", fmt.Sprint(head))
			}()
		}
		wg.Wait()
		wins, conflicts := 0, 0
		for _, r := range results {
			switch {
			case r.Code == 0:
				wins++
			case strings.Contains(strings.ToLower(r.Stderr), "conflict"):
				conflicts++
			default:
				t.Fatalf("racing push failed for another reason: exit %d: %s", r.Code, r.Stderr)
			}
		}
		if wins != 1 || conflicts != 1 {
			t.Fatalf("wins=%d conflicts=%d, want 1 and 1: %+v", wins, conflicts, results)
		}
		if got := headVersion(t, cp); got != head+1 {
			t.Fatalf("head = %d, want %d", got, head+1)
		}
	})

	t.Run("control plane down: proxies serve; back: they reconnect", func(t *testing.T) {
		addr, data := cp.Addr, cp.DataDir
		cp.Stop()
		for i := 0; i < 50; i++ {
			if err := c1.Set(ctx, fmt.Sprintf("user:down:%d", i), "x", 0).Err(); err != nil {
				t.Fatalf("proxy-1 failed while the control plane was down: %v", err)
			}
			if err := c2.Get(ctx, "session:1").Err(); err != nil {
				t.Fatalf("proxy-2 failed while the control plane was down: %v", err)
			}
		}
		cp2 := harness.StartControl(outer, addr, data)
		*cp = *cp2
		v4 := harness.WritePolicy(t, map[string]string{"main.star": policyV1(rb.Addr, ra.Addr)}) // swap a and b
		mustPush(t, cp, v4, "after restart: swap")
		want := fmt.Sprintf("v%d", headVersion(t, cp))
		waitApplied(t, cp, want, p1, p2)
		if err := c1.Set(ctx, "plain:after-restart", "1", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got := rb.Do("GET", "plain:after-restart"); got != "1" {
			t.Fatalf("after the swap, plain keys on b = %q", got)
		}
	})

	t.Run("rollback to v1 works end to end", func(t *testing.T) {
		r := harness.CLI(t, cp.Addr, "policy", "rollback", "v1", "--reason", "v1 restored")
		if r.Code != 0 {
			t.Fatalf("rollback: exit %d: %s", r.Code, r.Stderr)
		}
		waitApplied(t, cp, "v1", p1, p2)
		if err := c2.Set(ctx, "user:rolled", "back", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if got := ra.Do("GET", "user:rolled"); got != "back" {
			t.Fatalf("after rollback, user keys on a = %q", got)
		}
		h := harness.CLI(t, cp.Addr, "policy", "history", "-o", "json")
		if h.Code != 0 {
			t.Fatalf("history: %s", h.Stderr)
		}
		if !json.Valid([]byte(h.Stdout)) {
			t.Fatalf("history -o json is not JSON: %s", h.Stdout)
		}
		harness.Contains(t, "history -o json", h.Stdout, "v1: sessions on b", "after restart: swap")
	})
}

func history(t *testing.T, cp *harness.Control) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cp.Policies().ListVersions(ctx, &keywayv1.ListVersionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return len(resp.GetVersions())
}

func headVersion(t *testing.T, cp *harness.Control) uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cp.Policies().ListVersions(ctx, &keywayv1.ListVersionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetHead()
}
