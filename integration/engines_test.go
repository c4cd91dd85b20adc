package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
)

// engineMetric sums the samples of family (keyway_engine_events_total or
// keyway_engine_state) for one engine, by kind and label, and one event
// or name; -1 when the proxy exports none.
func engineMetric(fams map[string]*dto.MetricFamily, family, kind, label, name string) float64 {
	key := "event"
	if family == "keyway_engine_state" {
		key = "name"
	}
	sum, found := 0.0, false
	for _, m := range fams[family].GetMetric() {
		l := labels(m)
		if l["kind"] != kind || l["label"] != label || l[key] != name {
			continue
		}
		found = true
		if c := m.GetCounter(); c != nil {
			sum += c.GetValue()
		} else {
			sum += m.GetGauge().GetValue()
		}
	}
	if !found {
		return -1
	}
	return sum
}

// TestMirrorThroughProxy: every write answered by the primary is copied
// to the shadow; once the shadow is killed, clients see no difference and
// the lost copies are counted on /metrics.
func TestMirrorThroughProxy(t *testing.T) {
	ctx := context.Background()
	primary, shadow := redistest.Start(t), redistest.Start(t)
	p := startPolicyProxy(t, "mirror", fmt.Sprintf(`
a = redis("a", %q)
b = redis("b", %q)
domain("default", mirror(a, b, sample = 1.0, queue = 64, label = "warm"))
`, primary.Addr, shadow.Addr))
	c := client(t, p.Addr)

	const n = 50
	write := func(t *testing.T, phase string) {
		t.Helper()
		for i := range n {
			k, v := fmt.Sprintf("%s:%d", phase, i), fmt.Sprintf("value-%s-%d", phase, i)
			if got, err := c.Set(ctx, k, v, 0).Result(); err != nil || got != "OK" {
				t.Fatalf("SET %s through the proxy = %q, %v; want OK", k, got, err)
			}
			if got, err := c.Get(ctx, k).Result(); err != nil || got != v {
				t.Fatalf("GET %s through the proxy = %q, %v; want %q", k, got, err, v)
			}
			if got := primary.Do("GET", k); got != v {
				t.Fatalf("primary holds %s = %q, want %q", k, got, v)
			}
		}
	}

	write(t, "before")
	harness.Eventually(t, 30*time.Second, "every write copied to the shadow", func() error {
		for i := range n {
			k := fmt.Sprintf("before:%d", i)
			if got, want := shadow.Do("GET", k), fmt.Sprintf("value-before-%d", i); got != want {
				return fmt.Errorf("shadow holds %s = %q, want %q", k, got, want)
			}
		}
		return nil
	})
	fams := scrape(t, p)
	if got := engineMetric(fams, "keyway_engine_events_total", "mirror", "warm", "mirrored"); got < 2*n {
		t.Errorf("mirrored = %v, want at least %d (a SET and a GET per key)", got, 2*n)
	}
	if got := engineMetric(fams, "keyway_engine_events_total", "mirror", "warm", "shadow_errors"); got != 0 {
		t.Errorf("shadow_errors = %v with a healthy shadow, want 0", got)
	}
	if got := engineMetric(fams, "keyway_engine_events_total", "mirror", "warm", "dropped"); got < 0 {
		t.Errorf("dropped is not exported before anything was dropped")
	}

	shadow.Kill()
	write(t, "after") // fails the test on any client error or wrong reply
	harness.Eventually(t, 30*time.Second, "lost shadow copies counted", func() error {
		fams := scrape(t, p)
		lost := engineMetric(fams, "keyway_engine_events_total", "mirror", "warm", "shadow_errors") +
			engineMetric(fams, "keyway_engine_events_total", "mirror", "warm", "dropped")
		if lost <= 0 {
			return fmt.Errorf("shadow_errors + dropped = %v after killing the shadow", lost)
		}
		t.Logf("after the kill: shadow_errors %v, dropped %v",
			engineMetric(fams, "keyway_engine_events_total", "mirror", "warm", "shadow_errors"),
			engineMetric(fams, "keyway_engine_events_total", "mirror", "warm", "dropped"))
		return nil
	})
}

