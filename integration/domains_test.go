package integration

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
)

// TestDomainVersionsAfterRollout completes a rollout of domain a to v2
// while v1 stays active, and checks that every place an operator looks
// says what the proxy runs: KEYWAY.EXPLAIN on the proxy, `policy history`
// (table and JSON), `policy show`, `keyway fleet` and the proxy's
// keyway_policy_info, during the rollout and after it.
func TestDomainVersionsAfterRollout(t *testing.T) {
	r1, r2 := redistest.Start(t), redistest.Start(t)
	cp := harness.StartControl(t, "", "")
	p := harness.StartProxy(t, "proxy-1", cp.Addr)
	for i, note := range []string{"v1", "v2: a on r2"} {
		aAddr := r1.Addr
		if i == 1 {
			aAddr = r2.Addr
		}
		dir := harness.WritePolicy(t, map[string]string{"main.star": rolloutPolicy(r1.Addr, r2.Addr, aAddr, note)})
		args := []string{"policy", "push", dir, "-m", note}
		if i > 0 {
			args = append(args, "--no-activate")
		}
		kw(t, cp, args...)
	}
	kw(t, cp, "rollout", "start", "--domain", "a", "--to", "v2", "--steps", "10,100", "--interval", "1h")
	// While the rollout runs, the proxy reports a's canary on a track of
	// its own, as fleet does.
	harness.Eventually(t, 20*time.Second, "the proxy reports a's canary", func() error {
		return policyInfoIs(p, map[string]string{"a/stable": "v1", "a/canary": "v2", "b/stable": "v1", "f/stable": "v1"})
	})
	kw(t, cp, "rollout", "promote", "--domain", "a")

	harness.Eventually(t, 20*time.Second, "the proxy runs v2 for a and v1 for b", func() error {
		for domain, want := range map[string]string{"a": "policy v2", "b": "policy v1"} {
			r := harness.CLI(t, cp.Addr, "explain", "--proxy", p.Addr, "--domain", domain, "--", "GET", "k")
			if r.Code != 0 || !strings.Contains(r.Stdout, want) {
				return fmt.Errorf("explain in %s: exit %d, %q %q; want %q", domain, r.Code, r.Stdout, r.Stderr, want)
			}
		}
		return nil
	})

	var h struct {
		Active   uint64 `json:"active"`
		Versions []struct {
			Version          uint64   `json:"version"`
			Active           bool     `json:"active"`
			EffectiveDomains []string `json:"effective_domains"`
		} `json:"versions"`
		Domains []domainJSON `json:"domains"`
	}
	decode(t, kw(t, cp, "policy", "history", "-o", "json"), &h)
	if h.Active != 1 {
		t.Errorf("history: active v%d, want v1 (a completed rollout pins, it does not activate)", h.Active)
	}
	wantDomains := []domainJSON{
		{Domain: "a", Version: 2, Name: "v2", Pinned: true, Rollout: "a-1"},
		{Domain: "b", Version: 1, Name: "v1"},
		{Domain: "f", Version: 1, Name: "v1"},
	}
	if !slices.Equal(h.Domains, wantDomains) {
		t.Errorf("history domains = %+v, want %+v", h.Domains, wantDomains)
	}
	for _, v := range h.Versions {
		want := map[uint64][]string{1: {"b", "f"}, 2: {"a"}}[v.Version]
		if !slices.Equal(v.EffectiveDomains, want) {
			t.Errorf("history v%d effective_domains = %v, want %v", v.Version, v.EffectiveDomains, want)
		}
	}
	table := kw(t, cp, "policy", "history")
	harness.Contains(t, "history table", table, "* b,f", "v2 (pinned by a-1)")
	for _, line := range strings.Split(table, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == "v2" && f[1] != "a" {
			t.Errorf("history row of v2 does not say it runs in a: %q", line)
		}
	}
	harness.Contains(t, "policy show v2", kw(t, cp, "policy", "show", "v2"), "version:  v2 (pinned: a)", "runs in:  a\n")
	harness.Contains(t, "policy show", kw(t, cp, "policy", "show"), "version:  v1 (active)", "runs in:  b, f\n")

	var f struct {
		Domains []domainJSON `json:"domains"`
	}
	decode(t, kw(t, cp, "fleet", "-o", "json"), &f)
	if !slices.Equal(f.Domains, wantDomains) {
		t.Errorf("fleet domains = %+v, want %+v", f.Domains, wantDomains)
	}
	harness.Contains(t, "fleet table", kw(t, cp, "fleet"), "proxy-1", "v2 (pinned by a-1)")

	// keyway_policy_info says what the admin API says.
	fromAPI := map[string]string{}
	for _, d := range f.Domains {
		fromAPI[d.Domain+"/stable"] = d.Name
		if d.CanaryVersion != 0 {
			fromAPI[d.Domain+"/canary"] = fmt.Sprintf("v%d", d.CanaryVersion)
		}
	}
	harness.Eventually(t, 20*time.Second, "keyway_policy_info agrees with the admin API", func() error {
		return policyInfoIs(p, fromAPI)
	})

	// A domain that never had a rollout: its version and "no rollout".
	harness.Contains(t, "rollout status of b", kw(t, cp, "rollout", "status", "--domain", "b"), "version:   v1\n", "rollout:   no rollout")
	var nr struct {
		Domain  string  `json:"domain"`
		Version uint64  `json:"version"`
		Rollout *string `json:"rollout"`
	}
	decode(t, kw(t, cp, "rollout", "status", "--domain", "b", "-o", "json"), &nr)
	if nr.Domain != "b" || nr.Version != 1 || nr.Rollout != nil {
		t.Errorf("rollout status --domain b -o json = %+v", nr)
	}
	if r := harness.CLI(t, cp.Addr, "rollout", "status", "--domain", "nope"); r.Code != 1 || !strings.Contains(r.Stderr, `domain "nope" is not in the active version v1`) {
		t.Errorf("rollout status of an unknown domain: exit %d, %q", r.Code, r.Stderr)
	}
}

