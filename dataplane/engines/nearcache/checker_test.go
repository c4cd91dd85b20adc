package nearcache

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keyway.dev/dataplane/cluster"
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// A linearizability-style checker for the near cache's promise: once a
// write is acknowledged, no read that starts afterwards returns a value
// the write overwrote. Reads through the proxy that acknowledged the
// write get no allowance at all. Reads through another proxy, or after a
// write sent to Redis directly, get the invalidation delay, defined
// without a clock: the delay has passed once a Sync (a PING on every
// tracking connection, answered after every push Redis emitted before
// it) started after the acknowledgement and ended before the read began.
//
// Every write stores a unique value, so a read names the write it saw.
// A read of key k returning the value of write w is a violation when
//   - w was invoked after the read returned (a value from the future), or
//   - some write w2 of k began after w was acknowledged (so w2 follows w
//     in every linearization), was acknowledged before the read began,
//     and either went through the read's proxy or was synced on it.
//
// This is the part of linearizability the near cache promises (Jepsen's
// "stale read"); reads racing unacknowledged writes may see either value.

// op is one client operation of the history.
type op struct {
	key     string
	write   bool
	via     string // proxy name, or "direct"
	value   string // written, or read ("" for a nil reply)
	invoke  int64
	respond int64 // math.MaxInt64 when the outcome is unknown
}

// syncSpan is one successful Sync of a proxy.
type syncSpan struct{ start, end int64 }

type history struct {
	mu    sync.Mutex
	ops   []op
	syncs map[string][]syncSpan
}

func (h *history) add(o op) {
	h.mu.Lock()
	h.ops = append(h.ops, o)
	h.mu.Unlock()
}

func (h *history) addSync(via string, s syncSpan) {
	h.mu.Lock()
	if h.syncs == nil {
		h.syncs = map[string][]syncSpan{}
	}
	h.syncs[via] = append(h.syncs[via], s)
	h.mu.Unlock()
}

// synced reports whether a sync of via started after t0 and ended before
// t1.
func (h *history) synced(via string, t0, t1 int64) bool {
	for _, s := range h.syncs[via] {
		if s.start > t0 && s.end < t1 {
			return true
		}
	}
	return false
}

// check returns every violation, described.
func (h *history) check(initial string) []string {
	writes := map[string][]op{}
	byValue := map[string]op{}
	for _, o := range h.ops {
		if o.write {
			writes[o.key] = append(writes[o.key], o)
			byValue[o.key+"\x00"+o.value] = o
		}
	}
	var bad []string
	for _, r := range h.ops {
		if r.write {
			continue
		}
		w, ok := byValue[r.key+"\x00"+r.value]
		if !ok {
			if r.value != initial {
				bad = append(bad, fmt.Sprintf("read of %s via %s returned %q, never written", r.key, r.via, r.value))
				continue
			}
			w = op{key: r.key, write: true, via: "setup", value: initial, invoke: math.MinInt64, respond: math.MinInt64}
		}
		if w.invoke > r.respond {
			bad = append(bad, fmt.Sprintf("read of %s via %s returned %q, written after the read returned", r.key, r.via, r.value))
			continue
		}
		for _, w2 := range writes[r.key] {
			if w2.invoke <= w.respond || w2.respond >= r.invoke {
				continue
			}
			if w2.via == r.via || h.synced(r.via, w2.respond, r.invoke) {
				bad = append(bad, fmt.Sprintf("stale read of %s via %s at %d: %q (written via %s), but %q was acknowledged via %s at %d",
					r.key, r.via, r.invoke, r.value, w.via, w2.value, w2.via, w2.respond))
				break
			}
		}
	}
	return bad
}

