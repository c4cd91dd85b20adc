package telemetry

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"keyway.dev/dataplane/engine"
)

func TestWriteEngines(t *testing.T) {
	stat := func(domain, kind, label, name string, v uint64, gauge bool) engine.EngineStat {
		return engine.EngineStat{Domain: domain, Track: "stable", Kind: kind, Label: label, Counter: engine.Counter{Name: name, Value: v, Gauge: gauge}}
	}
	tests := []struct {
		name  string
		stats []engine.EngineStat
		// want maps family → "domain/kind/label/event-or-name" → value.
		want map[string]map[string]float64
	}{
		{name: "no engines, no families", stats: nil, want: map[string]map[string]float64{}},
		{
			name: "counters and gauges",
			stats: []engine.EngineStat{
				stat("web", "guard", "g", "refused_key_prefixes", 3, false),
				stat("web", "mirror", "warm", "dropped", 2, false),
				stat("web", "mirror", "warm", "queued", 5, true),
				stat("jobs", "failover", "", "children[0].breaker_state", 1, true),
			},
			want: map[string]map[string]float64{
				"keyway_engine_events_total": {"web/guard/g/refused_key_prefixes": 3, "web/mirror/warm/dropped": 2},
				"keyway_engine_state":        {"web/mirror/warm/queued": 5, "jobs/failover//children[0].breaker_state": 1},
			},
		},
		{
			name: "unlabeled twins share a series: events add, gauges take the max",
			stats: []engine.EngineStat{
				stat("web", "ratelimit", "", "refused", 4, false),
				stat("web", "ratelimit", "", "refused", 6, false),
				stat("web", "failover", "", "children[1].breaker_state", 2, true),
				stat("web", "failover", "", "children[1].breaker_state", 0, true),
			},
			want: map[string]map[string]float64{
				"keyway_engine_events_total": {"web/ratelimit//refused": 10},
				"keyway_engine_state":        {"web/failover//children[1].breaker_state": 2},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := New(Options{})
			r.SetEngineStats(func() []engine.EngineStat { return tc.stats })
			fams := scrape(t, r)
			for _, name := range []string{"keyway_engine_events_total", "keyway_engine_state"} {
				got := map[string]float64{}
				for _, m := range fams[name].GetMetric() {
					l := map[string]string{}
					for _, p := range m.GetLabel() {
						l[p.GetName()] = p.GetValue()
					}
					if l["track"] != "stable" {
						t.Errorf("%s sample has track %q", name, l["track"])
					}
					got[l["domain"]+"/"+l["kind"]+"/"+l["label"]+"/"+l["event"]+l["name"]] = sampleValue(m)
				}
				want := tc.want[name]
				if want == nil {
					want = map[string]float64{}
				}
				if len(got) != len(want) {
					t.Errorf("%s = %v, want %v", name, got, want)
					continue
				}
				for k, v := range want {
					if got[k] != v {
						t.Errorf("%s[%s] = %v, want %v", name, k, got[k], v)
					}
				}
			}
		})
	}
}

func sampleValue(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return m.GetGauge().GetValue()
}
