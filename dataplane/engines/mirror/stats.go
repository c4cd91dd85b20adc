package mirror

import "keyway.dev/dataplane/engine"

var _ engine.StatsReporter = (*Mirror)(nil)

// AppendStats reports Stats as counters, and the queue's length as the
// gauge "queued". Compared and mismatches are reported only with compare
// on, where they mean something.
func (m *Mirror) AppendStats(dst []engine.Counter) []engine.Counter {
	s := m.Stats()
	dst = append(dst,
		engine.Counter{Name: "mirrored", Value: s.Mirrored},
		engine.Counter{Name: "dropped", Value: s.Dropped},
		engine.Counter{Name: "shadow_errors", Value: s.ShadowErrors},
	)
	if m.compare {
		dst = append(dst,
			engine.Counter{Name: "compared", Value: s.Compared},
			engine.Counter{Name: "mismatches", Value: s.Mismatches},
		)
	}
	return append(dst, engine.Counter{Name: "queued", Value: uint64(s.Queued), Gauge: true})
}