// TestCheckerCatchesStaleReads feeds the checker histories with and
// without a stale read, so a quiet checker means something.
func TestCheckerCatchesStaleReads(t *testing.T) {
	base := []op{
		{key: "k", write: true, via: "p", value: "a", invoke: 10, respond: 20},
		{key: "k", write: true, via: "q", value: "b", invoke: 30, respond: 40},
	}
	for _, tc := range []struct {
		name  string
		read  op
		syncs []syncSpan
		bad   bool
	}{
		{"fresh read", op{key: "k", via: "p", value: "b", invoke: 50, respond: 60}, nil, false},
		{"stale within the allowance", op{key: "k", via: "p", value: "a", invoke: 50, respond: 60}, nil, false},
		{"stale after a sync", op{key: "k", via: "p", value: "a", invoke: 50, respond: 60}, []syncSpan{{41, 45}}, true},
		{"sync began before the ack", op{key: "k", via: "p", value: "a", invoke: 50, respond: 60}, []syncSpan{{39, 45}}, false},
		{"stale on the writer's proxy", op{key: "k", via: "q", value: "a", invoke: 50, respond: 60}, nil, true},
		{"concurrent with the write", op{key: "k", via: "q", value: "a", invoke: 35, respond: 60}, nil, false},
		{"from the future", op{key: "k", via: "p", value: "b", invoke: 5, respond: 8}, nil, true},
		{"never written", op{key: "k", via: "p", value: "zz", invoke: 50, respond: 60}, nil, true},
		{"initial after a write", op{key: "k", via: "p", value: "init", invoke: 50, respond: 60}, []syncSpan{{41, 45}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &history{}
			for _, o := range base {
				h.add(o)
			}
			h.add(tc.read)
			for _, s := range tc.syncs {
				h.addSync("p", s)
			}
			if got := h.check("init"); (len(got) > 0) != tc.bad {
				t.Errorf("violations %v, want some: %v", got, tc.bad)
			}
		})
	}
}

// client runs reads and writes on one proxy (or directly) and records
// them.
type client struct {
	via  string
	root engine.Engine
	h    *history
	seq  *atomic.Int64
}

func (c *client) read(key string) {
	r := enginetest.Req("GET", key)
	inv := nanotime()
	engine.Do(context.Background(), c.root, r)
	resp := nanotime()
	raw := string(r.Raw())
	var v string
	switch {
	case raw == "$-1\r\n":
		v = ""
	case strings.HasPrefix(raw, "$"):
		_, rest, _ := strings.Cut(raw, "\r\n")
		v = strings.TrimSuffix(rest, "\r\n")
	default:
		return // failed: no information
	}
	c.h.add(op{key: key, via: c.via, value: v, invoke: inv, respond: resp})
}

// mget reads two keys with one MGET and records a read of each.
func (c *client) mget(k1, k2 string) {
	r := enginetest.Req("MGET", k1, k2)
	inv := nanotime()
	engine.Do(context.Background(), c.root, r)
	resp := nanotime()
	raw := string(r.Raw())
	rest, ok := strings.CutPrefix(raw, "*2\r\n")
	if !ok {
		return // failed: no information
	}
	for _, k := range []string{k1, k2} {
		var v string
		switch {
		case strings.HasPrefix(rest, "$-1\r\n"):
			rest = rest[5:]
		case strings.HasPrefix(rest, "$"):
			head, tail, _ := strings.Cut(rest, "\r\n")
			n, err := strconv.Atoi(head[1:])
			if err != nil || len(tail) < n+2 {
				return
			}
			v, rest = tail[:n], tail[n+2:]
		default:
			return
		}
		c.h.add(op{key: k, via: c.via, value: v, invoke: inv, respond: resp})
	}
}

func (c *client) write(key string) {
	v := c.via + "-" + strconv.FormatInt(c.seq.Add(1), 10)
	r := enginetest.Req("SET", key, v)
	inv := nanotime()
	engine.Do(context.Background(), c.root, r)
	resp := nanotime()
	if string(r.Raw()) != "+OK\r\n" {
		resp = math.MaxInt64 // may or may not have happened
	}
	c.h.add(op{key: key, write: true, via: c.via, value: v, invoke: inv, respond: resp})
}