// TestFailoverThroughProxy kills the first child mid-loop: reads move on
// to the second, its breaker opens and stays open, no read fails after
// that, and writes, which the open breaker keeps from ever reaching the
// dead child, land on the second.
func TestFailoverThroughProxy(t *testing.T) {
	ctx := context.Background()
	first, second := redistest.Start(t), redistest.Start(t)
	const n = 20
	for i := range n {
		k := fmt.Sprintf("k:%d", i)
		first.Do("SET", k, "first")
		second.Do("SET", k, "second")
	}
	p := startPolicyProxy(t, "failover", fmt.Sprintf(`
a = redis("a", %q)
b = redis("b", %q)
domain("default", failover([a, b], failure_threshold = 1, cooldown = "1h", label = "ha"))
`, first.Addr, second.Addr))
	c := client(t, p.Addr)
	// read GETs a key and checks which child answered; during the kill
	// either may.
	read := func(i int, from ...string) error {
		k := fmt.Sprintf("k:%d", i%n)
		got, err := c.Get(ctx, k).Result()
		if err != nil {
			return fmt.Errorf("GET %s: %w", k, err)
		}
		for _, f := range from {
			if got == f {
				return nil
			}
		}
		return fmt.Errorf("GET %s = %q, want one of %q", k, got, from)
	}

	for i := range n {
		if err := read(i, "first"); err != nil {
			t.Fatalf("before the kill: %v", err)
		}
	}
	if got := scrape(t, p); engineMetric(got, "keyway_engine_state", "failover", "ha", "children[0].breaker_state") != 0 {
		t.Fatalf("breaker of children[0] is not closed while it is healthy")
	}
	first.Kill()

	// Reads go on; whatever happened in the moment of the kill, they must
	// all succeed once the breaker is open.
	var early []error
	open := false
	for i := 0; !open; i++ {
		if i > 10000 {
			t.Fatalf("the breaker of children[0] never opened; errors: %v", early)
		}
		if err := read(i, "first", "second"); err != nil {
			early = append(early, err)
		}
		open = engineMetric(scrape(t, p), "keyway_engine_state", "failover", "ha", "children[0].breaker_state") == 1
	}
	if len(early) > 0 {
		t.Logf("read errors while the breaker was closing: %v", early)
	}
	for i := range 5 * n {
		if err := read(i, "second"); err != nil {
			t.Fatalf("with the breaker open: %v", err)
		}
	}
	for i := range n {
		k := fmt.Sprintf("new:%d", i)
		if got, err := c.Set(ctx, k, "w", 0).Result(); err != nil || got != "OK" {
			t.Fatalf("SET %s with the first child dead = %q, %v; want OK", k, got, err)
		}
		if got := second.Do("GET", k); got != "w" {
			t.Fatalf("second child holds %s = %q, want the write", k, got)
		}
	}

	fams := scrape(t, p)
	for _, tc := range []struct {
		family, name string
		check        func(float64) bool
		want         string
	}{
		{"keyway_engine_events_total", "children[0].breaker_opened", func(v float64) bool { return v == 1 }, "1"},
		{"keyway_engine_events_total", "retried", func(v float64) bool { return v >= 1 }, ">= 1"},
		{"keyway_engine_events_total", "all_open", func(v float64) bool { return v == 0 }, "0"},
		{"keyway_engine_state", "children[0].breaker_state", func(v float64) bool { return v == 1 }, "1 (open)"},
		{"keyway_engine_state", "children[1].breaker_state", func(v float64) bool { return v == 0 }, "0 (closed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := engineMetric(fams, tc.family, "failover", "ha", tc.name); !tc.check(got) {
				t.Errorf("%s{%s} = %v, want %s", tc.family, tc.name, got, tc.want)
			}
		})
	}
}

