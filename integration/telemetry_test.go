package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// policyTwoDomains puts connections named "a-..." in domain a, which
// refuses FLUSHALL, and "b-..." in domain b; both use one redis.
func policyTwoDomains(addr string) string {
	return fmt.Sprintf(`
main = redis("main", address = %q)
domain("a", reject(main, commands = ["FLUSHALL"], message = "ERR refused by policy"))
domain("b", main)
identity(default_domain = "a", client_names = {"a-": "a", "b-": "b"})
`, addr)
}

// count is the traffic expected of one (domain, command).
type count struct {
	requests uint64
	errors   map[string]uint64
}

// namedClient is a go-redis client on one connection named name.
func namedClient(t *testing.T, addr, name string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, ClientName: name, Protocol: 2, DisableIdentity: true,
		PoolSize: 1, MaxRetries: -1, DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestTelemetryEndToEnd(t *testing.T) {
	ctx := context.Background()
	r := redistest.Start(t)
	cp := harness.StartControl(t, "", "")
	fast := []string{"--telemetry-interval", "200ms"}
	p1 := harness.StartProxy(t, "proxy-1", cp.Addr, fast...)
	p2 := harness.StartProxy(t, "proxy-2", cp.Addr, fast...)
	mustPush(t, cp, harness.WritePolicy(t, map[string]string{"main.star": policyTwoDomains(r.Addr)}), "two domains")
	waitApplied(t, cp, "v1", p1, p2)

	// Known traffic: domain a through proxy-1, domain b through proxy-2.
	a, b := namedClient(t, p1.Addr, "a-app"), namedClient(t, p2.Addr, "b-app")
	for i := range 300 {
		if err := a.Set(ctx, "a:"+strconv.Itoa(i%10), "v", 0).Err(); err != nil {
			t.Fatalf("set: %v", err)
		}
	}
	for range 200 {
		if err := a.Get(ctx, "a:1").Err(); err != nil {
			t.Fatalf("get in a: %v", err)
		}
	}
	for range 7 {
		if err := a.FlushAll(ctx).Err(); err == nil {
			t.Fatal("FLUSHALL was not refused")
		}
	}
	for range 5 {
		if err := a.Incr(ctx, "a:1").Err(); err == nil {
			t.Fatal("INCR of a string succeeded")
		}
	}
	for range 150 {
		if err := b.Get(ctx, "b:missing").Err(); err != redis.Nil {
			t.Fatalf("get in b: %v", err)
		}
	}
	want := map[string]map[string]count{
		"a": {
			"SET":      {300, nil},
			"GET":      {200, nil},
			"FLUSHALL": {7, map[string]uint64{"refused": 7}},
			"INCR":     {5, map[string]uint64{"upstream": 5}},
		},
		"b": {"GET": {150, nil}},
	}

	t.Run("control plane query shows exactly what was sent", func(t *testing.T) {
		q := keywayv1.NewTelemetryQueryServiceClient(cp.Conn())
		harness.Eventually(t, 30*time.Second, "fleet-wide counts", func() error {
			for domain, cmds := range want {
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				resp, err := q.Top(cctx, &keywayv1.TopRequest{Domain: domain})
				cancel()
				if err != nil {
					return err
				}
				if err := sameCounts(domain, topCounts(resp, domain), cmds); err != nil {
					return err
				}
			}
			return nil
		})
	})

	t.Run("keyway top --once -o json agrees", func(t *testing.T) {
		for domain, cmds := range want {
			res := harness.CLI(t, cp.Addr, "top", "--once", "-o", "json", "--domain", domain)
			if res.Code != 0 {
				t.Fatalf("keyway top: exit %d: %s", res.Code, res.Stderr)
			}
			var out topJSON
			if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
				t.Fatalf("parse keyway top json: %v\n%s", err, res.Stdout)
			}
			if err := sameCounts(domain, out.counts(domain), cmds); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("each proxy's metrics parse and agree with what it served", func(t *testing.T) {
		served := map[*harness.Proxy]map[string]map[string]count{p1: {"a": want["a"]}, p2: {"b": want["b"]}}
		for p, domains := range served {
			fams := scrape(t, p)
			got := map[string]map[string]count{}
			for _, m := range fams["keyway_requests_total"].GetMetric() {
				l := labels(m)
				if l["track"] != "stable" {
					t.Errorf("%s: series %v not on the stable track", p.NodeID, l)
				}
				c := got[l["domain"]]
				if c == nil {
					c = map[string]count{}
					got[l["domain"]] = c
				}
				c[l["command"]] = count{requests: uint64(m.GetCounter().GetValue())}
			}
			for _, m := range fams["keyway_request_errors_total"].GetMetric() {
				l := labels(m)
				c := got[l["domain"]][l["command"]]
				if c.errors == nil {
					c.errors = map[string]uint64{}
				}
				c.errors[l["kind"]] += uint64(m.GetCounter().GetValue())
				got[l["domain"]][l["command"]] = c
			}
			for domain, cmds := range domains {
				if err := sameCounts(domain, got[domain], cmds); err != nil {
					t.Errorf("%s: %v", p.NodeID, err)
				}
			}
			for domain := range got {
				if domains[domain] == nil {
					t.Errorf("%s counted domain %s, which it did not serve", p.NodeID, domain)
				}
			}
			for domain := range domains {
				if n := gauge(fams, "keyway_connections", "domain", domain); n != 1 {
					t.Errorf("%s: keyway_connections{domain=%s} = %v, want 1", p.NodeID, domain, n)
				}
			}
			if n := gauge(fams, "keyway_policy_info", "version", "v1"); n != 1 {
				t.Errorf("%s: keyway_policy_info{version=v1} = %v, want 1", p.NodeID, n)
			}
		}
	})

	t.Run("keyway fleet shows load per node", func(t *testing.T) {
		harness.Eventually(t, 30*time.Second, "fleet load", func() error {
			res := harness.CLI(t, cp.Addr, "fleet", "-o", "json")
			if res.Code != 0 {
				return fmt.Errorf("keyway fleet: exit %d: %s", res.Code, res.Stderr)
			}
			var out struct {
				Nodes []struct {
					ID          string  `json:"id"`
					QPS         float64 `json:"qps"`
					Connections int64   `json:"connections"`
				} `json:"nodes"`
			}
			if err := json.Unmarshal([]byte(res.Stdout), &out); err != nil {
				return fmt.Errorf("parse keyway fleet json: %w", err)
			}
			seen := 0
			for _, n := range out.Nodes {
				if n.QPS <= 0 || n.Connections != 1 {
					return fmt.Errorf("node %s: qps %v, connections %d; want qps > 0 and 1 connection", n.ID, n.QPS, n.Connections)
				}
				seen++
			}
			if seen != 2 {
				return fmt.Errorf("fleet lists %d nodes, want 2", seen)
			}
			return nil
		})
	})
}

// sameCounts compares a domain's per-command counts with want, for the
// commands in want (clients also send CLIENT SETNAME, which is counted
// but not asserted).
func sameCounts(domain string, got, want map[string]count) error {
	for cmd, w := range want {
		g := got[cmd]
		if g.requests != w.requests {
			return fmt.Errorf("domain %s %s: %d requests, want %d", domain, cmd, g.requests, w.requests)
		}
		if fmt.Sprint(nonZero(g.errors)) != fmt.Sprint(nonZero(w.errors)) {
			return fmt.Errorf("domain %s %s: errors %v, want %v", domain, cmd, g.errors, w.errors)
		}
	}
	return nil
}

func nonZero(m map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// topCounts is a drill-down's per-command counts.
func topCounts(resp *keywayv1.TopResponse, domain string) map[string]count {
	out := map[string]count{}
	for _, d := range resp.GetDomains() {
		if d.GetDomain() != domain {
			continue
		}
		for _, c := range d.GetCommands() {
			out[c.GetCommand()] = count{c.GetTraffic().GetRequests(), c.GetTraffic().GetErrorsByKind()}
		}
	}
	return out
}

// topJSON is the part of `keyway top -o json` the test reads; counts are
// JSON numbers.
type topJSON struct {
	Domains []struct {
		Domain   string `json:"domain"`
		Commands []struct {
			Command string `json:"command"`
			Traffic struct {
				Requests     uint64            `json:"requests"`
				ErrorsByKind map[string]uint64 `json:"errors_by_kind"`
			} `json:"traffic"`
		} `json:"commands"`
	} `json:"domains"`
}

func (o topJSON) counts(domain string) map[string]count {
	out := map[string]count{}
	for _, d := range o.Domains {
		if d.Domain != domain {
			continue
		}
		for _, c := range d.Commands {
			errs := map[string]uint64{}
			for k, v := range c.Traffic.ErrorsByKind {
				errs[k] = v
			}
			out[c.Command] = count{c.Traffic.Requests, errs}
		}
	}
	return out
}

// scrape fetches and parses a proxy's /metrics.
func scrape(t *testing.T, p *harness.Proxy) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + p.Admin + "/metrics")
	if err != nil {
		t.Fatalf("%s /metrics: %v", p.NodeID, err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s /metrics does not parse: %v", p.NodeID, err)
	}
	return fams
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// gauge is the value of the family's sample whose label key is value.
func gauge(fams map[string]*dto.MetricFamily, name, key, value string) float64 {
	for _, m := range fams[name].GetMetric() {
		if labels(m)[key] == value {
			return m.GetGauge().GetValue()
		}
	}
	return -1
}
