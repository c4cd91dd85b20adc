package multikey

import (
	"errors"
	"fmt"

	"keyway.dev/dataplane/engine"
)

// Scattered is a client's request served as one sub-request per part of
// its plan. Route (parts per child) and the cluster client (parts per
// slot) both dispatch Parts as they dispatch whole requests, then call
// Gather.
type Scattered struct {
	Parent *engine.Request
	Plan   *Plan
	Parts  []engine.Request
}

// Scatter prepares the sub-requests of r under plan: each carries its
// part's command and r's session, read time (its deadline) and upstream.
func Scatter(r *engine.Request, plan *Plan) *Scattered {
	s := &Scattered{Parent: r, Plan: plan, Parts: make([]engine.Request, len(plan.Parts))}
	for i := range plan.Parts {
		sub := &s.Parts[i]
		sub.Cmd = plan.Parts[i].Cmd
		sub.Session, sub.Read, sub.Upstream = r.Session, r.Read, r.Upstream
	}
	return s
}

// Gather answers the parent from its parts' replies. A part the proxy
// failed (timeout, unreachable upstream) fails the parent with the same
// kind and upstream, so telemetry blames the right thing; a part left
// unanswered is the proxy's fault.
func (s *Scattered) Gather() {
	r := s.Parent
	replies := make([][]byte, len(s.Parts))
	for i := range s.Parts {
		sub := &s.Parts[i]
		if !sub.Done() {
			r.Fail(engine.KindProxy, errors.New("keyway: part of a scattered command was left unanswered"))
			return
		}
		if sub.Err() != nil {
			if sub.Upstream != "" {
				r.Upstream = sub.Upstream
			}
			r.Fail(sub.Kind(), sub.Err())
			return
		}
		replies[i] = sub.Raw()
	}
	if up := s.Parts[0].Upstream; up != "" {
		r.Upstream = up
	}
	out, err := s.Plan.AppendReply(r.ReplyBuffer(), replies)
	if err != nil {
		r.Fail(engine.KindProxy, fmt.Errorf("keyway: merge replies of %s: %w", r.Cmd.Name(), err))
		return
	}
	r.SetReplied(out)
}
