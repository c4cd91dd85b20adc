// Package maxttl is the MaxTTL engine: a guardrail that refuses writes
// giving a key a longer life than the domain allows, so one client's
// "cache forever" cannot fill a shared Redis with keys that never leave.
package maxttl

import (
	"context"
	"fmt"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/internal/ttlarg"
)

// MaxTTL refuses commands whose expiry is further than max and sends the
// rest to next.
type MaxTTL struct {
	max  time.Duration
	next engine.Engine
	// now is the proxy's clock, for absolute expiries; tests replace it.
	now func() time.Time
}

var (
	_ engine.Engine    = (*MaxTTL)(nil)
	_ engine.Explainer = (*MaxTTL)(nil)
)

// Serve refuses the requests over the limit and serves the others, in
// order, through next.
func (m *MaxTTL) Serve(ctx context.Context, b engine.Batch) {
	refused := 0
	for _, r := range b {
		if err := m.check(r); err != nil {
			r.Fail(engine.KindRefused, err)
			refused++
		}
	}
	if rest := b.Unanswered(refused); len(rest) > 0 {
		m.next.Serve(ctx, rest)
	}
}

// check returns the refusal of r, or nil. An argument that is not a
// positive number is Redis's to refuse, so it passes.
func (m *MaxTTL) check(r *engine.Request) error {
	limit := m.max.Milliseconds()
	if at, u, ok := ttlarg.Relative(&r.Cmd); ok {
		ttl, ok := ttlarg.ParseTime(r.Cmd.Args[at], u)
		if ok && ttl > limit {
			return fmt.Errorf("keyway: a TTL of %s is above this domain's max_ttl of %s", time.Duration(ttl)*time.Millisecond, m.max)
		}
		return nil
	}
	if at, u, ok := ttlarg.Absolute(&r.Cmd); ok {
		deadline, ok := ttlarg.ParseTime(r.Cmd.Args[at], u)
		if !ok {
			return nil
		}
		if in := deadline - m.now().UnixMilli(); in > limit {
			return fmt.Errorf("keyway: an expiry %s from now is above this domain's max_ttl of %s", time.Duration(in)*time.Millisecond, m.max)
		}
	}
	return nil
}

// Explain says whether r's expiry passes.
func (m *MaxTTL) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	if err := m.check(r); err != nil {
		x.Note("expiry above max_ttl %s", m.max)
		x.Refuse(string(engine.AppendError(nil, err.Error())[1:]))
		return nil
	}
	x.Note("expiry within max_ttl %s (or none set)", m.max)
	return m.next
}
