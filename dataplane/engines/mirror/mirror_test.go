package mirror

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	forward "keyway.dev/dataplane/engines/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// gated is a shadow that records what reached it and waits, before
// answering each batch, until its gate is open: a blocked Redis.
type gated struct {
	*enginetest.Recorder
	mu     sync.Mutex
	gate   chan struct{}
	opened bool
	// entered receives once per batch, when the shadow starts it.
	entered chan struct{}
}

func newGated(reply string) *gated {
	return &gated{Recorder: enginetest.NewRecorder("shadow", reply), gate: make(chan struct{}), entered: make(chan struct{}, 1024)}
}

func (g *gated) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.opened {
		close(g.gate)
		g.opened = true
	}
}

func (g *gated) Serve(ctx context.Context, b engine.Batch) {
	g.entered <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		for _, r := range b {
			r.Fail(engine.KindProxy, ctx.Err())
		}
		return
	}
	g.Recorder.Serve(ctx, b)
}

// newMirror builds a Mirror over the given children, as Build does, and
// stops it when the test ends.
func newMirror(t testing.TB, primary, shadow engine.Engine, cfg *keywayv1.Mirror) *Mirror {
	t.Helper()
	reg := engine.NewRegistry()
	engine.Add(reg, "mirror", Build)
	engine.Add(reg, "upstream", forward.Build)
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(reg, pools, "test", []*keywayv1.Upstream{
		{Name: "primary", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}},
		{Name: "shadow", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:2"}}},
	}, nil)
	fwd := func(n string) *keywayv1.Engine {
		return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: n}}}
	}
	cfg.Primary, cfg.Shadow = fwd("primary"), fwd("shadow")
	root, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Mirror{Mirror: cfg}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	m := root.(*engine.Labeled).Engine.(*Mirror)
	// The test doubles replace the built leaves.
	m.primary, m.shadow = primary, shadow
	release := b.Release()
	t.Cleanup(func() {
		release()
		<-m.done // the worker must be gone: no leaked goroutine
	})
	return m
}

