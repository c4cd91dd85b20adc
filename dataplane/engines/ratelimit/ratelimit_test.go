package ratelimit

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

var mainUpstream = []*keywayv1.Upstream{{Name: "main", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}}

func registry() *engine.Registry {
	r := engine.NewRegistry()
	engine.Add(r, "ratelimit", Build)
	engine.Add(r, "upstream", upstream.Build)
	return r
}

func limitOf(cfg *keywayv1.RateLimit) *keywayv1.Engine {
	if cfg.Next == nil {
		cfg.Next = &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}}
	}
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Ratelimit{Ratelimit: cfg}}
}

// clock is a fake time source; sleeping advances it and is recorded.
type clock struct {
	mu     sync.Mutex
	t      time.Duration
	sleeps []time.Duration
}

func (c *clock) now() time.Duration { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); c.t += d; c.mu.Unlock() }

func (c *clock) sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.sleeps = append(c.sleeps, d)
	c.mu.Unlock()
	c.advance(d)
	return nil
}

func build(t *testing.T, cfg *keywayv1.RateLimit, env *engine.Env) (*Limiter, *enginetest.Upstreams, *clock) {
	t.Helper()
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(registry(), pools, "batch", mainUpstream, env)
	root, err := b.Build(limitOf(cfg))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(b.Release())
	l := root.(*engine.Labeled).Engine.(*Limiter)
	c := &clock{}
	l.now, l.sleep, l.last = c.now, c.sleep, 0
	return l, pools, c
}

// outcome is "ok", or the refusal's limit ("ops", "bytes").
func outcomes(b engine.Batch) []string {
	out := make([]string, len(b))
	for i, r := range b {
		switch reply := enginetest.Reply(r); {
		case reply == enginetest.OK:
			out[i] = "ok"
		case strings.Contains(reply, "ops/s"):
			out[i] = "ops"
		case strings.Contains(reply, "bytes/s"):
			out[i] = "bytes"
		default:
			out[i] = reply
		}
	}
	return out
}

