package nearcache

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestHitAfterFill(t *testing.T) {
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{Prefixes: []string{"u:"}})
	s.Do("SET", "u:1", "one")
	s.Do("HSET", "u:h", "f", "x")
	p.sync() // the writes' invalidations would refuse the first fills
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"GET", "u:1"}, bulk("one")},
		{[]string{"GET", "u:none"}, "$-1\r\n"},
		{[]string{"HGET", "u:h", "f"}, bulk("x")},
		{[]string{"HGETALL", "u:h"}, "*2\r\n" + bulk("f") + bulk("x")},
		{[]string{"EXISTS", "u:1"}, ":1\r\n"},
	} {
		for i := range 2 {
			if got := p.do(tc.args...); got != tc.want {
				t.Errorf("%v (read %d) = %q, want %q", tc.args, i+1, got, tc.want)
			}
		}
	}
	if hits, misses := p.stat("hits"), p.stat("misses"); hits != 5 || misses != 5 {
		t.Errorf("hits %d misses %d, want 5 and 5", hits, misses)
	}
	// RESP3 replies are cached apart from RESP2 ones.
	if got, want := p.do3("HGETALL", "u:h"), "%1\r\n"+bulk("f")+bulk("x"); got != want {
		t.Errorf("RESP3 HGETALL = %q, want %q", got, want)
	}
	// Keys outside the prefixes and other commands go to Redis every time.
	s.Do("SET", "other", "v")
	p.sync()
	p.do("GET", "other")
	p.do("GET", "other")
	p.do("STRLEN", "u:1")
	if hits := p.stat("hits"); hits != 5 {
		t.Errorf("hits %d after uncached reads, want 5", hits)
	}
}

func TestDirectWriteInvalidates(t *testing.T) {
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{Prefixes: []string{"u:"}})
	s.Do("SET", "u:1", "old")
	p.sync()
	p.do("GET", "u:1")
	if got := p.do("GET", "u:1"); got != bulk("old") || p.stat("hits") != 1 {
		t.Fatalf("second read %q, hits %d: not cached", got, p.stat("hits"))
	}
	s.Do("SET", "u:1", "new")
	p.sync()
	if got := p.do("GET", "u:1"); got != bulk("new") {
		t.Errorf("after a direct write and sync: %q, want new", got)
	}
	if p.stat("invalidations") == 0 {
		t.Error("no invalidation counted")
	}
	// FLUSHALL arrives as a null invalidation: everything goes.
	p.do("GET", "u:1")
	s.Do("FLUSHALL")
	p.sync()
	if got := p.do("GET", "u:1"); got != "$-1\r\n" {
		t.Errorf("after FLUSHALL: %q, want nil", got)
	}
}

func TestWriteThroughInvalidatesBeforeReply(t *testing.T) {
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{Prefixes: []string{"u:"}})
	for i, write := range [][]string{
		{"SET", "u:1", "v1"},
		{"DEL", "u:1"},
		{"SET", "u:1", "v2"},
		{"APPEND", "u:1", "x"},
		{"EXPIRE", "u:1", "100"},
		{"RENAME", "u:1", "u:2"},
	} {
		before := p.do("GET", "u:1")
		p.do("GET", "u:1") // a hit, if cached
		p.do(write...)
		// No sync: the engine itself drops the key before answering.
		if got, want := p.do("GET", "u:1"), rawReply(t, s.Addr, "GET", "u:1"); got != want {
			t.Errorf("step %d (%v): read after the write = %q, redis has %q (before: %q)", i, write, got, want, before)
		}
	}
	// FLUSHDB through the engine drops everything.
	p.do("GET", "u:2")
	p.do("FLUSHDB")
	if got := p.do("GET", "u:2"); got != "$-1\r\n" {
		t.Errorf("after FLUSHDB through the engine: %q", got)
	}
}

func rawReply(t *testing.T, addr string, args ...string) string {
	got := rawDo(t, addr, args...)
	if got == "(nil)" {
		return "$-1\r\n"
	}
	return bulk(got)
}

