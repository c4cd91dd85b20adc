package ratelimit

import "keyway.dev/dataplane/engine"

var _ engine.StatsReporter = (*Limiter)(nil)

// AppendStats reports the requests the limiter admitted (delayed ones
// included), delayed and refused.
func (l *Limiter) AppendStats(dst []engine.Counter) []engine.Counter {
	return append(dst,
		engine.Counter{Name: "admitted", Value: l.stats.Admitted.Load()},
		engine.Counter{Name: "delayed", Value: l.stats.Delayed.Load()},
		engine.Counter{Name: "refused", Value: l.stats.Refused.Load()},
	)
}
