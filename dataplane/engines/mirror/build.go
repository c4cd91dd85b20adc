package mirror

import (
	"context"

	"keyway.dev/dataplane/engine"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// DefaultQueue is the queue length when the policy sets none, as in the
// renderer.
const DefaultQueue = kinds.MirrorDefaultQueue

// Build compiles a Mirror and starts its worker, which stops when the
// tree is released (or the build fails).
func Build(b *engine.Builder, cfg *keywayv1.Mirror) (engine.Engine, error) {
	sample := cfg.GetSample()
	if sample == 0 {
		sample = kinds.MirrorDefaultSample
	}
	if err := kinds.Share("sample", sample); err != nil {
		return nil, err
	}
	queue := cfg.GetQueue()
	if queue == 0 {
		queue = DefaultQueue
	}
	m := &Mirror{
		all:        sample >= 1,
		sample:     sample,
		writesOnly: cfg.GetWritesOnly(),
		compare:    cfg.GetCompare(),
		queue:      make(chan *job, queue),
		done:       make(chan struct{}),
	}
	if !m.all {
		m.threshold = uint64(sample * (1 << 64))
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	// Registered before the children are built, so on release the worker
	// is told to stop before the shadow's upstream references go.
	b.OnRelease(m.close)
	var err error
	if m.primary, err = b.Child("primary", cfg.GetPrimary()); err != nil {
		return nil, err
	}
	if m.shadow, err = b.Child("shadow", cfg.GetShadow()); err != nil {
		return nil, err
	}
	go m.run()
	return m, nil
}
