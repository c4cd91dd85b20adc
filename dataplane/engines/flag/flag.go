// Package flag is the FlagSwitch engine: it picks its on or off child per
// connection by a feature flag of the domain, which operators set through
// the control plane without a new policy version.
package flag

import (
	"context"

	"keyway.dev/dataplane/engine"
)

// Switch sends a connection to on when its bucket (0..99, a stable hash
// of the connection salted with the flag name) is below the flag's
// percentage, else to off. The percentage is read per request from the
// proxy's Env, so a flag change takes effect without a rebuild, and
// raising it only moves connections from off to on.
type Switch struct {
	flag   string
	domain string
	// key is engine.FlagKey(domain, flag), built once.
	key string
	env *engine.Env
	on  engine.Engine
	off engine.Engine
}

var (
	_ engine.Engine    = (*Switch)(nil)
	_ engine.Explainer = (*Switch)(nil)
)

// Serve sends b to one child. A client's batch comes from one
// connection, so the choice is made once; a batch that mixes sessions
// (a mirror's shadow queue) is split per request.
func (s *Switch) Serve(ctx context.Context, b engine.Batch) {
	if len(b) == 0 {
		return
	}
	first := b[0].Session
	for _, r := range b[1:] {
		if r.Session != first {
			engine.Dispatch(ctx, b, s.pick)
			return
		}
	}
	s.pick(b[0]).Serve(ctx, b)
}

func (s *Switch) pick(r *engine.Request) engine.Engine {
	if on, _, _ := s.decide(r.Session); on {
		return s.on
	}
	return s.off
}

// decide reports whether sess takes the on branch, with its bucket and
// the flag's percentage for Explain.
func (s *Switch) decide(sess *engine.Session) (on bool, bucket, percent uint32) {
	percent = s.env.FlagPercentKey(s.key)
	switch {
	case percent == 0:
		return false, 0, 0
	case percent >= 100:
		return true, 0, percent
	}
	var h uint64
	if sess != nil {
		h = sess.Hash
	}
	bucket = engine.Bucket(h, s.flag)
	return bucket < percent, bucket, percent
}

// Explain records the branch and why.
func (s *Switch) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	on, bucket, percent := s.decide(r.Session)
	switch {
	case percent == 0:
		x.Note("flag %q is off in domain %s: off", s.flag, s.domain)
	case percent >= 100:
		x.Note("flag %q is on in domain %s: on", s.flag, s.domain)
	case on:
		x.Note("flag %q is at %d%% in domain %s; this connection's bucket %d < %d: on", s.flag, percent, s.domain, bucket, percent)
	default:
		x.Note("flag %q is at %d%% in domain %s; this connection's bucket %d >= %d: off", s.flag, percent, s.domain, bucket, percent)
	}
	if on {
		return s.on
	}
	return s.off
}
