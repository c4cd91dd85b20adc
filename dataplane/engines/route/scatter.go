package route

import (
	"context"
	"errors"
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/multikey"
)

// serveScattered serves a batch in which some requests span children.
// Each spanning request becomes one sub-request per child, placed where
// the request was, so each child still sees the client's order; then the
// expanded batch is dispatched and the sub-replies gathered.
func (rt *Route) serveScattered(ctx context.Context, b engine.Batch) {
	expanded := make(engine.Batch, 0, len(b)+4)
	targets := make(map[*engine.Request]int, len(b)+4)
	var scattered []*multikey.Scattered
	for i := 0; i < len(b); i++ {
		r := b[i]
		if is(r, "MULTI") {
			end := i + 1
			for end < len(b) && !is(b[end], "EXEC") && !is(b[end], "DISCARD") {
				end++
			}
			end = min(end+1, len(b))
			expanded = rt.pin(b[i:end], expanded, targets)
			i = end - 1
			continue
		}
		t, mixed := rt.classify(r)
		if !mixed {
			expanded = append(expanded, r)
			targets[r] = t
			continue
		}
		plan, err := multikey.NewPlan(&r.Cmd, rt.target)
		if errors.Is(err, multikey.ErrNotScatterable) {
			r.Fail(engine.KindRefused, rt.crossSlot(r))
			continue
		}
		if err != nil {
			// Malformed (MSET with a key and no value): let Redis give
			// its own error by sending the command whole.
			expanded = append(expanded, r)
			targets[r] = t
			continue
		}
		s := multikey.Scatter(r, plan)
		for j := range s.Parts {
			expanded = append(expanded, &s.Parts[j])
			targets[&s.Parts[j]] = plan.Parts[j].Group
		}
		scattered = append(scattered, s)
	}
	if len(expanded) == 0 {
		return // every request was refused
	}
	engine.Dispatch(ctx, expanded, func(r *engine.Request) engine.Engine { return rt.targets[targets[r]] })
	for _, s := range scattered {
		s.Gather()
	}
}

// crossSlot is the refusal of a request whose keys span children and
// which cannot be split without changing what it means.
func (rt *Route) crossSlot(r *engine.Request) error {
	keys := r.Cmd.Keys(nil)
	first := rt.target(r.Cmd.Args[keys[0]])
	other := first
	for _, k := range keys[1:] {
		if t := rt.target(r.Cmd.Args[k]); t != first {
			other = t
			break
		}
	}
	return fmt.Errorf("CROSSSLOT keyway: keys of %s route to different engines (%s and %s) and %s cannot be split without losing atomicity",
		r.Cmd.Name(), rt.name(first), rt.name(other), r.Cmd.Name())
}

// pin places a transaction (MULTI up to EXEC or DISCARD, or the end of
// the batch) on the one child all its keys belong to, or the default
// child when it has none. A transaction whose keys span children cannot
// run atomically anywhere; it is answered as Redis answers a transaction
// with a command that failed to queue: the command gets the error and
// EXEC aborts.
func (rt *Route) pin(span, expanded engine.Batch, targets map[*engine.Request]int) engine.Batch {
	t, conflict := -1, -1
	for _, r := range span {
		for _, k := range r.Cmd.Keys(nil) {
			switch kt := rt.target(r.Cmd.Args[k]); {
			case t < 0:
				t = kt
			case kt != t && conflict < 0:
				conflict = kt
			}
		}
	}
	if t < 0 {
		t = rt.def()
	}
	if conflict < 0 {
		for _, r := range span {
			expanded = append(expanded, r)
			targets[r] = t
		}
		return expanded
	}
	err := fmt.Errorf("CROSSSLOT keyway: keys of this transaction route to different engines (%s and %s), so it cannot run atomically",
		rt.name(t), rt.name(conflict))
	for _, r := range span {
		switch {
		case is(r, "MULTI"), is(r, "DISCARD"):
			r.Reply([]byte("+OK\r\n"))
		case is(r, "EXEC"):
			//lint:ignore ST1005 this is Redis's exact reply text
			r.Fail(engine.KindRefused, errors.New("EXECABORT Transaction discarded because of previous errors."))
		default:
			r.Fail(engine.KindRefused, err)
		}
	}
	return expanded
}