func TestPipelineReadsItsOwnWrite(t *testing.T) {
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{})
	s.Do("SET", "k", "old")
	p.sync()
	p.do("GET", "k")
	b := enginetest.Lines("GET k", "SET k new", "GET k", "SET k newer", "EXISTS k", "GET k")
	p.root.Serve(context.Background(), b)
	want := []string{bulk("old"), "+OK\r\n", bulk("new"), "+OK\r\n", ":1\r\n", bulk("newer")}
	for i, r := range b {
		if got := string(r.Raw()); got != want[i] {
			t.Errorf("pipeline[%d] %s = %q, want %q", i, r.Cmd.Args[0], got, want[i])
		}
	}
}

func TestTTLBoundsEntries(t *testing.T) {
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{MaxAge: durationpb.New(time.Hour)})
	s.Do("SET", "short", "v", "PX", "600000")
	s.Do("SET", "long", "v")
	p.sync()
	before := nanotime()
	p.do("GET", "short")
	p.do("GET", "long")
	after := nanotime()
	for _, tc := range []struct {
		key    string
		within time.Duration
	}{{"short", 600 * time.Second}, {"long", time.Hour}} {
		e := p.entry("GET", tc.key)
		if e == nil {
			t.Fatalf("%s not cached", tc.key)
		}
		if e.expires < before || e.expires > after+int64(tc.within) {
			t.Errorf("%s expires at %d, want within %s of the fill (%d..%d)", tc.key, e.expires, tc.within, before, after)
		}
	}
}

// entry finds the RESP2 entry of a command, for white-box checks.
func (p *proxy) entry(args ...string) *entryView {
	r := enginetest.Req(args...)
	return held(p.nc.store, p.nc.store.shard(r.Cmd.Args[1]), string(appendSig(nil, r)))
}

// entryView is a copy of what an entry holds, for tests.
type entryView struct {
	expires, filled int64
	reply           []byte
	pos             uint32
}

// held returns sig's entry in sh, expired or not, or nil.
func held(st *store, sh *shard, sig string) *entryView {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	l, ok := findLocked(sh, []byte(sig), st.sigHash([]byte(sig)))
	if !ok {
		return nil
	}
	return &entryView{expires: entryExpires(l.data), filled: sh.ents[l.pos].filled, reply: bytes.Clone(entryReply(l.data)), pos: l.pos}
}

func TestBudgetAndEntrySize(t *testing.T) {
	s := redistest.Start(t)
	budget := uint64(64 * 1024)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{MaxBytes: budget, MaxEntryBytes: 512})
	s.Do("SET", "big", strings.Repeat("x", 600))
	p.sync()
	p.do("GET", "big")
	p.do("GET", "big")
	if p.stat("hits") != 0 || p.stat("too_large") != 2 {
		t.Errorf("a reply above max_entry_bytes: hits %d too_large %d, want 0 and 2", p.stat("hits"), p.stat("too_large"))
	}
	for i := range 2000 {
		p.do("SET", "k"+strconv.Itoa(i), strings.Repeat("v", 100))
	}
	p.sync()
	for i := range 2000 {
		p.do("GET", "k"+strconv.Itoa(i))
	}
	if got := p.stat("bytes"); got > budget {
		t.Errorf("bytes held %d above the budget %d", got, budget)
	}
	if p.stat("evictions") == 0 {
		t.Error("no eviction counted after filling past the budget")
	}
}

func TestAdmission(t *testing.T) {
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{AdmitReads: 3, AdmitWindow: durationpb.New(time.Hour)})
	s.Do("SET", "k", "v")
	p.sync()
	for i := range 3 {
		p.do("GET", "k")
		if p.stat("hits") != 0 {
			t.Fatalf("hit at read %d, before admission", i+1)
		}
	}
	if p.stat("fills") != 1 {
		t.Errorf("fills %d after three reads, want 1 (the third)", p.stat("fills"))
	}
	p.do("GET", "k")
	if p.stat("hits") != 1 {
		t.Errorf("the fourth read was not a hit")
	}
}

