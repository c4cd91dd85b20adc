package failover

import (
	"strconv"

	"keyway.dev/dataplane/engine"
)

var _ engine.StatsReporter = (*Failover)(nil)

// AppendStats reports the engine's counters ("retried", "all_open") and,
// per child i, "children[i].breaker_opened" (times its breaker opened)
// and the gauges "children[i].breaker_state" (0 closed, 1 open, 2
// half-open, as State) and "children[i].failures" (the current run of
// failed batches).
func (f *Failover) AppendStats(dst []engine.Counter) []engine.Counter {
	dst = append(dst,
		engine.Counter{Name: "retried", Value: f.retried.Load()},
		engine.Counter{Name: "all_open", Value: f.allOpen.Load()},
	)
	for i := range f.children {
		br := f.children[i].br
		p := "children[" + strconv.Itoa(i) + "]."
		dst = append(dst,
			engine.Counter{Name: p + "breaker_opened", Value: br.opened.Load()},
			engine.Counter{Name: p + "breaker_state", Value: uint64(br.state.Load()), Gauge: true},
			engine.Counter{Name: p + "failures", Value: uint64(br.failures.Load()), Gauge: true},
		)
	}
	return dst
}
