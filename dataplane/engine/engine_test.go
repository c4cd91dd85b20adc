package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestAppendError(t *testing.T) {
	tests := []struct{ msg, want string }{
		{"boom", "-ERR boom\r\n"},
		{"TRYAGAIN keyway: no policy received yet", "-TRYAGAIN keyway: no policy received yet\r\n"},
		{"CROSSSLOT Keys in request don't hash to the same slot", "-CROSSSLOT Keys in request don't hash to the same slot\r\n"},
		{"Lowercase code", "-ERR Lowercase code\r\n"},
		{"NOSPACE", "-ERR NOSPACE\r\n"},
		{"two\r\nlines", "-ERR two  lines\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.msg, func(t *testing.T) {
			if got := string(AppendError(nil, tt.msg)); got != tt.want {
				t.Fatalf("AppendError(%q) = %q, want %q", tt.msg, got, tt.want)
			}
		})
	}
}

func TestRequestReplyAndFail(t *testing.T) {
	var r Request
	r.Reply([]byte("+OK\r\n"))
	if !r.Done() || r.Kind() != KindNone || string(r.Raw()) != "+OK\r\n" {
		t.Fatalf("after Reply: done=%v kind=%v raw=%q", r.Done(), r.Kind(), r.Raw())
	}
	r.Reply([]byte("-WRONGTYPE x\r\n"))
	if r.Kind() != KindUpstream {
		t.Fatalf("an error reply from Redis is kind %v, want upstream", r.Kind())
	}
	r.Reset()
	if r.Done() || len(r.Raw()) != 0 {
		t.Fatal("Reset left a reply behind")
	}
	cause := errors.New("TIMEOUT keyway: upstream a did not answer")
	r.Fail(KindTimeout, cause)
	if r.Kind() != KindTimeout || !errors.Is(r.Err(), cause) || !strings.HasPrefix(string(r.Raw()), "-TIMEOUT ") {
		t.Fatalf("after Fail: kind=%v err=%v raw=%q", r.Kind(), r.Err(), r.Raw())
	}
}

// tagger answers each request with its own name, and records the order it
// saw requests in.
type tagger struct {
	name string
	mu   sync.Mutex
	seen []string
}

func (g *tagger) Serve(_ context.Context, b Batch) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, r := range b {
		g.seen = append(g.seen, string(r.Cmd.Args[1]))
		r.Reply([]byte("+" + g.name + "\r\n"))
	}
}

func batch(keys ...string) Batch {
	b := make(Batch, len(keys))
	for i, k := range keys {
		b[i] = &Request{}
		b[i].Cmd.Args = [][]byte{[]byte("GET"), []byte(k)}
	}
	return b
}

func TestDispatchKeepsOrderPerChild(t *testing.T) {
	a, b := &tagger{name: "a"}, &tagger{name: "b"}
	reqs := batch("a1", "b1", "a2", "x", "b2", "a3")
	Dispatch(context.Background(), reqs, func(r *Request) Engine {
		switch r.Cmd.Args[1][0] {
		case 'a':
			return a
		case 'b':
			return b
		}
		r.Fail(KindRefused, errors.New("no route"))
		return nil
	})
	want := []string{"+a", "+b", "+a", "-ERR no route", "+b", "+a"}
	for i, r := range reqs {
		if got := strings.TrimSpace(string(r.Raw())); got != want[i] {
			t.Fatalf("reply %d = %q, want %q", i, got, want[i])
		}
	}
	if fmt.Sprint(a.seen) != "[a1 a2 a3]" || fmt.Sprint(b.seen) != "[b1 b2]" {
		t.Fatalf("children saw a=%v b=%v", a.seen, b.seen)
	}
}