// TestReconnectFlushes kills the tracking connection: the cache must
// drop everything, cache nothing while the stream is down, and resume.
func TestReconnectFlushes(t *testing.T) {
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{})
	s.Do("SET", "k", "v1")
	p.sync()
	p.do("GET", "k")
	ids := trackingClients(t, s.Addr)
	if len(ids) != 1 {
		t.Fatalf("tracking connections on redis: %v, want one", ids)
	}
	s.Do("CLIENT", "KILL", "ID", ids[0])
	waitFor(t, "the gap to be seen", func() bool { return p.stat("gaps") >= 1 })
	if e := p.entry("GET", "k"); e != nil {
		t.Error("an entry survived the gap")
	}
	p.waitLive()
	if got := p.do("GET", "k"); got != bulk("v1") {
		t.Errorf("after the reconnect: %q", got)
	}
	s.Do("SET", "k", "v2")
	p.sync()
	if got := p.do("GET", "k"); got != bulk("v2") {
		t.Errorf("invalidation after the reconnect: %q, want v2", got)
	}
}

// TestFillRule checks the store refuses a fill whose ticket predates an
// invalidation of its key's epoch slot or a flush, the race of a read sent before a
// write whose invalidation is processed before the read's reply.
func TestFillRule(t *testing.T) {
	st := newStore(1<<20, 1<<16, &stats{})
	st.live.Store(true)
	key := []byte("k")
	sh, slot := st.locate(key)
	// A key of the same shard in another epoch slot: its invalidation
	// does not refuse k's fill.
	var other []byte
	for i := 0; other == nil; i++ {
		o := []byte("o" + strconv.Itoa(i))
		if osh, oslot := st.locate(o); osh == sh && oslot != slot {
			other = o
		}
	}
	for _, tc := range []struct {
		name   string
		event  func()
		cached bool
	}{
		{"nothing between", func() {}, true},
		{"invalidation of the key", func() { st.invalidate(key) }, false},
		{"invalidation of another slot's key", func() { st.invalidate(other) }, true},
		{"flush", st.flush, false},
		{"gap", func() { st.gap(); st.live.Store(true) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st.flush()
			tk := st.ticket(sh, slot, nanotime())
			tc.event()
			st.insert(sh, tk, "sig", []byte("k"), []byte("+v\r\n"), 0)
			cached := held(st, sh, "sig") != nil
			if cached != tc.cached {
				t.Errorf("cached = %v, want %v", cached, tc.cached)
			}
		})
	}
	st.live.Store(false)
	if tk := st.ticket(sh, slot, nanotime()); tk.ok {
		t.Error("a ticket was issued while tracking is not live")
	}
}

// TestCoalescing pauses Redis, sends identical reads from several
// clients, and checks one went upstream and the others joined it.
func TestCoalescing(t *testing.T) {
	slowKeepalive(t) // Redis is paused on purpose
	s := redistest.Start(t)
	// The first read must still be waiting on the paused Redis when the
	// last one arrives, however slowly a loaded machine starts the
	// readers: the 1 s default deadline ended the flight first once.
	up := standalone(s.Addr)
	up.Pool = &keywayv1.Pool{Timeout: durationpb.New(time.Minute)}
	p := newProxy(t, up, &keywayv1.NearCache{AdmitReads: 100, AdmitWindow: durationpb.New(time.Hour)})
	s.Do("SET", "k", "v")
	// The SET's invalidation must be applied before the reads take their
	// tickets: applied after the first, it spoils that flight, the next
	// read starts another, and the count of joins stops one short.
	p.sync()
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	replies := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = p.do("GET", "k")
		}()
	}
	waitFor(t, "the reads to coalesce", func() bool { return p.stat("coalesced") == n-1 })
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, r := range replies {
		if r != bulk("v") {
			t.Errorf("read %d = %q", i, r)
		}
	}
	if p.stat("misses") != n {
		t.Errorf("misses %d, want %d", p.stat("misses"), n)
	}
}

