package xds

import (
	"context"
	"fmt"
	"sync"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Publisher rebuilds the fleet's snapshot whenever one of its inputs
// changes and installs it in the cache, which pushes it to every proxy.
type Publisher struct {
	cache cachev3.SnapshotCache

	mu       sync.Mutex
	active   *keywayv1.PolicyVersion
	flags    []*keywayv1.Flag
	rollouts []Rollout
	pins     []Pin
	snap     *Snapshot
}

// Active returns the active policy version the snapshot was built from,
// or nil before the first one. It keeps serving when etcd is down.
func (p *Publisher) Active() *keywayv1.PolicyVersion {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.active
}

// Snapshot returns the snapshot being served, or nil.
func (p *Publisher) Snapshot() *Snapshot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snap
}

// SetActive publishes v as the active policy version.
func (p *Publisher) SetActive(ctx context.Context, v *keywayv1.PolicyVersion) error {
	return p.update(ctx, func() { p.active = v })
}

// SetFlags publishes the fleet's flags.
func (p *Publisher) SetFlags(ctx context.Context, flags []*keywayv1.Flag) error {
	return p.update(ctx, func() { p.flags = flags })
}

// SetRollouts publishes the running rollouts.
func (p *Publisher) SetRollouts(ctx context.Context, rs []Rollout) error {
	return p.update(ctx, func() { p.rollouts = rs })
}

// ActiveSource is where the active version comes from: store.Store.
type ActiveSource interface {
	WatchActive(ctx context.Context, fn func(*keywayv1.PolicyVersion)) error
}

// Run publishes every activation src reports until ctx ends. A version
// that cannot be assembled is reported to onErr and the last good
// snapshot keeps serving.
func (p *Publisher) Run(ctx context.Context, src ActiveSource, onErr func(error)) error {
	return src.WatchActive(ctx, func(v *keywayv1.PolicyVersion) {
		if err := p.SetActive(ctx, v); err != nil && onErr != nil {
			onErr(err)
		}
	})
}

// update applies change to the inputs, assembles and installs the result;
// if assembly fails the inputs are rolled back.
func (p *Publisher) update(ctx context.Context, change func()) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	active, flags, rollouts, pins := p.active, p.flags, p.rollouts, p.pins
	change()
	if p.active == nil {
		return nil // nothing to serve yet; proxies wait on their watches
	}
	snap, err := assemble(p.active, p.pins, p.flags, p.rollouts)
	if err != nil {
		p.active, p.flags, p.rollouts, p.pins = active, flags, rollouts, pins
		return err
	}
	if p.snap != nil && sameVersions(p.snap, snap) {
		p.snap = snap
		return nil
	}
	if err := p.cache.SetSnapshot(ctx, nodeHash, snap); err != nil {
		p.active, p.flags, p.rollouts, p.pins = active, flags, rollouts, pins
		return fmt.Errorf("install snapshot: %w", err)
	}
	p.snap = snap
	return nil
}

func sameVersions(a, b *Snapshot) bool {
	if len(a.versions) != len(b.versions) {
		return false
	}
	for t, v := range a.versions {
		if b.versions[t] != v {
			return false
		}
	}
	return true
}
