package rollout

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Telemetry answers the controller's questions about a domain's traffic.
// The control plane's telemetry aggregator implements it.
type Telemetry interface {
	// TrackReading sums domain's traffic on track ("stable" or "canary")
	// in the reports that arrived within window before now.
	TrackReading(domain, track string, window time.Duration) *keywayv1.TrackReading
}

// SinceTelemetry is a Telemetry that can also leave out traffic from
// before a point in time. Decide uses it, when the source offers it, so
// that a rollout is judged only on requests served since it started: the
// canary track of a domain carries every rollout of that domain, one after
// the other.
type SinceTelemetry interface {
	TrackReadingSince(domain, track string, window time.Duration, since time.Time) *keywayv1.TrackReading
}

// Action is what the controller decides for a running rollout.
type Action int

// The controller's decisions.
const (
	// Hold keeps the rollout at its step.
	Hold Action = iota
	// Advance moves it to its next step.
	Advance
	// Complete makes the target the domain's stable version.
	Complete
	// Abort returns the domain to its stable version.
	Abort
)

func (a Action) String() string {
	return [...]string{"hold", "advance", "complete", "abort"}[a]
}

// Decision is the controller's verdict on a running rollout.
type Decision struct {
	Action Action
	// Reason says why it aborts, or what it waits for when it holds
	// although the interval passed.
	Reason string
	// Guards are the readings the decision rests on.
	Guards *keywayv1.GuardReadings
}

// Decide judges a running rollout at now. The guards compare the canary
// with the stable track over the last interval, so a breach aborts at any
// time, not only at a step's end. A step advances once its interval has
// passed and the canary has served traffic since the step began: a step
// nobody's requests went through proves nothing, so the rollout waits
// (and says so) rather than promote a version blind, for example right
// after a new controller took over with no telemetry yet.
func Decide(r *keywayv1.Rollout, now time.Time, tel Telemetry) Decision {
	interval := r.GetInterval().AsDuration()
	g := &keywayv1.GuardReadings{
		Time:   timestamppb.New(now),
		Stable: reading(tel, r.GetDomain(), TrackStable, interval, r.GetCreated().AsTime()),
		Canary: reading(tel, r.GetDomain(), TrackCanary, interval, r.GetCreated().AsTime()),
	}
	if reason := Breach(r, g.GetStable(), g.GetCanary()); reason != "" {
		return Decision{Action: Abort, Reason: reason, Guards: g}
	}
	if InStep(r, now) < interval {
		return Decision{Action: Hold, Guards: g}
	}
	stepStart := r.GetStepStarted().AsTime()
	since := max(now.Sub(stepStart), 0)
	if reading(tel, r.GetDomain(), TrackCanary, since, stepStart).GetRequests() == 0 {
		g.Waiting = "no canary traffic observed in this step yet"
		return Decision{Action: Hold, Reason: g.Waiting, Guards: g}
	}
	if int(r.GetStep())+1 >= len(r.GetSteps()) {
		return Decision{Action: Complete, Guards: g}
	}
	return Decision{Action: Advance, Guards: g}
}

func reading(tel Telemetry, domain, track string, window time.Duration, since time.Time) *keywayv1.TrackReading {
	if tel == nil || window <= 0 {
		return &keywayv1.TrackReading{}
	}
	if st, ok := tel.(SinceTelemetry); ok {
		if r := st.TrackReadingSince(domain, track, window, since); r != nil {
			return r
		}
		return &keywayv1.TrackReading{}
	}
	if r := tel.TrackReading(domain, track, window); r != nil {
		return r
	}
	return &keywayv1.TrackReading{}
}

// Breach returns why the canary breaches one of r's guards compared with
// stable, or "" if it does not. A guard needs the canary to be worse than
// both its limit and the stable track: when the whole domain suffers, the
// new version is not the cause.
func Breach(r *keywayv1.Rollout, stable, canary *keywayv1.TrackReading) string {
	if canary.GetRequests() == 0 {
		return ""
	}
	if limit := r.GetMaxErrorRate(); limit > 0 && limit < 1 {
		if c, s := ErrorRate(canary), ErrorRate(stable); c > limit && c > s {
			return fmt.Sprintf("canary error rate %.2f%% (%d of %d requests) is above the limit %.2f%% and stable's %.2f%%",
				100*c, canary.GetErrors(), canary.GetRequests(), 100*limit, 100*s)
		}
	}
	if limit := r.GetMaxP99().AsDuration(); limit > 0 {
		c, s := canary.GetP99().AsDuration(), stable.GetP99().AsDuration()
		if c > limit && c > s {
			return fmt.Sprintf("canary p99 %s is above the limit %s and stable's %s", c, limit, s)
		}
	}
	return ""
}

// ErrorRate is t's share of failed requests, 0 without requests.
func ErrorRate(t *keywayv1.TrackReading) float64 {
	if t.GetRequests() == 0 {
		return 0
	}
	return float64(t.GetErrors()) / float64(t.GetRequests())
}
