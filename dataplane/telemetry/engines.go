package telemetry

import (
	"bufio"
	"fmt"
	"sort"

	"keyway.dev/dataplane/engine"
)

// SetEngineStats sets the source of the engines' own counters (guard
// refusals by rule, rate-limit refusals, mirror drops, breaker states),
// read at each scrape; the proxy passes engine.CollectCurrent of its
// installed state.
func (r *Recorder) SetEngineStats(f func() []engine.EngineStat) { r.engineStats.Store(&f) }

// engineKey is one exported series. Two engines of one kind without a
// label in one tree share a series: their events add up and a gauge
// shows the higher of the two, so policies label engines worth telling
// apart.
type engineKey struct {
	domain, track, kind, label, name string
}

// writeEngines writes keyway_engine_events_total (counters, by event)
// and keyway_engine_state (gauges, by name). A family with no samples is
// left out, as a proxy without such engines has nothing to say.
func (r *Recorder) writeEngines(w *bufio.Writer) {
	f := r.engineStats.Load()
	if f == nil || *f == nil {
		return
	}
	events, states := map[engineKey]uint64{}, map[engineKey]uint64{}
	for _, s := range (*f)() {
		k := engineKey{s.Domain, s.Track, s.Kind, s.Label, s.Name}
		if s.Gauge {
			states[k] = max(states[k], s.Value)
		} else {
			events[k] += s.Value
		}
	}
	writeEngineFamily(w, "keyway_engine_events_total", "counter",
		"Events counted by the engines themselves (guard refusals by rule, rate-limit refusals, mirror copies and drops, failover retries and breaker openings), by domain, track, engine kind, engine label and event.",
		"event", events)
	writeEngineFamily(w, "keyway_engine_state", "gauge",
		"Levels engines report (mirror queue length, failover breaker state 0 closed 1 open 2 half-open, consecutive failures), by domain, track, engine kind, engine label and name.",
		"name", states)
}

func writeEngineFamily(w *bufio.Writer, name, typ, help, nameLabel string, m map[engineKey]uint64) {
	if len(m) == 0 {
		return
	}
	keys := make([]engineKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.domain != b.domain {
			return a.domain < b.domain
		}
		if a.track != b.track {
			return a.track < b.track
		}
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.label != b.label {
			return a.label < b.label
		}
		return a.name < b.name
	})
	family(w, name, typ, help)
	for _, k := range keys {
		fmt.Fprintf(w, "%s{domain=%s,track=%s,kind=%s,label=%s,%s=%s} %d\n",
			name, quote(k.domain), quote(k.track), quote(k.kind), quote(k.label), nameLabel, quote(k.name), m[k])
	}
}
