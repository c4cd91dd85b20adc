package failover

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// flaky is a child that records what reached it and, while err is set,
// fails every request with it, as the upstream client does.
type flaky struct {
	rec *enginetest.Recorder
	mu  sync.Mutex
	err error
}

func newFlaky(name string) *flaky { return &flaky{rec: enginetest.NewRecorder(name, "+"+name+"\r\n")} }

func (c *flaky) set(err error) { c.mu.Lock(); c.err = err; c.mu.Unlock() }

func (c *flaky) Serve(ctx context.Context, b engine.Batch) {
	c.rec.Serve(ctx, b)
	c.mu.Lock()
	err := c.err
	c.mu.Unlock()
	if err == nil {
		return
	}
	for _, r := range b {
		kind := engine.KindProxy
		var ue *upstream.Error
		if errors.As(err, &ue) {
			kind = ue.Kind()
		}
		r.Fail(kind, err)
	}
}

func upErr(what error) error {
	return &upstream.Error{What: what, Upstream: "x", Addr: "127.0.0.1:1", Cause: errors.New("boom"), Timeout: time.Second}
}

// clock is a manual clock for cooldowns.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newFailover(threshold uint32, cooldown time.Duration, kids ...*flaky) (*Failover, *clock) {
	clk := &clock{t: time.Unix(1000, 0)}
	f := &Failover{now: clk.now}
	for _, k := range kids {
		f.children = append(f.children, child{e: k, br: &breaker{threshold: threshold, cooldown: cooldown}})
	}
	return f, clk
}

func TestRetry(t *testing.T) {
	tests := []struct {
		name  string
		err   error // child a's failure
		batch []string
		// seen is what a and b received; replies are the client's.
		seenA, seenB []string
		replies      []string
	}{
		{"healthy first child serves all", nil, []string{"GET k", "SET k v"},
			[]string{"GET k", "SET k v"}, nil, []string{"+a\r\n", "+a\r\n"}},
		{"read retried after timeout", upErr(upstream.ErrTimeout), []string{"GET k"},
			[]string{"GET k"}, []string{"GET k"}, []string{"+b\r\n"}},
		{"read retried after lost connection", upErr(upstream.ErrConnLost), []string{"HGETALL h"},
			[]string{"HGETALL h"}, []string{"HGETALL h"}, []string{"+b\r\n"}},
		{"write not retried after timeout: it may have run", upErr(upstream.ErrTimeout), []string{"SET k v"},
			[]string{"SET k v"}, nil, []string{"-TIMEOUT keyway: upstream x (127.0.0.1:1) did not answer within 1s\r\n"}},
		{"write not retried after lost connection", upErr(upstream.ErrConnLost), []string{"INCR n"},
			[]string{"INCR n"}, nil, []string{"-ERR keyway: connection to upstream x (127.0.0.1:1) was lost: boom\r\n"}},
		{"write retried when never sent", upErr(upstream.ErrUnavailable), []string{"INCR n"},
			[]string{"INCR n"}, []string{"INCR n"}, []string{"+b\r\n"}},
		{"eval is not a read", upErr(upstream.ErrTimeout), []string{"EVAL x 0"},
			[]string{"EVAL x 0"}, nil, nil},
		{"read-only eval is a read", upErr(upstream.ErrTimeout), []string{"EVAL_RO x 0"},
			[]string{"EVAL_RO x 0"}, []string{"EVAL_RO x 0"}, []string{"+b\r\n"}},
		{"blocking read not retried", upErr(upstream.ErrTimeout), []string{"XREAD BLOCK 10 STREAMS s 0"},
			[]string{"XREAD BLOCK 10 STREAMS s 0"}, nil, nil},
		{"canceled client not retried", upErr(upstream.ErrCanceled), []string{"GET k"},
			[]string{"GET k"}, nil, nil},
		{"generic proxy failure retries reads only", errors.New("keyway: broken"), []string{"GET a", "SET b 1"},
			[]string{"GET a", "SET b 1"}, []string{"GET a"}, []string{"+b\r\n", "-ERR keyway: broken\r\n"}},
		{"pipeline: safe requests move on in order", upErr(upstream.ErrConnLost),
			[]string{"GET a", "SET b 1", "MGET c d", "DEL e", "STRLEN f"},
			[]string{"GET a", "SET b 1", "MGET c d", "DEL e", "STRLEN f"},
			[]string{"GET a", "MGET c d", "STRLEN f"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := newFlaky("a"), newFlaky("b")
			a.set(tt.err)
			f, _ := newFailover(100, time.Minute, a, b)
			batch := enginetest.Lines(tt.batch...)
			f.Serve(context.Background(), batch)
			if got := a.rec.Lines(); !reflect.DeepEqual(got, tt.seenA) {
				t.Errorf("a saw %q, want %q", got, tt.seenA)
			}
			if got := b.rec.Lines(); !reflect.DeepEqual(got, tt.seenB) {
				t.Errorf("b saw %q, want %q", got, tt.seenB)
			}
			if len(b.rec.Batches()) > 1 {
				t.Errorf("b got %d batches, want the retries in one", len(b.rec.Batches()))
			}
			for i, r := range batch {
				if !r.Done() {
					t.Errorf("request %d unanswered", i)
				}
			}
			if tt.replies != nil {
				if got := enginetest.Replies(batch); !reflect.DeepEqual(got, tt.replies) {
					t.Errorf("replies %q, want %q", got, tt.replies)
				}
			}
		})
	}
}

