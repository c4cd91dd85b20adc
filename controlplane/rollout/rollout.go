// Package rollout moves one workload domain at a time from one policy
// version to another: the proxies run the domain's stable tree and a
// canary tree side by side, assigning each connection by stable hash, and
// a controller raises the canary's share step by step, aborting by itself
// when the canary track does worse than the stable one.
//
// State lives in etcd, so a rollout survives a control-plane restart and
// continues from its step; with several replicas exactly one, elected
// through etcd, drives rollouts, while every replica publishes their
// state to its own proxies.
//
// The active policy version is fleet-wide, so a completed rollout cannot
// simply activate its target: it pins its domain to the target version
// instead (see Pin in keyway.v1), and every other domain keeps following
// the active version.
package rollout

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Defaults of a rollout started without them.
var (
	DefaultSteps    = []uint32{1, 10, 50, 100}
	DefaultInterval = 2 * time.Minute
	// DefaultMaxErrorRate is the error-rate guard: a canary failing more
	// than 1% of requests, and more than stable, is aborted.
	DefaultMaxErrorRate = 0.01
	// MinInterval keeps the controller from advancing faster than it can
	// observe anything.
	MinInterval = 100 * time.Millisecond
)

// Tracks as proxies label their telemetry.
const (
	TrackStable = "stable"
	TrackCanary = "canary"
)

// ControllerIdentity is the audit identity of the controller's own decisions.
const ControllerIdentity = "controller"

// Plan is a rollout as asked for, before it is stored.
type Plan struct {
	Domain       string
	To           uint64
	Steps        []uint32
	Interval     time.Duration
	MaxErrorRate float64
	MaxP99       time.Duration
	Author       string
}

// Normalize fills in defaults and checks p.
func (p *Plan) Normalize() error {
	if err := ValidDomain(p.Domain); err != nil {
		return err
	}
	if p.To == 0 {
		return errors.New("a target version is required")
	}
	if len(p.Steps) == 0 {
		p.Steps = append([]uint32(nil), DefaultSteps...)
	}
	for i, s := range p.Steps {
		if s == 0 || s > 100 {
			return fmt.Errorf("step %d%% is outside 1..100", s)
		}
		if i > 0 && s <= p.Steps[i-1] {
			return fmt.Errorf("steps must increase: %d%% follows %d%%", s, p.Steps[i-1])
		}
	}
	if last := p.Steps[len(p.Steps)-1]; last != 100 {
		return fmt.Errorf("the last step must be 100%%, not %d%%", last)
	}
	if p.Interval == 0 {
		p.Interval = DefaultInterval
	}
	if p.Interval < MinInterval {
		return fmt.Errorf("interval %s is shorter than %s", p.Interval, MinInterval)
	}
	if p.MaxErrorRate == 0 {
		p.MaxErrorRate = DefaultMaxErrorRate
	}
	if p.MaxErrorRate < 0 || p.MaxErrorRate > 1 {
		return fmt.Errorf("max error rate %g is outside 0..1", p.MaxErrorRate)
	}
	if p.MaxP99 < 0 {
		return fmt.Errorf("max p99 %s is negative", p.MaxP99)
	}
	return nil
}

// ValidDomain checks a domain name used in etcd keys.
func ValidDomain(d string) error {
	if d == "" {
		return errors.New("domain is required")
	}
	if strings.ContainsAny(d, "/ \t\n") {
		return fmt.Errorf("domain %q may not contain '/' or white space", d)
	}
	return nil
}

// newRollout is p as a running rollout at its first step.
func newRollout(p Plan, from uint64, now time.Time) *keywayv1.Rollout {
	r := &keywayv1.Rollout{
		Domain:       p.Domain,
		FromVersion:  from,
		ToVersion:    p.To,
		Steps:        p.Steps,
		Interval:     durationpb.New(p.Interval),
		MaxErrorRate: p.MaxErrorRate,
		State:        keywayv1.RolloutState_ROLLOUT_STATE_RUNNING,
		Percent:      p.Steps[0],
		StepStarted:  timestamppb.New(now),
		StepElapsed:  durationpb.New(0),
		Author:       p.Author,
		Created:      timestamppb.New(now),
		Updated:      timestamppb.New(now),
	}
	if p.MaxP99 > 0 {
		r.MaxP99 = durationpb.New(p.MaxP99)
	}
	return r
}

// Unfinished reports whether r still holds a canary tree in the fleet.
func Unfinished(r *keywayv1.Rollout) bool {
	s := r.GetState()
	return s == keywayv1.RolloutState_ROLLOUT_STATE_RUNNING || s == keywayv1.RolloutState_ROLLOUT_STATE_PAUSED
}

// InStep is how long r's current step has run, not counting pauses.
func InStep(r *keywayv1.Rollout, now time.Time) time.Duration {
	d := r.GetStepElapsed().AsDuration()
	if r.GetState() == keywayv1.RolloutState_ROLLOUT_STATE_RUNNING {
		d += max(now.Sub(r.GetStepStarted().AsTime()), 0)
	}
	return d
}

// NextStep is when a running rollout's interval on this step is over, or
// the zero time for a rollout that is not running.
func NextStep(r *keywayv1.Rollout, now time.Time) time.Time {
	if r.GetState() != keywayv1.RolloutState_ROLLOUT_STATE_RUNNING {
		return time.Time{}
	}
	return now.Add(max(r.GetInterval().AsDuration()-InStep(r, now), 0))
}

// StateName is a rollout state as users read it ("running").
func StateName(s keywayv1.RolloutState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "ROLLOUT_STATE_"))
}