func TestDispatchSingleChildPassesBatchWhole(t *testing.T) {
	var calls atomic.Int32
	e := &Labeled{Engine: Func(func(_ context.Context, b Batch) {
		calls.Add(1)
		for _, r := range b {
			r.Reply([]byte("+OK\r\n"))
		}
	})}
	reqs := batch("k1", "k2", "k3")
	Dispatch(context.Background(), reqs, func(*Request) Engine { return e })
	if calls.Load() != 1 {
		t.Fatalf("child served %d batches, want 1", calls.Load())
	}
	// An uncomparable engine (a bare Func) must not make Dispatch panic.
	calls.Store(0)
	Dispatch(context.Background(), reqs, func(*Request) Engine { return e.Engine })
	if calls.Load() != 3 {
		t.Fatalf("bare Func served %d batches, want one per request", calls.Load())
	}
	if allocs := testing.AllocsPerRun(100, func() {
		for _, r := range reqs {
			r.done = false
		}
		Dispatch(context.Background(), reqs[:1], func(*Request) Engine { return e })
	}); allocs != 0 {
		t.Fatalf("Dispatch of one request allocates %v times", allocs)
	}
}

func TestCurrentRetiresStateAfterLastBatch(t *testing.T) {
	var cur Current
	if cur.Acquire() != nil {
		t.Fatal("Acquire before Install returned a state")
	}
	released := 0
	tree := NewTree("d", &keywayv1.DomainTree{Version: "v1"}, nil, func() { released++ })
	s1 := NewState(map[string]*Domain{"d": {Name: "d", Stable: tree}}, nil, "v1")
	cur.Install(s1)
	held := cur.Acquire()
	if held != s1 {
		t.Fatal("Acquire did not return the installed state")
	}
	// v2 keeps the same tree (an unchanged domain), so it takes a ref.
	s2 := NewState(map[string]*Domain{"d": {Name: "d", Stable: tree.Ref()}}, nil, "v2")
	cur.Install(s2)
	select {
	case <-s1.Retired():
		t.Fatal("v1 retired while a batch still held it")
	default:
	}
	held.Release()
	<-s1.Retired()
	if released != 0 {
		t.Fatal("the shared tree was released while v2 still uses it")
	}
	cur.Install(NewState(map[string]*Domain{}, nil, "v3"))
	<-s2.Retired()
	if released != 1 {
		t.Fatalf("tree released %d times, want 1", released)
	}
}

func TestCurrentConcurrentAcquireInstall(t *testing.T) {
	var cur Current
	cur.Install(NewState(nil, nil, "v0"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := cur.Acquire()
				select {
				case <-s.Retired():
					t.Error("acquired a retired state")
				default:
				}
				s.Release()
			}
		}()
	}
	for v := 1; v <= 200; v++ {
		cur.Install(NewState(nil, nil, fmt.Sprint("v", v)))
	}
	close(stop)
	wg.Wait()
}

func TestTreeForIsStableAndMonotonic(t *testing.T) {
	stable, canary := &Tree{Version: "v1"}, &Tree{Version: "v2"}
	d := &Domain{Stable: stable, Canary: canary, RolloutID: "r1"}
	const n = 4000
	onCanary := map[uint64]bool{}
	for _, pct := range []uint32{10, 50, 90} {
		d.CanaryPercent = pct
		count := 0
		for h := uint64(0); h < n; h++ {
			tr, isCanary := d.TreeFor(&Session{Hash: h * 0x9E3779B97F4A7C15})
			if isCanary != (tr == canary) {
				t.Fatal("TreeFor's flag disagrees with its tree")
			}
			if onCanary[h] && !isCanary {
				t.Fatalf("session %d left the canary when the share rose to %d%%", h, pct)
			}
			if isCanary {
				onCanary[h] = true
				count++
			}
		}
		// Binomial: sd = sqrt(n p (1-p)) <= 32 for n=4000; 5 sd is
		// far beyond chance for a uniform hash.
		want := n * int(pct) / 100
		if count < want-160 || count > want+160 {
			t.Fatalf("%d%% canary put %d of %d sessions there", pct, count, n)
		}
	}
	d.CanaryPercent = 0
	if tr, _ := d.TreeFor(&Session{Hash: 1}); tr != stable {
		t.Fatal("0% canary did not pick stable")
	}
}

