package rollout

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// fakeTelemetry answers per track, and says whether the window asked
// for reaches back to since (traffic after the step began).
type fakeTelemetry struct {
	stable, canary *keywayv1.TrackReading
	// canarySinceStep is what a window no longer than the step answers.
	canarySinceStep *keywayv1.TrackReading
	step            time.Duration
}

func (f *fakeTelemetry) TrackReading(_, track string, window time.Duration) *keywayv1.TrackReading {
	if track == TrackStable {
		return f.stable
	}
	if f.canarySinceStep != nil && window <= f.step {
		return f.canarySinceStep
	}
	return f.canary
}

func tr(req, errs uint64, p99 time.Duration) *keywayv1.TrackReading {
	return &keywayv1.TrackReading{Requests: req, Errors: errs, P99: durationpb.New(p99)}
}

var t0 = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

func running(step uint32, started time.Time) *keywayv1.Rollout {
	p := Plan{Domain: "a", To: 2, MaxP99: 10 * time.Millisecond, Interval: time.Minute}
	if err := p.Normalize(); err != nil {
		panic(err)
	}
	r := newRollout(p, 1, started)
	r.Id, r.Step, r.Percent = "a-1", step, p.Steps[step]
	return r
}

func TestDecide(t *testing.T) {
	healthy := tr(1000, 0, time.Millisecond)
	cases := []struct {
		name   string
		r      *keywayv1.Rollout
		now    time.Time
		tel    *fakeTelemetry
		want   Action
		reason string
	}{
		{"inside the interval holds", running(0, t0), t0.Add(30 * time.Second),
			&fakeTelemetry{stable: healthy, canary: tr(10, 0, time.Millisecond)}, Hold, ""},
		{"interval passed with canary traffic advances", running(0, t0), t0.Add(time.Minute),
			&fakeTelemetry{stable: healthy, canary: tr(10, 0, time.Millisecond)}, Advance, ""},
		{"last step passed completes", running(3, t0), t0.Add(2 * time.Minute),
			&fakeTelemetry{stable: tr(0, 0, 0), canary: healthy}, Complete, ""},
		{"no canary traffic since the step began waits", running(1, t0), t0.Add(2 * time.Minute),
			&fakeTelemetry{stable: healthy, canary: tr(10, 0, 0), canarySinceStep: tr(0, 0, 0), step: 2 * time.Minute}, Hold, "no canary traffic"},
		{"error breach aborts mid-interval", running(1, t0), t0.Add(time.Second),
			&fakeTelemetry{stable: healthy, canary: tr(100, 50, time.Millisecond)}, Abort, "canary error rate 50.00%"},
		{"errors no worse than stable's hold", running(1, t0), t0.Add(time.Second),
			&fakeTelemetry{stable: tr(1000, 600, time.Millisecond), canary: tr(100, 50, time.Millisecond)}, Hold, ""},
		{"errors under the limit hold", running(1, t0), t0.Add(time.Second),
			&fakeTelemetry{stable: healthy, canary: tr(1000, 5, time.Millisecond)}, Hold, ""},
		{"p99 breach aborts", running(1, t0), t0.Add(time.Second),
			&fakeTelemetry{stable: healthy, canary: tr(100, 0, 50*time.Millisecond)}, Abort, "canary p99 50ms"},
		{"p99 no worse than stable's holds", running(1, t0), t0.Add(time.Second),
			&fakeTelemetry{stable: tr(100, 0, 80*time.Millisecond), canary: tr(100, 0, 50*time.Millisecond)}, Hold, ""},
		{"breach at the last step still aborts", running(3, t0), t0.Add(2 * time.Minute),
			&fakeTelemetry{stable: tr(0, 0, 0), canary: tr(100, 100, time.Millisecond)}, Abort, "100 of 100"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(c.r, c.now, c.tel)
			if d.Action != c.want {
				t.Fatalf("action %s (%s), want %s", d.Action, d.Reason, c.want)
			}
			if !strings.Contains(d.Reason, c.reason) {
				t.Errorf("reason %q does not contain %q", d.Reason, c.reason)
			}
			if d.Guards.GetCanary() == nil || d.Guards.GetStable() == nil {
				t.Errorf("decision carries no guard readings: %v", d.Guards)
			}
		})
	}
}

func TestPauseStopsTheClock(t *testing.T) {
	r := running(0, t0)
	if err := pause(r, t0.Add(40*time.Second)); err != nil {
		t.Fatal(err)
	}
	// An hour paused counts for nothing.
	if got := InStep(r, t0.Add(time.Hour)); got != 40*time.Second {
		t.Fatalf("in step after pause: %s, want 40s", got)
	}
	if !NextStep(r, t0.Add(time.Hour)).IsZero() {
		t.Errorf("a paused rollout has a next step")
	}
	resumed := t0.Add(time.Hour)
	if err := resume(r, resumed); err != nil {
		t.Fatal(err)
	}
	if got := NextStep(r, resumed); !got.Equal(resumed.Add(20 * time.Second)) {
		t.Errorf("next step %s, want 20s after resuming", got)
	}
	if err := resume(r, resumed); err == nil {
		t.Errorf("resuming a running rollout succeeded")
	}
}

func TestTransitionsRefuseFinished(t *testing.T) {
	for name, finish := range map[string]func(*keywayv1.Rollout) error{
		"completed": func(r *keywayv1.Rollout) error { return complete(r, t0, "") },
		"aborted":   func(r *keywayv1.Rollout) error { return abort(r, t0, "test") },
	} {
		t.Run(name, func(t *testing.T) {
			r := running(1, t0)
			if err := finish(r); err != nil {
				t.Fatal(err)
			}
			for op, fn := range map[string]func() error{
				"pause":    func() error { return pause(r, t0) },
				"advance":  func() error { return advance(r, t0) },
				"abort":    func() error { return abort(r, t0, "again") },
				"complete": func() error { return complete(r, t0, "") },
			} {
				if err := fn(); err == nil {
					t.Errorf("%s of a %s rollout succeeded", op, name)
				}
			}
		})
	}
}

func TestPlanNormalize(t *testing.T) {
	cases := []struct {
		name string
		p    Plan
		err  string
	}{
		{"defaults", Plan{Domain: "a", To: 2}, ""},
		{"no domain", Plan{To: 2}, "domain is required"},
		{"slash in domain", Plan{Domain: "a/b", To: 2}, "may not contain"},
		{"no target", Plan{Domain: "a"}, "target version"},
		{"decreasing steps", Plan{Domain: "a", To: 2, Steps: []uint32{10, 5, 100}}, "must increase"},
		{"last step not 100", Plan{Domain: "a", To: 2, Steps: []uint32{10, 50}}, "last step must be 100"},
		{"step over 100", Plan{Domain: "a", To: 2, Steps: []uint32{10, 150}}, "outside 1..100"},
		{"tiny interval", Plan{Domain: "a", To: 2, Interval: time.Millisecond}, "shorter than"},
		{"error rate over 1", Plan{Domain: "a", To: 2, MaxErrorRate: 2}, "outside 0..1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.p.Normalize()
			if c.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if Steps(c.p.Steps) != "1,10,50,100" || c.p.Interval != DefaultInterval || c.p.MaxErrorRate != DefaultMaxErrorRate {
					t.Errorf("defaults not applied: %+v", c.p)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one containing %q", err, c.err)
			}
		})
	}
}
