package rollout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"keyway.dev/controlplane/audit"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Options configure a Controller. Zero values take the defaults.
type Options struct {
	// Tick is how often running rollouts are judged; default 250ms, so an
	// abort follows a breach within a fraction of a second of the
	// telemetry showing it.
	Tick time.Duration
	// Now is the clock, for tests; default time.Now.
	Now    func() time.Time
	Audit  audit.Recorder
	Logger *slog.Logger
}

// Controller drives running rollouts: it advances them step by step and
// aborts those whose canary breaches a guard. Only one replica's
// controller may run at a time (see RunElected); it keeps no state of its
// own beyond etcd, so another can take over at any moment.
type Controller struct {
	store *Store
	tel   Telemetry
	opts  Options
}

// NewController returns a controller of st's rollouts judged on tel.
func NewController(st *Store, tel Telemetry, opts Options) *Controller {
	if opts.Tick <= 0 {
		opts.Tick = 250 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Controller{store: st, tel: tel, opts: opts}
}

// Run judges the running rollouts every tick until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	t := time.NewTicker(c.opts.Tick)
	defer t.Stop()
	for {
		if err := c.Tick(ctx); err != nil && ctx.Err() == nil {
			c.opts.Logger.Warn("rollout controller tick failed; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Tick judges every running rollout once and carries out the decisions.
func (c *Controller) Tick(ctx context.Context) error {
	st, _, err := c.store.State(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range st.Unfinished() {
		if r.GetState() != keywayv1.RolloutState_ROLLOUT_STATE_RUNNING {
			continue
		}
		if err := c.judge(ctx, r); err != nil {
			errs = append(errs, fmt.Errorf("rollout %s: %w", r.GetId(), err))
		}
	}
	return errors.Join(errs...)
}

// judge decides on r and writes the outcome, provided r is still what it
// was when judged (an operator may have paused or aborted it meanwhile).
func (c *Controller) judge(ctx context.Context, seen *keywayv1.Rollout) error {
	now := c.opts.Now().UTC()
	d := Decide(seen, now, c.tel)
	var event audit.Event
	_, err := c.store.Update(ctx, seen.GetDomain(), func(r *keywayv1.Rollout) (*keywayv1.Pin, error) {
		if r.GetId() != seen.GetId() || r.GetState() != seen.GetState() || r.GetStep() != seen.GetStep() {
			return nil, errNoChange
		}
		if d.Action == Hold && sameReadings(r.GetGuards(), d.Guards) {
			return nil, errNoChange
		}
		r.Guards = d.Guards
		switch d.Action {
		case Hold:
			return nil, nil
		case Advance:
			from := r.GetPercent()
			if err := advance(r, now); err != nil {
				return nil, err
			}
			event = audit.Event{Who: ControllerIdentity, Action: audit.RolloutAdvance, Target: r.GetDomain(),
				Detail: fmt.Sprintf("%s: canary v%d from %d%% to %d%%; %s", r.GetId(), r.GetToVersion(), from, r.GetPercent(), Describe(d.Guards))}
			return nil, nil
		case Complete:
			if err := complete(r, now, ""); err != nil {
				return nil, err
			}
			event = audit.Event{Who: ControllerIdentity, Action: audit.RolloutComplete, Target: r.GetDomain(),
				Detail: fmt.Sprintf("%s: v%d is the domain's stable version; %s", r.GetId(), r.GetToVersion(), Describe(d.Guards))}
			return pinOf(r), nil
		default:
			if err := abort(r, now, "guard breached: "+d.Reason); err != nil {
				return nil, err
			}
			event = audit.Event{Who: ControllerIdentity, Action: audit.RolloutAbort, Target: r.GetDomain(),
				Detail: fmt.Sprintf("%s: back to stable at %d%%: %s", r.GetId(), r.GetPercent(), r.GetReason())}
			return nil, nil
		}
	})
	if err != nil {
		return err
	}
	if event.Action != "" {
		c.opts.Logger.Info("rollout "+d.Action.String(), "domain", seen.GetDomain(), "rollout", seen.GetId(), "detail", event.Detail)
		if c.opts.Audit != nil {
			if err := c.opts.Audit.Record(ctx, event); err != nil {
				c.opts.Logger.Error("cannot record audit event", "action", event.Action, "err", err)
			}
		}
	}
	return nil
}

// pinOf is the pin a completed rollout leaves; Store.Update sets its base.
func pinOf(r *keywayv1.Rollout) *keywayv1.Pin {
	return &keywayv1.Pin{Domain: r.GetDomain(), Version: r.GetToVersion(), RolloutId: r.GetId()}
}

// sameReadings compares readings without their time, so a quiet domain
// costs no etcd writes.
func sameReadings(a, b *keywayv1.GuardReadings) bool {
	if a == nil || b == nil {
		return a == b
	}
	return proto.Equal(a.GetStable(), b.GetStable()) && proto.Equal(a.GetCanary(), b.GetCanary()) && a.GetWaiting() == b.GetWaiting()
}

// Describe words guard readings for people.
func Describe(g *keywayv1.GuardReadings) string {
	return fmt.Sprintf("canary %s, stable %s", track(g.GetCanary()), track(g.GetStable()))
}

func track(t *keywayv1.TrackReading) string {
	if t.GetRequests() == 0 {
		return "no requests"
	}
	return fmt.Sprintf("%d requests, %.2f%% errors, p99 %s", t.GetRequests(), 100*ErrorRate(t), t.GetP99().AsDuration())
}