// plainUpstream is an upstream client of its own, without a near cache:
// writes through it are "direct" writes.
func plainUpstream(t *testing.T, up *keywayv1.Upstream) engine.Engine {
	pools := upstream.NewPools(upstream.Options{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	pools.SetCluster(cluster.NewShared)
	t.Cleanup(pools.Close)
	u, release, err := pools.Acquire(up)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return u
}

var hotKeys = []string{"h:{a}0", "h:{b}1", "h:{c}2", "h:{d}3"}

// checkerRun drives two proxies and a direct writer over up while inject
// runs (reconnects, failovers), at least opsPerClient operations per
// client and until inject is done, and checks the history.
func checkerRun(t *testing.T, up *keywayv1.Upstream, opsPerClient int, inject func(stop <-chan struct{}, ps []*proxy, gapWriter *client)) {
	keys := hotKeys
	direct := plainUpstream(t, up)
	for _, k := range keys {
		r := enginetest.Req("SET", k, "init")
		engine.Do(context.Background(), direct, r)
		if string(r.Raw()) != "+OK\r\n" {
			t.Fatalf("setup SET %s: %q", k, r.Raw())
		}
	}
	ps := []*proxy{
		newProxy(t, up, &keywayv1.NearCache{Prefixes: []string{"h:"}}),
		newProxy(t, up, &keywayv1.NearCache{Prefixes: []string{"h:"}}),
	}
	names := []string{"p", "q"}
	h := &history{}
	var seq atomic.Int64
	stop := make(chan struct{})
	var bg sync.WaitGroup
	for i, p := range ps {
		bg.Add(1)
		go func() {
			defer bg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := nanotime()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := p.nc.Sync(ctx)
				cancel()
				if err == nil {
					h.addSync(names[i], syncSpan{start, nanotime()})
				} else {
					p.waitLive()
				}
			}
		}()
	}
	injected := make(chan struct{})
	go func() {
		defer close(injected)
		inject(stop, ps, &client{via: "direct", root: direct, h: h, seq: &seq})
	}()

	var wg sync.WaitGroup
	for i, p := range ps {
		for c := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cl := &client{via: names[i], root: p.root, h: h, seq: &seq}
				rnd := rand.New(rand.NewPCG(uint64(i), uint64(c)))
				for n := 0; n < opsPerClient || running(injected); n++ {
					k := keys[rnd.IntN(len(keys))]
					switch rnd.IntN(40) {
					case 0:
						cl.write(k)
					case 1, 2, 3, 4, 5, 6, 7, 8, 9:
						cl.mget(k, keys[rnd.IntN(len(keys))])
					default:
						cl.read(k)
					}
				}
			}()
		}
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		cl := &client{via: "direct", root: direct, h: h, seq: &seq}
		rnd := rand.New(rand.NewPCG(7, 7))
		for n := 0; n < opsPerClient || running(injected); n++ {
			if rnd.IntN(40) == 0 {
				cl.write(keys[rnd.IntN(len(keys))])
			} else {
				cl.read(keys[rnd.IntN(len(keys))])
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-injected
	bg.Wait()

	bad := h.check("init")
	for i, b := range bad {
		if i == 20 {
			t.Errorf("... and %d more", len(bad)-20)
			break
		}
		t.Error(b)
	}
	var reads, writes int
	for _, o := range h.ops {
		if o.write {
			writes++
		} else {
			reads++
		}
	}
	hits := ps[0].stat("hits") + ps[1].stat("hits")
	gaps := ps[0].stat("gaps") + ps[1].stat("gaps")
	t.Logf("%d reads, %d writes, %d syncs; hits %d, gaps %d, fills refused %d, coalesced %d; %d violations",
		reads, writes, len(h.syncs["p"])+len(h.syncs["q"]), hits, gaps,
		ps[0].stat("fills_refused")+ps[1].stat("fills_refused"), ps[0].stat("coalesced")+ps[1].stat("coalesced"), len(bad))
	if hits == 0 {
		t.Error("no read was served from the near cache: the checker proved nothing")
	}
}

// running reports whether done is still open.
func running(done <-chan struct{}) bool {
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// killTracking kills tracking connections on addrs, one at a time, each
// time writing every hot key in the same pipeline (so Redis applies the
// writes before the proxy can track again, and has no one to tell) and
// waiting for the proxies to see the gap and track again.
func killTracking(t *testing.T, stop <-chan struct{}, ps []*proxy, addrs func() []string, times int, gapWriter *client) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for range times {
		select {
		case <-stop:
			return
		default:
		}
		for _, p := range ps {
			p.waitLive()
		}
		before := ps[0].stat("gaps") + ps[1].stat("gaps")
		var ids []struct{ addr, id string }
		for _, a := range addrs() {
			for _, id := range trackingClients(t, a) {
				ids = append(ids, struct{ addr, id string }{a, id})
			}
		}
		if len(ids) == 0 {
			continue
		}
		victim := ids[rnd.IntN(len(ids))]
		gapWriter.killAndWrite(t, victim.addr, victim.id)
		waitFor(t, "a gap after CLIENT KILL", func() bool { return ps[0].stat("gaps")+ps[1].stat("gaps") > before })
	}
}

// TestCheckerStandalone: two proxies and direct writes over one Redis,
// tracking connections killed during the run; zero violations.
func TestCheckerStandalone(t *testing.T) {
	s := redistest.Start(t)
	checkerRun(t, standalone(s.Addr), 1500, func(stop <-chan struct{}, ps []*proxy, gw *client) {
		killTracking(t, stop, ps, func() []string { return []string{s.Addr} }, 30, gw)
	})
}

// TestCheckerCluster: the same over a three-primary cluster, with a
// failover and killed tracking connections during the run.
func TestCheckerCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a six-node cluster")
	}
	c := redistest.StartCluster(t, 3, 1)
	checkerRun(t, clusterUp(c.Seeds()), 1500, func(stop <-chan struct{}, ps []*proxy, gw *client) {
		addrs := func() []string {
			var out []string
			for _, s := range c.Primaries() {
				out = append(out, s.Addr)
			}
			sort.Strings(out)
			return out
		}
		killTracking(t, stop, ps, addrs, 2, gw)
		before := ps[0].stat("gaps") + ps[1].stat("gaps")
		c.Failover(c.ReplicaOf(c.Primaries()[0]))
		// The proxies learn of the new primary from a MOVED or a refresh,
		// which the clients' traffic causes; the run may also end first.
		for ps[0].stat("gaps")+ps[1].stat("gaps") < before+2 {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
		killTracking(t, stop, ps, addrs, 2, gw)
	})
}

func clusterUp(seeds []string) *keywayv1.Upstream {
	return &keywayv1.Upstream{Name: "main", Kind: &keywayv1.Upstream_Cluster{Cluster: &keywayv1.Cluster{Seeds: seeds}}}
}

// killAndWrite sends CLIENT KILL ID id and a SET of every hot key in one
// pipeline to addr, recording the writes. Keys another node owns answer
// MOVED and are recorded as writes of unknown outcome.
func (c *client) killAndWrite(t *testing.T, addr, id string) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	cmds := [][]string{{"CLIENT", "KILL", "ID", id}}
	for _, k := range hotKeys {
		cmds = append(cmds, []string{"SET", k, c.via + "-" + strconv.FormatInt(c.seq.Add(1), 10)})
	}
	var buf []byte
	for _, args := range cmds {
		buf = fmt.Appendf(buf, "*%d\r\n", len(args))
		for _, a := range args {
			buf = fmt.Appendf(buf, "$%d\r\n%s\r\n", len(a), a)
		}
	}
	inv := nanotime()
	if _, err := conn.Write(buf); err != nil {
		t.Fatalf("write %s: %v", addr, err)
	}
	br := bufio.NewReader(conn)
	for i := range cmds {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read %s: %v", addr, err)
		}
		if i == 0 {
			continue
		}
		resp := nanotime()
		if line != "+OK\r\n" {
			resp = math.MaxInt64
		}
		c.h.add(op{key: cmds[i][1], write: true, via: c.via, value: cmds[i][2], invoke: inv, respond: resp})
	}
}