// TestGuardThroughProxy runs the same guard in enforce mode (domain web)
// and audit mode (domain audit, by client name): web gets the documented
// refusals and Redis never sees those commands; audit passes them all and
// counts what it would have refused.
func TestGuardThroughProxy(t *testing.T) {
	ctx := context.Background()
	r := redistest.Start(t)
	r.Do("SET", "other:1", "theirs")
	p := startPolicyProxy(t, "guard", fmt.Sprintf(`
main = redis("main", %q)
def guarded(audit, label):
    return guard(main, deny_commands = ["KEYS"], key_prefixes = ["web:"], max_value_bytes = 16, audit = audit, label = label)
domain("web", guarded(False, "enforce"))
domain("audit", guarded(True, "audit"))
identity(default_domain = "web", client_names = {"audit-": "audit"})
`, r.Addr))
	clients := map[string]*redis.Client{
		"web":   namedClient(t, p.Addr, "web-app"),
		"audit": namedClient(t, p.Addr, "audit-app"),
	}
	big := strings.Repeat("x", 17)
	tests := []struct {
		name, domain string
		args         []any
		want         string // the reply, printed by go-redis
		wantErr      string // or the error it must be
		rule         string
	}{
		{name: "own prefix", domain: "web", args: []any{"SET", "web:1", "v"}, want: "OK"},
		{name: "other prefix", domain: "web", args: []any{"GET", "other:1"}, rule: "key_prefixes",
			wantErr: `ERR keyway: key "other:1" is outside this domain's key prefixes (web:)`},
		{name: "deny list", domain: "web", args: []any{"KEYS", "*"}, rule: "deny_commands",
			wantErr: `ERR keyway: command KEYS is in domain "web"'s deny_commands`},
		{name: "max value bytes", domain: "web", args: []any{"SET", "web:big", big}, rule: "max_value_bytes",
			wantErr: "ERR keyway: SET argument 2 is 17 bytes, over this domain's max_value_bytes of 16"},
		{name: "audit other prefix", domain: "audit", args: []any{"GET", "other:1"}, want: "theirs", rule: "key_prefixes"},
		{name: "audit deny list", domain: "audit", args: []any{"KEYS", "other:*"}, want: "[other:1]", rule: "deny_commands"},
		{name: "audit max value bytes", domain: "audit", args: []any{"SET", "web:audit-big", big}, want: "OK", rule: "max_value_bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := clients[tc.domain].Do(ctx, tc.args...).Result()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("%v = %v, %v; want error %q", tc.args, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != tc.want {
				t.Fatalf("%v = %v, %v; want %s", tc.args, got, err, tc.want)
			}
		})
	}
	if got := r.Do("EXISTS", "web:big"); got != ":0" {
		t.Errorf("a refused SET reached Redis: EXISTS web:big = %s", got)
	}
	if got := r.Do("GET", "web:audit-big"); got != big {
		t.Errorf("audit mode kept a SET from Redis: GET web:audit-big = %q", got)
	}

	fams := scrape(t, p)
	for _, tc := range tests {
		if tc.rule == "" {
			continue
		}
		label, event := "enforce", "refused_"+tc.rule
		if tc.domain == "audit" {
			label, event = "audit", "audited_"+tc.rule
		}
		if got := engineMetric(fams, "keyway_engine_events_total", "guard", label, event); got != 1 {
			t.Errorf("%s{label=%q} = %v, want 1", event, label, got)
		}
	}
	if got := engineMetric(fams, "keyway_engine_events_total", "guard", "enforce", "refused_max_keys"); got != -1 {
		t.Errorf("refused_max_keys exported (%v) for a guard without max_keys", got)
	}
}

// TestRateLimitThroughProxy: a bucket of three operations refilled once
// every ten seconds. The first three commands pass, a later one gets the
// documented refusal, and /metrics agrees with what the client saw.
func TestRateLimitThroughProxy(t *testing.T) {
	ctx := context.Background()
	r := redistest.Start(t)
	p := startPolicyProxy(t, "ratelimit", fmt.Sprintf(`
main = redis("main", %q)
domain("default", ratelimit(main, ops_per_second = 0.1, burst_seconds = 30, mode = "refuse", label = "tight"))
`, r.Addr))
	c := client(t, p.Addr)
	const refusal = `ERR keyway: rate limit of 0.1 ops/s for domain "default" exceeded`
	var passed, refused int
	for i := range 10 {
		err := c.Set(ctx, fmt.Sprintf("k:%d", i), "v", 0).Err()
		switch {
		case err == nil:
			passed++
		case err.Error() == refusal:
			refused++
		default:
			t.Fatalf("SET %d: %v, want OK or %q", i, err, refusal)
		}
		if i < 3 && err != nil {
			t.Fatalf("SET %d within the burst of 3 refused: %v", i, err)
		}
	}
	if refused == 0 {
		t.Fatalf("10 commands against a 3-command bucket: none refused")
	}
	if got := r.Do("DBSIZE"); got != fmt.Sprintf(":%d", passed) {
		t.Errorf("Redis holds %s keys, want the %d admitted", got, passed)
	}
	fams := scrape(t, p)
	for event, want := range map[string]int{"admitted": passed, "refused": refused, "delayed": 0} {
		if got := engineMetric(fams, "keyway_engine_events_total", "ratelimit", "tight", event); got != float64(want) {
			t.Errorf("%s = %v, want %d as the client saw", event, got, want)
		}
	}
}