func TestRefuse(t *testing.T) {
	type step struct {
		advance time.Duration
		batch   []string
		want    []string
	}
	tests := []struct {
		name  string
		cfg   *keywayv1.RateLimit
		steps []step
	}{
		{"ops burst then refill", &keywayv1.RateLimit{OpsPerSecond: 2, Mode: keywayv1.RateLimit_MODE_REFUSE}, []step{
			{0, []string{"GET a", "GET b", "GET c"}, []string{"ok", "ok", "ops"}},
			{0, []string{"GET d"}, []string{"ops"}},
			{500 * time.Millisecond, []string{"GET e", "GET f"}, []string{"ok", "ops"}},
			{10 * time.Second, []string{"GET g", "GET h", "GET i"}, []string{"ok", "ok", "ops"}}, // the bucket holds one second
		}},
		{"burst seconds", &keywayv1.RateLimit{OpsPerSecond: 1, BurstSeconds: 3}, []step{
			{0, []string{"GET a", "GET b", "GET c", "GET d"}, []string{"ok", "ok", "ok", "ops"}},
		}},
		{"bytes: sum of argument lengths", &keywayv1.RateLimit{BytesPerSecond: 20}, []step{
			// 14 and 4 bytes fit the 20-byte bucket; 4 more do not.
			{0, []string{"SET k 0123456789", "GET k"}, []string{"ok", "ok"}},
			{0, []string{"GET k"}, []string{"bytes"}},
		}},
		{"a request bigger than the bucket passes when it is full", &keywayv1.RateLimit{BytesPerSecond: 10}, []step{
			{0, []string{"SET key 0123456789abcdef"}, []string{"ok"}},
			{0, []string{"GET k"}, []string{"bytes"}},
			{3 * time.Second, []string{"GET k"}, []string{"ok"}},
		}},
		{"both limits", &keywayv1.RateLimit{OpsPerSecond: 100, BytesPerSecond: 8}, []step{
			{0, []string{"GET abcd", "GET x"}, []string{"ok", "bytes"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, pools, c := build(t, tt.cfg, nil)
			var passed []string
			for i, s := range tt.steps {
				c.advance(s.advance)
				b := enginetest.Lines(s.batch...)
				l.Serve(context.Background(), b)
				if got := outcomes(b); !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d: %q, want %q", i, got, s.want)
				}
				for j, r := range b {
					if s.want[j] == "ok" {
						passed = append(passed, s.batch[j])
					} else if r.Kind() != engine.KindRefused {
						t.Errorf("step %d request %d kind %v", i, j, r.Kind())
					}
				}
			}
			if got := pools.Get("main").Lines(); !reflect.DeepEqual(got, passed) {
				t.Errorf("upstream saw %q, want %q", got, passed)
			}
			if len(c.sleeps) != 0 {
				t.Errorf("refuse mode slept %v", c.sleeps)
			}
		})
	}
}

func TestMessages(t *testing.T) {
	l, _, _ := build(t, &keywayv1.RateLimit{OpsPerSecond: 50000, BurstSeconds: 0.00002}, nil)
	b := enginetest.Lines("GET a", "GET b")
	l.Serve(context.Background(), b)
	if got, want := enginetest.Reply(b[1]), "-ERR keyway: rate limit of 50000 ops/s for domain \"batch\" exceeded\r\n"; got != want {
		t.Errorf("reply %q, want %q", got, want)
	}
	l, _, _ = build(t, &keywayv1.RateLimit{BytesPerSecond: 4, Mode: keywayv1.RateLimit_MODE_DELAY, MaxDelay: durationpb.New(time.Second)}, nil)
	b = enginetest.Lines("GET abcdefgh", "GET abcdefgh")
	l.Serve(context.Background(), b)
	if got, want := enginetest.Reply(b[1]), "-ERR keyway: rate limit of 4 bytes/s for domain \"batch\" exceeded (a wait over max_delay 1s)\r\n"; got != want {
		t.Errorf("reply %q, want %q", got, want)
	}
}

func TestDelay(t *testing.T) {
	cfg := &keywayv1.RateLimit{OpsPerSecond: 10, Mode: keywayv1.RateLimit_MODE_DELAY, MaxDelay: durationpb.New(250 * time.Millisecond)}
	l, pools, c := build(t, cfg, nil)
	// Ten tokens; the next two wait 100ms and 200ms; the one after would
	// wait 300ms, over max_delay, and is refused.
	lines := make([]string, 13)
	for i := range lines {
		lines[i] = "GET k"
	}
	b := enginetest.Lines(lines...)
	l.Serve(context.Background(), b)
	got := outcomes(b)
	want := append(append([]string{}, "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok", "ok"), "ok", "ok", "ops")
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("outcomes %q, want %q", got, want)
	}
	if !reflect.DeepEqual(c.sleeps, []time.Duration{200 * time.Millisecond}) {
		t.Errorf("slept %v, want one 200ms wait for the batch", c.sleeps)
	}
	if n := len(pools.Get("main").Lines()); n != 12 {
		t.Errorf("upstream saw %d requests, want 12", n)
	}
	if l.Stats().Delayed.Load() != 12 || l.Stats().Refused.Load() != 1 || l.Stats().Admitted.Load() != 12 {
		t.Errorf("stats delayed %d refused %d admitted %d", l.Stats().Delayed.Load(), l.Stats().Refused.Load(), l.Stats().Admitted.Load())
	}

	t.Run("cancelled wait", func(t *testing.T) {
		l, pools, _ := build(t, &keywayv1.RateLimit{OpsPerSecond: 1, Mode: keywayv1.RateLimit_MODE_DELAY, MaxDelay: durationpb.New(time.Hour)}, nil)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		b := enginetest.Lines("GET a", "GET b")
		l.Serve(ctx, b)
		if b[1].Kind() != engine.KindTimeout || !strings.Contains(enginetest.Reply(b[1]), "context canceled") {
			t.Errorf("reply %q kind %v, want a cancelled wait", enginetest.Reply(b[1]), b[1].Kind())
		}
		if n := len(pools.Get("main").Lines()); n != 0 {
			t.Errorf("upstream saw %d requests of a cancelled batch", n)
		}
	})
	t.Run("real sleep respects the context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := sleepCtx(ctx, time.Hour); err == nil {
			t.Error("sleepCtx ignored a cancelled context")
		}
	})
}