var domainInfoRE = regexp.MustCompile(`(?m)^keyway_policy_info\{domain="([^"]*)",track="([^"]*)",version="([^"]*)"\} 1$`)

// policyInfoIs checks the per-domain rows of keyway_policy_info on p's
// /metrics, keyed "domain/track", against want.
func policyInfoIs(p *harness.Proxy, want map[string]string) error {
	resp, err := http.Get("http://" + p.Admin + "/metrics")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	got := map[string]string{}
	for _, m := range domainInfoRE.FindAllSubmatch(body, -1) {
		got[string(m[1])+"/"+string(m[2])] = string(m[3])
	}
	if !maps.Equal(got, want) {
		return fmt.Errorf("keyway_policy_info per domain = %v, want %v", got, want)
	}
	return nil
}

// domainJSON is one entry of the "domains" of history and fleet.
type domainJSON struct {
	Domain        string `json:"domain"`
	Version       uint64 `json:"version"`
	Name          string `json:"name"`
	Pinned        bool   `json:"pinned"`
	Rollout       string `json:"rollout"`
	CanaryVersion uint64 `json:"canary_version"`
	CanaryPercent uint32 `json:"canary_percent"`
}

func decode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

// TestIdenticalPushStoresNothing: pushing the active version's bundle
// again says so, exits 0 and stores no version.
func TestIdenticalPushStoresNothing(t *testing.T) {
	cp := harness.StartControl(t, "", "")
	dir := harness.WritePolicy(t, map[string]string{"main.star": cliPolicy("same")})
	harness.Contains(t, "first push", kw(t, cp, "policy", "push", dir, "-m", "first"), "pushed v1")
	harness.Contains(t, "second push", kw(t, cp, "policy", "push", dir, "-m", "again"), "no change since v1", "nothing stored")
	var u struct {
		Unchanged bool   `json:"unchanged"`
		Message   string `json:"message"`
	}
	decode(t, kw(t, cp, "policy", "push", dir, "-m", "again", "-o", "json"), &u)
	if !u.Unchanged || !strings.Contains(u.Message, "no change since v1") {
		t.Errorf("push -o json of an identical bundle = %+v", u)
	}
	var h struct {
		Head uint64 `json:"head"`
	}
	decode(t, kw(t, cp, "policy", "history", "-o", "json"), &h)
	if h.Head != 1 {
		t.Errorf("head is v%d after identical pushes, want v1", h.Head)
	}
}