// TestExplainLiveProxy asks a proxy fed by the control plane where
// commands go with `keyway explain`.
func TestExplainLiveProxy(t *testing.T) {
	main, sessions := redistest.Start(t), redistest.Start(t)
	cp := harness.StartControl(t, "", "")
	dir := harness.WritePolicy(t, map[string]string{"main.star": fmt.Sprintf(`
main = redis("main", %q)
sessions = redis("sessions", %q)
domain("default", guard(
    route(routes = {"session:": sessions}, default = main, label = "by key"),
    deny_commands = ["FLUSHALL"],
))
domain("jobs", main)
`, main.Addr, sessions.Addr)})
	mustPush(t, cp, dir, "explain")
	p := harness.StartProxy(t, "explain", cp.Addr)
	waitApplied(t, cp, "v1", p)

	tests := []struct {
		name string
		args []string
		code int
		// want are the steps of the path, in order, one line each.
		want    []string
		notWant string
		wantErr string
	}{
		{name: "session key", args: []string{"--", "GET", "session:1"}, notWant: "upstream main",
			want: []string{"1. guard", "allowed", "2. route \"by key\"", `matches prefix "session:"`, "3. upstream", "upstream sessions"}},
		{name: "other key", args: []string{"--", "GET", "user:1"}, notWant: "upstream sessions",
			want: []string{"1. guard", "2. route \"by key\"", "matches no prefix", "3. upstream", "upstream main"}},
		{name: "refused", args: []string{"--", "FLUSHALL"}, notWant: "upstream",
			want: []string{"1. guard", `refuse: ERR keyway: command FLUSHALL is in domain "default"'s deny_commands`}},
		{name: "own domain named", args: []string{"--domain", "default", "--", "GET", "session:1"},
			want: []string{"domain default (stable tree, policy v1)", "1. guard", "2. route", "upstream sessions"}},
		{name: "another domain", args: []string{"--domain", "jobs", "--", "GET", "session:1"}, notWant: "guard",
			want: []string{"domain jobs (stable tree, policy v1)", "1. upstream", "upstream main"}},
		{name: "unknown domain", args: []string{"--domain", "nope", "--", "GET", "session:1"}, code: 1,
			wantErr: `no workload domain "nope" (domains: default, jobs)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := harness.CLI(t, cp.Addr, append([]string{"explain", "--proxy", p.Addr}, tc.args...)...)
			if res.Code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", res.Code, tc.code, res.Stdout, res.Stderr)
			}
			rest := res.Stdout
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("explain output lacks %q after the steps before it:\n%s", w, res.Stdout)
				}
				rest = rest[i+len(w):]
			}
			if tc.notWant != "" && strings.Contains(res.Stdout, tc.notWant) {
				t.Errorf("explain output mentions %q:\n%s", tc.notWant, res.Stdout)
			}
			if !strings.Contains(res.Stderr, tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, res.Stderr)
			}
		})
	}
}

// TestPolicyTestExamples runs `keyway policy test` on every example, which
// must pass, and on a bundle with a wrong expectation, which must fail
// naming the case.
func TestPolicyTestExamples(t *testing.T) {
	root := filepath.Join(harness.RepoRoot(t), "policies", "examples")
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	var examples []string
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".star") {
			examples = append(examples, e.Name())
		}
	}
	if len(examples) == 0 {
		t.Fatalf("no examples under %s", root)
	}
	for _, name := range examples {
		t.Run(name, func(t *testing.T) {
			res := harness.CLI(t, "127.0.0.1:1", "policy", "test", filepath.Join(root, name))
			if res.Code != 0 {
				t.Fatalf("exit %d\nstdout: %s\nstderr: %s", res.Code, res.Stdout, res.Stderr)
			}
			harness.Contains(t, "policy test output", res.Stdout, "PASS", " 0 failed")
			if strings.Contains(res.Stdout, "FAIL") {
				t.Errorf("a case failed:\n%s", res.Stdout)
			}
		})
	}

	t.Run("failing case", func(t *testing.T) {
		dir := harness.WritePolicy(t, map[string]string{"main.star": `
main = redis("main", "127.0.0.1:6401")
sessions = redis("sessions", "127.0.0.1:6402")
domain("default", route(routes = {"session:": sessions}, default = main))
test("sessions go to sessions", "default", ["GET", "session:1"], expect_upstream = sessions)
test("users wrongly expected on sessions", "default", ["GET", "user:1"], expect_upstream = sessions)
`})
		res := harness.CLI(t, "127.0.0.1:1", "policy", "test", dir)
		if res.Code != 1 {
			t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", res.Code, res.Stdout, res.Stderr)
		}
		var failLine string
		for _, l := range strings.Split(res.Stdout, "\n") {
			if strings.HasPrefix(l, "FAIL") {
				if failLine != "" {
					t.Errorf("more than one FAIL line:\n%s", res.Stdout)
				}
				failLine = l
			}
		}
		if !strings.Contains(failLine, "users wrongly expected on sessions") {
			t.Errorf("no FAIL line names the failing case:\n%s", res.Stdout)
		}
		harness.Contains(t, "policy test output", res.Stdout, "PASS", "sessions go to sessions", "1 passed, 1 failed")
		if res.Stderr == "" {
			t.Errorf("exit 1 without saying why on stderr")
		}
	})
}