type okEngine struct{}

func (okEngine) Serve(_ context.Context, b Batch) {
	for _, r := range b {
		r.Reply([]byte("+OK\r\n"))
	}
}

type fakeUpstreams struct{ acquired, released int }

type fakeUpstream struct {
	okEngine
	name string
}

func (u fakeUpstream) Name() string { return u.name }

func (f *fakeUpstreams) Acquire(u *keywayv1.Upstream) (Upstream, func(), error) {
	if u.GetStandalone().GetAddress() == "" {
		return nil, nil, errors.New("no address")
	}
	f.acquired++
	return fakeUpstream{name: u.GetName()}, func() { f.released++ }, nil
}

func TestBuilderErrorsNameThePath(t *testing.T) {
	reg := NewRegistry()
	Add(reg, "upstream", func(b *Builder, cfg *keywayv1.Forward) (Engine, error) {
		return b.Upstream(cfg.GetName())
	})
	Add(reg, "reject", func(b *Builder, cfg *keywayv1.Reject) (Engine, error) {
		return b.Child("next", cfg.GetNext())
	})
	pools := &fakeUpstreams{}
	ups := []*keywayv1.Upstream{{Name: "a", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}}
	leaf := func(n string) *keywayv1.Engine {
		return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: n}}}
	}
	tests := []struct {
		name string
		root *keywayv1.Engine
		want string
	}{
		{"unknown upstream", &keywayv1.Engine{Source: "main.star:3:5", Kind: &keywayv1.Engine_Reject{Reject: &keywayv1.Reject{Next: leaf("b")}}},
			`root.reject.next.upstream: unknown upstream "b" (the tree has a)`},
		{"missing child", &keywayv1.Engine{Kind: &keywayv1.Engine_Reject{Reject: &keywayv1.Reject{}}}, "root.reject.next: engine is missing"},
		{"unsupported kind", &keywayv1.Engine{Source: "main.star:9:1", Kind: &keywayv1.Engine_Mirror{Mirror: &keywayv1.Mirror{}}},
			`root (main.star:9:1): engine kind "mirror" is not supported by this proxy (it knows reject, upstream)`},
		{"no kind", &keywayv1.Engine{}, "root: engine has no kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := NewBuilder(reg, pools, "d", ups, nil)
			_, err := b.Build(tt.root)
			b.Release()()
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error = %v, want %q", err, tt.want)
			}
		})
	}
	b := NewBuilder(reg, pools, "d", ups, nil)
	root, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Reject{Reject: &keywayv1.Reject{Next: leaf("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	r := &Request{}
	Do(context.Background(), root, r)
	if string(r.Raw()) != "+OK\r\n" {
		t.Fatalf("reply %q", r.Raw())
	}
	b.Release()()
	if pools.acquired != pools.released {
		t.Fatalf("acquired %d, released %d", pools.acquired, pools.released)
	}
}

func TestAddPanicsOnUnknownKind(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Add of an unknown kind did not panic")
		}
	}()
	Add(NewRegistry(), "nonsense", func(*Builder, *keywayv1.Forward) (Engine, error) { return nil, nil })
}

func TestFlagPercent(t *testing.T) {
	var env Env
	if env.FlagPercent("d", "f") != 0 {
		t.Fatal("unknown flag is not off")
	}
	env.SetFlags([]*keywayv1.Flag{{Domain: "d", Flag: "f", Percent: 30}})
	if env.FlagPercent("d", "f") != 30 || env.FlagPercent("e", "f") != 0 {
		t.Fatal("flags not applied per domain")
	}
	var nilEnv *Env
	if nilEnv.FlagPercent("d", "f") != 0 {
		t.Fatal("nil Env")
	}
}