func TestPriority(t *testing.T) {
	tests := []struct {
		name       string
		priority   uint32
		inFlight   int64
		saturation int64
		want       []string // two requests after 100ms from an empty 10 ops/s bucket
	}{
		{"not saturated", 1, 5, 10, []string{"ok", "ops"}},
		{"saturated, priority 0 is never scaled", 0, 50, 10, []string{"ok", "ops"}},
		{"saturated, priority 1 gets half the rate", 1, 50, 10, []string{"ops", "ops"}},
		{"negative saturation turns priorities off", 1, 50, -1, []string{"ok", "ops"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := &engine.Env{Saturation: tt.saturation}
			l, _, c := build(t, &keywayv1.RateLimit{OpsPerSecond: 10, Priority: tt.priority}, env)
			l.ops.tokens = 0
			env.InFlight.Store(tt.inFlight)
			c.advance(100 * time.Millisecond) // earns 1 token at full rate, 0.5 at half
			b := enginetest.Lines("GET a", "GET b")
			l.Serve(context.Background(), b)
			if got := outcomes(b); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("outcomes %q, want %q", got, tt.want)
			}
			if got := env.InFlight.Load(); got != tt.inFlight {
				t.Errorf("in-flight count %d after serving, want it back at %d", got, tt.inFlight)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	l, _, _ := build(t, &keywayv1.RateLimit{OpsPerSecond: 2000, Mode: keywayv1.RateLimit_MODE_DELAY, Priority: 1}, nil)
	x := engine.Explain(l, enginetest.Line("GET a"))
	if x.Upstream != "main" || !strings.Contains(x.String(), "limit 2000 ops/s, delay up to 100ms over it, priority 1") {
		t.Errorf("explain:\n%s", x)
	}
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name    string
		cfg     *keywayv1.RateLimit
		wantErr string
	}{
		{"no rate", &keywayv1.RateLimit{}, "limits nothing"},
		{"negative", &keywayv1.RateLimit{OpsPerSecond: -1}, "not negative"},
		{"negative burst", &keywayv1.RateLimit{OpsPerSecond: 1, BurstSeconds: -1}, "burst_seconds must be > 0"},
		{"max_delay in refuse mode", &keywayv1.RateLimit{OpsPerSecond: 1, Mode: keywayv1.RateLimit_MODE_REFUSE, MaxDelay: durationpb.New(time.Second)}, "only applies"},
		{"next", &keywayv1.RateLimit{OpsPerSecond: 1, Next: &keywayv1.Engine{}}, "root.ratelimit.next: engine has no kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := engine.NewBuilder(registry(), enginetest.NewUpstreams(), "batch", mainUpstream, nil)
			_, err := b.Build(limitOf(tt.cfg))
			b.Release()()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Build error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestReplayIsNotChargedAgain(t *testing.T) {
	// A transaction's results pass back up the tree at EXEC; the
	// commands were charged when they were queued.
	// The tree's wrapper of the limiter, not the limiter, knows to let
	// a replay pass (engine.Replay).
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(registry(), pools, "batch", mainUpstream, nil)
	root, err := b.Build(limitOf(&keywayv1.RateLimit{OpsPerSecond: 2, Mode: keywayv1.RateLimit_MODE_DELAY, MaxDelay: durationpb.New(time.Hour)}))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(b.Release())
	l := root.(*engine.Labeled).Engine.(*Limiter)
	c := &clock{}
	l.now, l.sleep, l.last = c.now, c.sleep, 0
	queued := enginetest.Lines("SET a 1", "SET b 2")
	root.Serve(context.Background(), queued)
	for i := range 2 {
		replay := enginetest.Lines([]string{"SET a 1", "SET b 2"}[i])
		engine.Replay(context.Background(), root, replay[0])
		if got := enginetest.Reply(replay[0]); got != enginetest.OK {
			t.Fatalf("replay %d: %q", i, got)
		}
	}
	if len(c.sleeps) != 0 {
		t.Fatalf("replays were delayed: %v", c.sleeps)
	}
	if got := l.stats.Admitted.Load(); got != 2 {
		t.Fatalf("admitted %d, want 2: replays were counted", got)
	}
	// The bucket (2 ops) is empty after the two queued commands, not
	// after four: the next request waits one refill, not more.
	next := enginetest.Lines("GET a")
	root.Serve(context.Background(), next)
	if len(c.sleeps) != 1 || c.sleeps[0] > time.Second {
		t.Fatalf("sleeps %v, want one of at most 1s", c.sleeps)
	}
	if n := len(pools.Get("main").Lines()); n != 5 {
		t.Fatalf("upstream saw %d requests, want 5 (replays pass through)", n)
	}
}