// settle waits until the worker has accounted for want copies in all.
func settle(t *testing.T, m *Mirror, want uint64) Stats {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := m.Stats()
		if s.Mirrored+s.Dropped >= want && s.Queued == 0 {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("copies never settled: %+v, want %d", s, want)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCopies(t *testing.T) {
	tests := []struct {
		name    string
		cfg     *keywayv1.Mirror
		batch   []string
		primary func(*engine.Request) string // nil: OK
		shadow  []string
	}{
		{"everything by default", &keywayv1.Mirror{}, []string{"GET a", "SET b 1", "DEL c"},
			nil, []string{"GET a", "SET b 1", "DEL c"}},
		{"writes only", &keywayv1.Mirror{WritesOnly: true}, []string{"GET a", "SET b 1", "MGET c d", "INCR e"},
			nil, []string{"SET b 1", "INCR e"}},
		{"connection state is not mirrored", &keywayv1.Mirror{}, []string{"MULTI", "SET a 1", "EXEC", "BLPOP q 1", "SUBSCRIBE ch", "GET b"},
			nil, []string{"SET a 1", "GET b"}},
		{"unknown commands are not mirrored", &keywayv1.Mirror{}, []string{"NOSUCH a", "GET b"},
			nil, []string{"GET b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary := enginetest.NewRecorder("primary", "+p\r\n")
			shadow := enginetest.NewRecorder("shadow", "+s\r\n")
			m := newMirror(t, primary, shadow, tt.cfg)
			b := enginetest.Lines(tt.batch...)
			m.Serve(context.Background(), b)
			for i, r := range b {
				if got := enginetest.Reply(r); got != "+p\r\n" {
					t.Errorf("reply %d = %q, want the primary's", i, got)
				}
			}
			if got := primary.Lines(); !reflect.DeepEqual(got, tt.batch) {
				t.Errorf("primary saw %q, want the whole batch", got)
			}
			settle(t, m, uint64(len(tt.shadow)))
			if got := shadow.Lines(); !reflect.DeepEqual(got, tt.shadow) {
				t.Errorf("shadow saw %q, want %q", got, tt.shadow)
			}
		})
	}
}

// TestPrimaryFailureNotMirrored checks that a request the primary did
// not answer is not copied: the shadow would diverge.
func TestPrimaryFailureNotMirrored(t *testing.T) {
	primary := engine.Func(func(_ context.Context, b engine.Batch) {
		for _, r := range b {
			if string(r.Cmd.Args[1]) == "bad" {
				r.Fail(engine.KindTimeout, errors.New("TIMEOUT primary"))
			} else {
				r.Reply([]byte("+OK\r\n"))
			}
		}
	})
	shadow := enginetest.NewRecorder("shadow", "")
	m := newMirror(t, primary, shadow, &keywayv1.Mirror{})
	m.Serve(context.Background(), enginetest.Lines("SET bad 1", "SET good 1"))
	settle(t, m, 1)
	if got := shadow.Lines(); !reflect.DeepEqual(got, []string{"SET good 1"}) {
		t.Errorf("shadow saw %q", got)
	}
}

// TestBlockedShadow checks that a shadow that does not answer neither
// delays nor changes client replies, and that copies beyond the queue
// are dropped and counted.
func TestBlockedShadow(t *testing.T) {
	const n, queue = 200, 8
	primary := enginetest.NewRecorder("primary", "+p\r\n")
	shadow := newGated("+s\r\n")
	m := newMirror(t, primary, shadow, &keywayv1.Mirror{Queue: queue})
	ctx := context.Background()
	// The first copy is taken by the worker, which then blocks in the
	// shadow: from here the queue only fills.
	first := enginetest.Line("SET k0 v")
	engine.Do(ctx, m, first)
	<-shadow.entered
	for i := 1; i < n; i++ {
		r := enginetest.Line("SET k v")
		engine.Do(ctx, m, r)
		if got := enginetest.Reply(r); got != "+p\r\n" {
			t.Fatalf("reply %d = %q while the shadow is blocked", i, got)
		}
	}
	s := m.Stats()
	if s.Queued != queue || s.Dropped != n-1-queue {
		t.Fatalf("with the shadow blocked: %+v, want %d queued and %d dropped", s, queue, n-1-queue)
	}
	shadow.open()
	s = settle(t, m, n)
	if s.Mirrored != 1+queue || s.Dropped != n-1-queue {
		t.Errorf("after the shadow recovered: %+v, want %d mirrored and %d dropped", s, 1+queue, n-1-queue)
	}
	if got := len(shadow.Lines()); got != 1+queue {
		t.Errorf("shadow saw %d copies, want %d", got, 1+queue)
	}
}

// TestArgsCopied checks that the shadow gets the command as it was, after
// the server has reused the request's buffers for the next command.
func TestArgsCopied(t *testing.T) {
	primary := enginetest.NewRecorder("primary", "")
	shadow := newGated("")
	m := newMirror(t, primary, shadow, &keywayv1.Mirror{})
	ctx := context.Background()
	engine.Do(ctx, m, enginetest.Line("SET first 1"))
	<-shadow.entered
	r := enginetest.Line("SET key value")
	engine.Do(ctx, m, r)
	// Reuse, as the server does: overwrite the argument bytes in place.
	copy(r.Cmd.Args[1], "XXX")
	copy(r.Cmd.Args[2], "YYYYY")
	r.Reset()
	shadow.open()
	settle(t, m, 2)
	if got, want := shadow.Lines(), []string{"SET first 1", "SET key value"}; !reflect.DeepEqual(got, want) {
		t.Errorf("shadow saw %q, want %q", got, want)
	}
}

func TestCompare(t *testing.T) {
	primary := enginetest.NewRecorder("primary", "")
	primary.ReplyFunc = func(r *engine.Request) string { return "$1\r\n1\r\n" }
	shadow := enginetest.NewRecorder("shadow", "")
	shadow.ReplyFunc = func(r *engine.Request) string {
		switch string(r.Cmd.Args[1]) {
		case "same":
			return "$1\r\n1\r\n"
		case "gone":
			return "$-1\r\n"
		}
		return "$1\r\n2\r\n"
	}
	m := newMirror(t, primary, shadow, &keywayv1.Mirror{Compare: true})
	m.Serve(context.Background(), enginetest.Lines("GET same", "GET gone", "GET other", "GET same"))
	s := settle(t, m, 4)
	if s.Compared != 4 || s.Mismatches != 2 {
		t.Errorf("stats %+v, want 4 compared and 2 mismatches", s)
	}
}

func TestShadowErrorsNotMismatches(t *testing.T) {
	primary := enginetest.NewRecorder("primary", "")
	shadow := engine.Func(func(_ context.Context, b engine.Batch) {
		for _, r := range b {
			r.Fail(engine.KindProxy, errors.New("shadow down"))
		}
	})
	m := newMirror(t, primary, shadow, &keywayv1.Mirror{Compare: true})
	m.Serve(context.Background(), enginetest.Lines("GET a", "GET b"))
	s := settle(t, m, 2)
	if s.ShadowErrors != 2 || s.Mismatches != 0 || s.Compared != 0 {
		t.Errorf("stats %+v, want 2 shadow errors and nothing compared", s)
	}
}

// TestSample checks the copied share against five binomial standard
// deviations, sqrt(n*p*(1-p)) = 61 here: a fair sampler falls outside
// with probability below 1e-6, a sampler off by 2% does not fit.
func TestSample(t *testing.T) {
	const n, p = 20000, 0.25
	primary := enginetest.NewStatic("+OK\r\n")
	shadow := enginetest.NewStatic("+OK\r\n")
	m := newMirror(t, primary, shadow, &keywayv1.Mirror{Sample: p, Queue: n})
	ctx := context.Background()
	for range n {
		engine.Do(ctx, m, enginetest.Line("GET k"))
	}
	var s Stats
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if s = m.Stats(); s.Queued == 0 || time.Now().After(deadline) {
			break
		}
	}
	s = settle(t, m, s.Mirrored+s.Dropped)
	if s.Dropped != 0 {
		t.Fatalf("dropped %d with a queue as long as the test", s.Dropped)
	}
	if tol := 5 * math.Sqrt(n*p*(1-p)); math.Abs(float64(s.Mirrored)-n*p) > tol {
		t.Errorf("mirrored %d of %d, want %.0f ± %.0f", s.Mirrored, n, n*p, tol)
	}
}

// TestRelease checks that releasing the tree stops the worker even while
// the shadow is blocked.
func TestRelease(t *testing.T) {
	reg := engine.NewRegistry()
	engine.Add(reg, "mirror", Build)
	engine.Add(reg, "upstream", forward.Build)
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(reg, pools, "test", []*keywayv1.Upstream{
		{Name: "a", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}},
	}, nil)
	fwd := &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "a"}}}
	root, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Mirror{Mirror: &keywayv1.Mirror{Primary: fwd, Shadow: fwd}}})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	m := root.(*engine.Labeled).Engine.(*Mirror)
	shadow := newGated("")
	m.shadow = shadow
	engine.Do(context.Background(), m, enginetest.Line("SET a 1"))
	<-shadow.entered
	b.Release()()
	<-m.done // would hang (and time the test out) if the worker outlived its tree
	if held := pools.Held(); len(held) != 0 {
		t.Errorf("released tree still holds %v", held)
	}
}

func TestBuildErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  *keywayv1.Mirror
		want string
	}{
		{"sample above one", &keywayv1.Mirror{Sample: 1.5}, "sample must be in (0, 1]"},
		{"negative sample", &keywayv1.Mirror{Sample: -0.1}, "sample must be in (0, 1]"},
		{"missing shadow", &keywayv1.Mirror{}, "root.mirror.shadow: engine is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := engine.NewRegistry()
			engine.Add(reg, "mirror", Build)
			engine.Add(reg, "upstream", forward.Build)
			b := engine.NewBuilder(reg, enginetest.NewUpstreams(), "test", []*keywayv1.Upstream{
				{Name: "a", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}},
			}, nil)
			tt.cfg.Primary = &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "a"}}}
			_, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Mirror{Mirror: tt.cfg}})
			b.Release()()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name string
		cfg  *keywayv1.Mirror
		line string
		want string
	}{
		{"all", &keywayv1.Mirror{}, "GET k", "served by primary; copied to shadow"},
		{"sampled and compared", &keywayv1.Mirror{Sample: 0.1, Compare: true}, "SET k v", "served by primary; 10% of such requests copied to shadow, replies compared"},
		{"writes only", &keywayv1.Mirror{WritesOnly: true}, "GET k", "served by primary; not mirrored: not a write (writes_only)"},
		{"connection state", &keywayv1.Mirror{}, "SUBSCRIBE ch", "served by primary; not mirrored: holds connection state"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			primary := enginetest.NewRecorder("primary", "")
			m := newMirror(t, primary, enginetest.NewRecorder("shadow", ""), tt.cfg)
			x := engine.Explain(m, enginetest.Line(tt.line))
			if len(x.Steps) != 2 || x.Steps[0].Note != tt.want || x.Steps[1].Note != "recorder primary" {
				t.Errorf("steps %+v, want %q then the primary", x.Steps, tt.want)
			}
		})
	}
}
