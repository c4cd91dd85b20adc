package rollout

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keyway.dev/controlplane/audit"
	"keyway.dev/controlplane/etcdtest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// clock is a fake time source the test moves by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// recorder keeps audit events in memory.
type recorder struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (r *recorder) Record(_ context.Context, e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, e)
	return nil
}

func (r *recorder) actions() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.evs {
		out = append(out, e.Action)
	}
	return strings.Join(out, " ")
}

// setActive points the fleet's active version at v, as store.Push does.
func setActive(t *testing.T, cli *clientv3.Client, v string) {
	t.Helper()
	if _, err := cli.Put(context.Background(), "/keyway/default/active", v); err != nil {
		t.Fatal(err)
	}
}

type fixture struct {
	st  *Store
	clk *clock
	tel *fakeTelemetry
	rec *recorder
	ctl *Controller
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	e := etcdtest.Start(t)
	setActive(t, e.Client(), "1")
	clk := &clock{t: t0}
	st := NewStore(e.Client(), "")
	st.now = clk.now
	f := &fixture{st: st, clk: clk, tel: &fakeTelemetry{stable: tr(1000, 0, time.Millisecond), canary: tr(100, 0, time.Millisecond)}, rec: &recorder{}}
	f.ctl = NewController(st, f.tel, Options{Now: clk.now, Audit: f.rec})
	return f
}

func (f *fixture) start(t *testing.T, steps ...uint32) *keywayv1.Rollout {
	t.Helper()
	p := Plan{Domain: "a", To: 2, Steps: steps, Interval: time.Minute}
	if err := p.Normalize(); err != nil {
		t.Fatal(err)
	}
	r, err := f.st.Create(context.Background(), p, 1)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) tick(t *testing.T) *keywayv1.Rollout {
	t.Helper()
	if err := f.ctl.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := f.st.Latest(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestControllerRunsToCompletionAndPins(t *testing.T) {
	f := newFixture(t)
	f.start(t, 10, 50, 100)
	type want struct {
		percent uint32
		state   keywayv1.RolloutState
	}
	running, done := keywayv1.RolloutState_ROLLOUT_STATE_RUNNING, keywayv1.RolloutState_ROLLOUT_STATE_COMPLETED
	for i, w := range []want{{10, running}, {50, running}, {100, running}, {100, done}} {
		if i > 0 {
			f.clk.add(time.Minute)
		}
		r := f.tick(t)
		if r.GetPercent() != w.percent || r.GetState() != w.state {
			t.Fatalf("tick %d: %s at %d%%, want %s at %d%%", i, r.GetState(), r.GetPercent(), w.state, w.percent)
		}
	}
	st, _, err := f.st.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pin := st.Pin("a")
	if pin.GetVersion() != 2 || pin.GetBaseVersion() != 1 || pin.GetRolloutId() != "a-1" {
		t.Errorf("pin %v, want a on v2 against v1 from a-1", pin)
	}
	if got := f.rec.actions(); got != "rollout.advance rollout.advance rollout.complete" {
		t.Errorf("audit %q", got)
	}
}

func TestControllerAbortsOnBreachAndRecordsWhy(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	f.clk.add(10 * time.Second)
	f.tel.canary = tr(200, 150, time.Millisecond)
	r := f.tick(t)
	if r.GetState() != keywayv1.RolloutState_ROLLOUT_STATE_ABORTED {
		t.Fatalf("state %s, want aborted", r.GetState())
	}
	if !strings.Contains(r.GetReason(), "guard breached: canary error rate 75.00%") {
		t.Errorf("reason %q", r.GetReason())
	}
	if r.GetGuards().GetCanary().GetErrors() != 150 {
		t.Errorf("guards not recorded: %v", r.GetGuards())
	}
	st, _, _ := f.st.State(context.Background())
	if st.Pin("a") != nil || len(st.Unfinished()) != 0 {
		t.Errorf("an aborted rollout left %v unfinished and pin %v", st.Unfinished(), st.Pin("a"))
	}
	// A new rollout of the domain may start once the old one is over.
	if r := f.start(t); r.GetId() != "a-2" {
		t.Errorf("next rollout id %q, want a-2", r.GetId())
	}
}

func TestControllerLeavesPausedAlone(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	if _, err := f.st.Update(context.Background(), "a", func(r *keywayv1.Rollout) (*keywayv1.Pin, error) {
		return nil, pause(r, f.clk.now())
	}); err != nil {
		t.Fatal(err)
	}
	f.clk.add(time.Hour)
	f.tel.canary = tr(100, 100, time.Millisecond)
	if r := f.tick(t); r.GetState() != keywayv1.RolloutState_ROLLOUT_STATE_PAUSED || r.GetPercent() != 1 {
		t.Errorf("paused rollout became %s at %d%%", r.GetState(), r.GetPercent())
	}
}

// A controller that restarts (or another replica taking over) has only
// etcd to go on, and continues from the stored step.
func TestControllerContinuesAfterRestart(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	f.clk.add(time.Minute)
	if r := f.tick(t); r.GetPercent() != 10 {
		t.Fatalf("percent %d, want 10", r.GetPercent())
	}
	f.ctl = NewController(f.st, f.tel, Options{Now: f.clk.now, Audit: f.rec})
	f.clk.add(30 * time.Second)
	if r := f.tick(t); r.GetPercent() != 10 {
		t.Fatalf("restarted controller moved to %d%% mid-interval", r.GetPercent())
	}
	f.clk.add(30 * time.Second)
	if r := f.tick(t); r.GetPercent() != 50 || r.GetStep() != 2 {
		t.Fatalf("restarted controller at %d%% step %d, want 50%% step 2", r.GetPercent(), r.GetStep())
	}
}

func TestStoreRefusesSecondUnfinishedRollout(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	p := Plan{Domain: "a", To: 3}
	_ = p.Normalize()
	if _, err := f.st.Create(context.Background(), p, 1); err == nil || !strings.Contains(err.Error(), "unfinished") {
		t.Fatalf("second rollout: %v", err)
	}
}

// The pin's base must be the active version at the moment it is written.
func TestPinTakesTheActiveVersionAsBase(t *testing.T) {
	f := newFixture(t)
	f.start(t)
	setActive(t, f.st.cli, "7")
	r, err := f.st.Update(context.Background(), "a", func(r *keywayv1.Rollout) (*keywayv1.Pin, error) {
		if err := complete(r, f.clk.now(), "promoted"); err != nil {
			return nil, err
		}
		r.Updated = timestamppb.New(f.clk.now())
		return pinOf(r), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st, _, _ := f.st.State(context.Background())
	if p := st.Pin("a"); p.GetBaseVersion() != 7 || p.GetVersion() != r.GetToVersion() {
		t.Errorf("pin %v, want v%d against v7", p, r.GetToVersion())
	}
}