// TestNoJoinAfterInvalidation: a read arriving after an invalidation of
// its key must not take the reply of a read sent before it.
func TestNoJoinAfterInvalidation(t *testing.T) {
	slowKeepalive(t) // Redis is paused on purpose
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{})
	s.Do("SET", "k", "v")
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string)
	go func() { first <- p.do("GET", "k") }()
	waitFor(t, "the first read to be in flight", func() bool { return p.stat("misses") == 1 })
	p.nc.store.invalidate([]byte("k")) // as a write through this proxy would
	second := make(chan string)
	go func() { second <- p.do("GET", "k") }()
	waitFor(t, "the second read to miss", func() bool { return p.stat("misses") == 2 })
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	<-first
	<-second
	if c := p.stat("coalesced"); c != 0 {
		t.Errorf("coalesced %d: a read joined a flight older than an invalidation of its key", c)
	}
}

func TestBuildErrors(t *testing.T) {
	ups := []*keywayv1.Upstream{standalone("127.0.0.1:1")}
	for _, tc := range []struct {
		cfg  *keywayv1.NearCache
		want string
	}{
		{&keywayv1.NearCache{MaxBytes: 1}, "next must be an upstream"},
		{&keywayv1.NearCache{Next: routeTree(), MaxBytes: 1 << 20}, "next must be an upstream"},
		{&keywayv1.NearCache{Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main", ReadFromReplicas: true}}}, MaxBytes: 1 << 20}, "reads from replicas"},
		{&keywayv1.NearCache{Next: leaf("main")}, "max_bytes must be positive"},
		{&keywayv1.NearCache{Next: leaf("nope"), MaxBytes: 1 << 20}, `unknown upstream "nope"`},
		{&keywayv1.NearCache{Next: leaf("main"), MaxBytes: 100, MaxEntryBytes: 200}, "max_entry_bytes 200 is above max_bytes 100"},
		{&keywayv1.NearCache{Next: leaf("main"), MaxBytes: 1 << 20, Prefixes: []string{"user:", "user:1"}}, "overlap"},
		{&keywayv1.NearCache{Next: leaf("main"), MaxBytes: 1 << 20, Prefixes: []string{""}}, "an empty prefix"},
		{&keywayv1.NearCache{Next: leaf("main"), MaxBytes: 1 << 20, Commands: []string{"SET"}}, "SET cannot be answered"},
		{&keywayv1.NearCache{Next: leaf("main"), MaxBytes: 1 << 20, Commands: []string{"get", "GET"}}, "listed twice"},
		{&keywayv1.NearCache{Next: leaf("main"), MaxBytes: 1 << 20, MaxAge: durationpb.New(-time.Second)}, "max_age must be positive"},
		{&keywayv1.NearCache{Next: leaf("main"), MaxBytes: 1 << 20, AdmitReads: 2}, "needs admit_window"},
	} {
		b := engine.NewBuilder(registry(), enginetest.NewUpstreams(), "web", ups, nil)
		_, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_NearCache{NearCache: tc.cfg}})
		b.Release()()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestExplain(t *testing.T) {
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{Prefixes: []string{"u:"}, Commands: []string{"GET"}})
	s.Do("SET", "u:1", "v")
	p.sync()
	explain := func(line string) string {
		x := engine.Explain(p.root, enginetest.Line(line))
		if x.Upstream != "main" {
			t.Errorf("%s reaches %q, want main", line, x.Upstream)
		}
		return x.String()
	}
	for _, tc := range []struct{ line, want string }{
		{"GET u:1", "near cache miss"},
		{"GET other", "outside its prefixes"},
		{"HGET u:1 f", "it answers [GET]"},
	} {
		if got := explain(tc.line); !strings.Contains(got, tc.want) {
			t.Errorf("explain %s = %q, want %q", tc.line, got, tc.want)
		}
	}
	p.do("GET", "u:1")
	if got := explain("GET u:1"); !strings.Contains(got, "served from the near cache") {
		t.Errorf("explain after a fill = %q", got)
	}
	// Explain has no side effects: it neither counts nor fills.
	if p.stat("misses") != 1 || p.stat("hits") != 0 {
		t.Errorf("explain moved counters: misses %d hits %d", p.stat("misses"), p.stat("hits"))
	}
}

func TestExplainWithoutTracking(t *testing.T) {
	ups := []*keywayv1.Upstream{standalone("127.0.0.1:1")}
	b := engine.NewBuilder(registry(), enginetest.NewUpstreams(), "web", ups, nil)
	root, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_NearCache{NearCache: &keywayv1.NearCache{Next: leaf("main"), MaxBytes: 1 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()()
	if got := engine.Explain(root, enginetest.Line("GET k")).String(); !strings.Contains(got, "cannot report changes") {
		t.Errorf("explain over an upstream that cannot track = %q", got)
	}
}

// slowKeepalive keeps a paused Redis from counting as a silent node.
func slowKeepalive(t *testing.T) {
	old := keepalive
	keepalive = time.Hour
	t.Cleanup(func() { keepalive = old })
}

func TestMGetFromCachedGets(t *testing.T) {
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{Prefixes: []string{"u:"}})
	s.Do("SET", "u:a", "A")
	s.Do("SET", "u:b", "B")
	p.sync()
	p.do("GET", "u:a")
	p.do("GET", "u:b")
	p.do3("GET", "u:a")
	p.do3("GET", "u:none")
	hits := p.stat("hits")
	if got, want := p.do("MGET", "u:a", "u:b"), "*2\r\n"+bulk("A")+bulk("B"); got != want {
		t.Errorf("MGET of cached keys = %q, want %q", got, want)
	}
	if got, want := p.do3("MGET", "u:a", "u:none"), "*2\r\n"+bulk("A")+"_\r\n"; got != want {
		t.Errorf("RESP3 MGET = %q, want %q", got, want)
	}
	if got := p.stat("hits"); got != hits+2 {
		t.Errorf("hits %d, want %d: the MGETs were not answered from memory", got, hits+2)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"MGET", "u:a", "u:c"}, "*2\r\n" + bulk("A") + "$-1\r\n"},   // u:c not cached
		{[]string{"MGET", "u:a", "other"}, "*2\r\n" + bulk("A") + "$-1\r\n"}, // outside the prefixes
	} {
		if got := p.do(tc.args...); got != tc.want {
			t.Errorf("%v = %q, want %q", tc.args, got, tc.want)
		}
	}
	if got := p.stat("hits"); got != hits+2 {
		t.Errorf("hits %d after MGETs with uncached keys, want %d", got, hits+2)
	}
	s.Do("SET", "u:b", "B2")
	p.sync()
	if got, want := p.do("MGET", "u:a", "u:b"), "*2\r\n"+bulk("A")+bulk("B2"); got != want {
		t.Errorf("MGET after a direct write = %q, want %q", got, want)
	}
}

// TestSilentNodeIsAGap pauses Redis (as a partition would silence it):
// the unanswered keepalive is a gap, the cache is flushed and nothing is
// answered from memory until the node answers again.
func TestSilentNodeIsAGap(t *testing.T) {
	s := redistest.Start(t)
	p := newProxy(t, standalone(s.Addr), &keywayv1.NearCache{})
	s.Do("SET", "k", "v")
	p.sync()
	p.do("GET", "k")
	if p.entry("GET", "k") == nil {
		t.Fatal("not cached")
	}
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the silence to be a gap", func() bool { return p.stat("gaps") >= 1 })
	if p.nc.Live() || p.entry("GET", "k") != nil {
		t.Error("still live, or an entry survived, while the node is silent")
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	p.waitLive()
	if got := p.do("GET", "k"); got != bulk("v") {
		t.Errorf("after the node came back: %q", got)
	}
}