func TestThirdChild(t *testing.T) {
	a, b, c := newFlaky("a"), newFlaky("b"), newFlaky("c")
	a.set(upErr(upstream.ErrUnavailable))
	b.set(upErr(upstream.ErrTimeout))
	f, _ := newFailover(100, time.Minute, a, b, c)
	batch := enginetest.Lines("GET k", "SET k v")
	f.Serve(context.Background(), batch)
	// SET was never sent by a, so it may go on; b timed out on it, so it
	// may have run there and must stop.
	if got, want := enginetest.Replies(batch), []string{"+c\r\n", "-TIMEOUT keyway: upstream x (127.0.0.1:1) did not answer within 1s\r\n"}; !reflect.DeepEqual(got, want) {
		t.Errorf("replies %q, want %q", got, want)
	}
	if got := c.rec.Lines(); !reflect.DeepEqual(got, []string{"GET k"}) {
		t.Errorf("c saw %q", got)
	}
	if got := f.Stats().Retried; got != 3 {
		t.Errorf("Retried = %d, want 3 (two to b, one to c)", got)
	}
}

// TestBreaker walks a child's breaker through open, a failed probe, and
// a successful one, on a manual clock.
func TestBreaker(t *testing.T) {
	a, b := newFlaky("a"), newFlaky("b")
	f, clk := newFailover(2, 10*time.Second, a, b)
	a.set(upErr(upstream.ErrUnavailable))
	steps := []struct {
		name    string
		advance time.Duration
		heal    bool
		// toA: whether a is tried; state is a's breaker after.
		toA   bool
		state State
	}{
		{"first failure", 0, false, true, Closed},
		{"second failure opens", 0, false, true, Open},
		{"open: a is skipped", 0, false, false, Open},
		{"still cooling", 9 * time.Second, false, false, Open},
		{"cooldown passed: probe fails, reopens", time.Second, false, true, Open},
		{"reopened for a full cooldown", 5 * time.Second, false, false, Open},
		{"probe succeeds, closes", 5 * time.Second, true, true, Closed},
		{"closed: a serves", 0, true, true, Closed},
	}
	for _, s := range steps {
		clk.advance(s.advance)
		if s.heal {
			a.set(nil)
		}
		a.rec.Reset()
		b.rec.Reset()
		batch := enginetest.Lines("GET k")
		f.Serve(context.Background(), batch)
		if got := len(a.rec.Lines()) > 0; got != s.toA {
			t.Fatalf("%s: a tried = %v, want %v", s.name, got, s.toA)
		}
		if got := f.Stats().Children[0].State; got != s.state {
			t.Fatalf("%s: a's breaker %v, want %v", s.name, got, s.state)
		}
		want := "+b\r\n"
		if s.heal {
			want = "+a\r\n"
		}
		if got := enginetest.Reply(batch[0]); got != want {
			t.Fatalf("%s: reply %q, want %q", s.name, got, want)
		}
	}
	if got := f.Stats().Children[0].Opened; got != 2 {
		t.Errorf("a's breaker opened %d times, want 2", got)
	}
}

