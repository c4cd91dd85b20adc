package rollout

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"keyway.dev/controlplane/xds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

type versions struct{}

func (versions) Get(_ context.Context, v uint64) (*keywayv1.PolicyVersion, error) {
	return &keywayv1.PolicyVersion{Version: v}, nil
}

// publisher records what it was last given.
type publisher struct {
	mu       sync.Mutex
	rollouts []xds.Rollout
	pins     []xds.Pin
}

func (p *publisher) SetRollouts(_ context.Context, rs []xds.Rollout) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rollouts = rs
	return nil
}

func (p *publisher) SetPins(_ context.Context, pins []xds.Pin) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pins = pins
	return nil
}

func (p *publisher) state() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := ""
	for _, r := range p.rollouts {
		s += fmt.Sprintf("rollout %s %s v%d %d%%;", r.ID, r.Domain, r.Canary.GetVersion(), r.Percent)
	}
	for _, pin := range p.pins {
		s += fmt.Sprintf("pin %s v%d base v%d;", pin.Domain, pin.Version.GetVersion(), pin.Base)
	}
	return s
}

func eventually(t *testing.T, what string, cond func() string, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := cond()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, want %q", what, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPublishFollowsEtcd(t *testing.T) {
	f := newFixture(t)
	pub := &publisher{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.st.Publish(ctx, versions{}, pub, func(err error) { t.Errorf("publish: %v", err) })
	}()
	defer func() { cancel(); <-done }()

	eventually(t, "empty", pub.state, "")
	f.start(t, 10, 100)
	eventually(t, "started", pub.state, "rollout a-1 a v2 10%;")
	f.clk.add(time.Minute)
	f.tick(t)
	eventually(t, "advanced", pub.state, "rollout a-1 a v2 100%;")
	f.clk.add(time.Minute)
	f.tick(t)
	eventually(t, "completed", pub.state, "pin a v2 base v1;")
}
