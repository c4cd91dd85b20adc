package telemetry

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"keyway.dev/dataplane/engine"
)

// deployDir holds the operations kit this test keeps honest.
const deployDir = "../../deploy"

// metricRef matches a metric name in PromQL, but not a recorded series
// such as domain:keyway_requests:rate1m (those are checked separately).
var (
	metricRef   = regexp.MustCompile(`(^|[^a-zA-Z0-9_:])(keyway_[a-zA-Z0-9_]+)`)
	recordedRef = regexp.MustCompile(`[a-zA-Z_]+:keyway_[a-zA-Z0-9_]+:[a-zA-Z0-9_]+`)
)

type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// exported is every metric family the Recorder prints once every kind of
// sample exists.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	r := New(Options{})
	r.Observe("d", "stable", "GET", "u", engine.KindTimeout, 1, 1, time.Millisecond)
	r.ConnOpened("d")
	r.SetPolicyVersion("v1")
	r.SetNodeStats(func() []NodeStats { return []NodeStats{{Upstream: "u", Node: "n"}} })
	out := map[string]bool{}
	for name, f := range scrape(t, r) {
		if len(f.GetMetric()) == 0 {
			t.Errorf("family %s has no samples", name)
		}
		out[name] = true
	}
	return out
}

func baseName(m string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(m, suffix); ok && strings.HasSuffix(b, "_seconds") {
			return b
		}
	}
	return m
}

func TestDeployReferencesExportedMetrics(t *testing.T) {
	have := exported(t)

	raw, err := os.ReadFile(filepath.Join(deployDir, "prometheus", "rules.yml"))
	if err != nil {
		t.Fatalf("read rules: %v", err)
	}
	var rules ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&rules); err != nil {
		t.Fatalf("parse rules.yml: %v", err)
	}
	recorded := map[string]bool{}
	exprs := map[string]string{} // where -> PromQL
	alerts := 0
	for _, g := range rules.Groups {
		for i, r := range g.Rules {
			switch {
			case r.Record != "" && r.Alert == "":
				recorded[r.Record] = true
				exprs["rules.yml "+r.Record] = r.Expr
			case r.Alert != "" && r.Record == "":
				alerts++
				exprs["rules.yml "+r.Alert] = r.Expr
				if r.Labels["severity"] == "" {
					t.Errorf("alert %s has no severity", r.Alert)
				}
				if _, err := time.ParseDuration(orZero(r.For)); err != nil {
					t.Errorf("alert %s: for %q: %v", r.Alert, r.For, err)
				}
			default:
				t.Errorf("group %s rule %d: want exactly one of record and alert", g.Name, i)
			}
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("group %s rule %d has no expr", g.Name, i)
			}
		}
	}
	if len(recorded) == 0 || alerts == 0 {
		t.Fatalf("rules.yml: %d recording and %d alert rules, want some of each", len(recorded), alerts)
	}

	raw, err = os.ReadFile(filepath.Join(deployDir, "grafana", "keyway.json"))
	if err != nil {
		t.Fatalf("read dashboard: %v", err)
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("parse keyway.json: %v", err)
	}
	if panels, _ := dash["panels"].([]any); len(panels) == 0 {
		t.Fatal("dashboard has no panels")
	}
	collectQueries(dash, "keyway.json", exprs)

	if _, err := os.Stat(filepath.Join(deployDir, "prometheus", "scrape.yml")); err != nil {
		t.Fatalf("scrape config: %v", err)
	}
	var scrapeCfg struct {
		ScrapeConfigs []struct {
			JobName     string `yaml:"job_name"`
			MetricsPath string `yaml:"metrics_path"`
		} `yaml:"scrape_configs"`
	}
	raw, _ = os.ReadFile(filepath.Join(deployDir, "prometheus", "scrape.yml"))
	if err := yaml.Unmarshal(raw, &scrapeCfg); err != nil || len(scrapeCfg.ScrapeConfigs) == 0 {
		t.Fatalf("scrape.yml: %v, %d scrape configs", err, len(scrapeCfg.ScrapeConfigs))
	}

	used := map[string]bool{}
	for _, where := range sortedKeys(exprs) {
		expr := exprs[where]
		for _, m := range metricRef.FindAllStringSubmatch(expr, -1) {
			name := baseName(m[2])
			used[name] = true
			if !have[name] {
				t.Errorf("%s uses %s, which keyway-proxy does not export", where, m[2])
			}
		}
		for _, rec := range recordedRef.FindAllString(expr, -1) {
			if !recorded[rec] {
				t.Errorf("%s uses %s, which no recording rule defines", where, rec)
			}
		}
	}
	// The golden signals must all be covered somewhere.
	for _, m := range []string{"keyway_requests_total", "keyway_request_errors_total", "keyway_request_duration_seconds",
		"keyway_connections", "keyway_upstream_inflight", "keyway_upstream_circuit_open"} {
		if !used[m] {
			t.Errorf("no rule or panel uses %s", m)
		}
	}
	t.Logf("checked %d expressions using %d metrics", len(exprs), len(used))
}

func orZero(s string) string {
	if s == "" {
		return "0s"
	}
	return s
}

// collectQueries finds every PromQL string in a dashboard: panel targets'
// expr, annotation expr and template variable queries.
func collectQueries(v any, path string, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			child := v[k]
			if s, ok := child.(string); ok && (k == "expr" || k == "definition" || k == "query") && strings.Contains(s, "keyway_") {
				out[path+"."+k] = s
				continue
			}
			collectQueries(child, path+"."+k, out)
		}
	case []any:
		for i, c := range v {
			collectQueries(c, path+"["+strconv.Itoa(i)+"]", out)
		}
	}
}