func TestAnsweredIsHealthy(t *testing.T) {
	a, b := newFlaky("a"), newFlaky("b")
	a.rec.Reply = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
	f, _ := newFailover(1, time.Minute, a, b)
	for range 3 {
		f.Serve(context.Background(), enginetest.Lines("GET k"))
	}
	if got := len(b.rec.Lines()); got != 0 {
		t.Errorf("b saw %d requests: a Redis error reply must not count as a failure", got)
	}
	if got := f.Stats().Children[0].State; got != Closed {
		t.Errorf("a's breaker %v, want closed", got)
	}
}

func TestAllOpen(t *testing.T) {
	a, b := newFlaky("a"), newFlaky("b")
	a.set(upErr(upstream.ErrUnavailable))
	b.set(upErr(upstream.ErrUnavailable))
	f, _ := newFailover(1, time.Minute, a, b)
	f.Serve(context.Background(), enginetest.Lines("GET k")) // opens both
	a.rec.Reset()
	b.rec.Reset()
	batch := enginetest.Lines("GET k", "SET k v")
	f.Serve(context.Background(), batch)
	for i, r := range batch {
		if got := enginetest.Reply(r); !strings.Contains(got, "every child is failing") {
			t.Errorf("reply %d = %q, want the all-open error", i, got)
		}
	}
	if n := len(a.rec.Lines()) + len(b.rec.Lines()); n != 0 {
		t.Errorf("children saw %d requests with every breaker open", n)
	}
	x := engine.Explain(f, enginetest.Line("GET k"))
	if !strings.Contains(x.Refusal, "every child is failing") {
		t.Errorf("explain refusal %q", x.Refusal)
	}
}

func TestExplain(t *testing.T) {
	a, b := newFlaky("a"), newFlaky("b")
	f, clk := newFailover(1, 10*time.Second, a, b)
	x := engine.Explain(f, enginetest.Line("GET k"))
	if x.Steps[0].Note != "children[0]: breaker closed" {
		t.Errorf("healthy: %q", x.Steps[0].Note)
	}
	a.set(upErr(upstream.ErrUnavailable))
	f.Serve(context.Background(), enginetest.Lines("GET k"))
	clk.advance(4 * time.Second)
	x = engine.Explain(f, enginetest.Line("GET k"))
	if got := x.Steps[0].Note; got != "children[0]: breaker open after 1 consecutive failures, probed again in 6s: skipped" {
		t.Errorf("open: %q", got)
	}
	if got := x.Steps[1].Note; got != "children[1]: breaker closed" {
		t.Errorf("open, then: %q", got)
	}
	clk.advance(6 * time.Second)
	x = engine.Explain(f, enginetest.Line("GET k"))
	if got := x.Steps[0].Note; !strings.Contains(got, "the next batch probes it") {
		t.Errorf("cooled: %q", got)
	}
	if got := f.Stats().Children[0].State; got != Open {
		t.Errorf("explain changed the breaker to %v", got)
	}
}

func TestBuildErrors(t *testing.T) {
	fwd := func(n string) *keywayv1.Engine {
		return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: n}}}
	}
	tests := []struct {
		name string
		cfg  *keywayv1.Failover
		want string
	}{
		{"one child", &keywayv1.Failover{Children: []*keywayv1.Engine{fwd("a")}}, "at least two"},
		{"negative cooldown", &keywayv1.Failover{Children: []*keywayv1.Engine{fwd("a"), fwd("b")}, Cooldown: durationpb.New(-time.Second)}, "cooldown must be positive"},
		{"child error", &keywayv1.Failover{Children: []*keywayv1.Engine{fwd("a"), fwd("nosuch")}}, "root.failover.children[1].upstream: unknown upstream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pools := enginetest.NewUpstreams()
			b := engine.NewBuilder(registry(), pools, "test", ups(map[string]string{"a": "127.0.0.1:1", "b": "127.0.0.1:1"}), nil)
			_, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Failover{Failover: tt.cfg}})
			b.Release()()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Build error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
