// Package nearcache is the NearCache engine: a leaf that answers reads of
// hot keys from the proxy's memory, kept correct by Redis's own client
// tracking, and makes concurrent identical reads one upstream request.
//
// Correctness comes first (docs/near-cache.md): a reply enters the cache
// only under the fill rule (store.go), entries leave when Redis reports a
// change, when a write passes through this engine (before its client
// hears the reply), or all at once on any gap in the invalidation stream
// (track.go).
package nearcache

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// NearCache caches replies of one upstream.
type NearCache struct {
	name     string
	next     engine.Engine // the upstream leaf, for explain and stats
	up       engine.Upstream
	prefixes [][]byte
	cmds     map[*resp.Spec]bool
	maxAge   int64 // nanoseconds, 0 for none
	admitK   uint32
	admitWin int64
	coalesce bool

	store *store
	track *tracker
	stats *stats
}

var (
	_ engine.Engine        = (*NearCache)(nil)
	_ engine.Explainer     = (*NearCache)(nil)
	_ engine.StatsReporter = (*NearCache)(nil)
)

// The commands a near cache may answer, with the argument count it
// answers them for (EXISTS of several keys is sent on).
var (
	specGet     = resp.Lookup([]byte("GET"))
	specHGet    = resp.Lookup([]byte("HGET"))
	specHGetAll = resp.Lookup([]byte("HGETALL"))
	specExists  = resp.Lookup([]byte("EXISTS"))
	specPTTL    = resp.Lookup([]byte("PTTL"))
	specMGet    = resp.Lookup([]byte("MGET"))

	cacheableArgs = map[*resp.Spec]int{specGet: 2, specHGet: 3, specHGetAll: 2, specExists: 2}
)

// nanotime is the clock of fills and expiries: monotonic, since only
// durations are compared.
var clockStart = time.Now()

func nanotime() int64 { return int64(time.Since(clockStart)) }

// cacheable reports whether r is a read this engine may answer.
func (n *NearCache) cacheable(r *engine.Request) bool {
	if r.Cmd.Spec == nil || !n.cmds[r.Cmd.Spec] || len(r.Cmd.Args) != cacheableArgs[r.Cmd.Spec] {
		return false
	}
	return n.covered(r.Cmd.Args[1])
}

// covered reports whether Redis reports changes of key to this engine.
func (n *NearCache) covered(key []byte) bool {
	if len(n.prefixes) == 0 {
		return true
	}
	for _, p := range n.prefixes {
		if bytes.HasPrefix(key, p) {
			return true
		}
	}
	return false
}

// invalidating reports whether r may change keys this engine caches, so
// that it must drop them once r is answered: every command not known to
// be read-only that names keys or writes (FLUSHALL, SWAPDB).
func invalidating(r *engine.Request) bool {
	s := r.Cmd.Spec
	if s == nil {
		return true
	}
	if s.Has(resp.FlagReadOnly) {
		return false
	}
	return s.Has(resp.FlagWrite) || s.FirstKey > 0 || s.Keys != nil
}

// segment is the part of a batch served together, in one round trip:
// reads and writes up to the next read memory would answer that follows
// a write (Serve), so a pipeline's GET after its own SET is never
// answered from memory filled before it.
type segment struct {
	send  engine.Batch
	fills []fill
	joins []join
	sig   []byte
	keys  []int
	subs  []*engine.Request
	nsub  int
	args  [][]byte
	// The keys the segment's writes name (aliasing their requests'
	// arguments), or all of them: what a later read of the pipeline
	// may not take from memory until those writes are answered.
	written    [][]byte
	writtenAll bool
}

// fill is a miss sent upstream: its ticket, its flight, and the PTTL
// sent with it when the key is admitted.
type fill struct {
	r    *engine.Request
	sh   *shard
	t    ticket
	sig  string
	f    *flight
	pttl *engine.Request
}

// join is a request answered by another request's flight.
type join struct {
	r    *engine.Request
	f    *flight
	done chan struct{}
}

// flight is one upstream read that identical concurrent reads share.
// Joining one is allowed only while its ticket holds: a read that
// starts after an invalidation of its key was processed must not take a
// reply Redis may have produced before that write.
//
// Most flights are never joined, so a flight costs nothing beyond its map
// slot until someone joins: the first joiner makes its channel (under
// the shard's lock), and only a joined flight copies its reply. An
// unjoined flight is reused once it leaves the map, where nothing else
// can reach it.
type flight struct {
	owner *segment
	t     ticket
	done  chan struct{} // made by the first joiner, under the shard's lock
	raw   []byte
	kind  engine.ErrorKind
	err   error
}

var (
	segments = sync.Pool{New: func() any { return &segment{} }}
	flights  = sync.Pool{New: func() any { return &flight{} }}
)

// Serve answers cached reads from memory and sends the rest upstream in
// the batch's order.
func (n *NearCache) Serve(ctx context.Context, b engine.Batch) {
	for _, r := range b {
		r.Upstream = n.name
	}
	if len(b) > 0 && b[0].Pin != nil {
		// A transaction, a blocking command or a tracking client: its own
		// connection, nothing from memory; its writes (and a transaction's
		// results coming back at EXEC) still drop what they touch.
		b[0].Pin.Forward(ctx, n.up, b)
		n.afterWrites(nil, b)
		return
	}
	sg := segments.Get().(*segment)
	// Once the pipeline has a write of key k on its way, a later read of
	// k may be answered from memory only after that write's round trip:
	// memory holds what was true before the write reached Redis, and
	// Redis runs a pipeline in order. A read memory would not answer
	// anyway goes upstream behind the write in the same round trip (its
	// ticket, taken now, still guards its fill); one it would answer
	// waits for the write (the segment is sent first). Reads of other
	// keys are answered from memory at once: the pipeline's writes do
	// not change them, so memory is as true for them as it is for a
	// pipeline of reads alone. A write whose keys the proxy cannot name
	// exactly (an unknown command, a keyless write, a script's declared
	// keys) holds back every later read, as before.
	for _, r := range b {
		if n.cacheable(r) {
			if sg.touches(r.Cmd.Args[1]) {
				if n.held(sg, r) {
					n.run(ctx, sg)
					n.read(sg, r, true)
					continue
				}
				n.read(sg, r, false)
				continue
			}
			n.read(sg, r, true)
			continue
		}
		if r.Cmd.Spec == specMGet && n.cmds[specGet] && !sg.touchesAny(r.Cmd.Args[1:]) && n.mget(sg, r) {
			continue
		}
		sg.send = append(sg.send, r)
		if invalidating(r) {
			sg.write(r)
		}
	}
	n.run(ctx, sg)
	segments.Put(sg)
}

// write records the keys r may change, for the reads that follow it in
// the segment.
func (sg *segment) write(r *engine.Request) {
	s := r.Cmd.Spec
	if s == nil || s.Keys != nil {
		// Unknown, or keys found by parsing (scripts and functions may
		// also touch keys they do not declare): every key.
		sg.writtenAll = true
		return
	}
	start := len(sg.keys)
	sg.keys = r.Cmd.Keys(sg.keys)
	if len(sg.keys) == start {
		sg.writtenAll = sg.writtenAll || s.Has(resp.FlagWrite) // FLUSHALL, SWAPDB
	}
	for _, k := range sg.keys[start:] {
		sg.written = append(sg.written, r.Cmd.Args[k])
	}
	sg.keys = sg.keys[:start]
}

// touches reports whether a write of the segment may have changed key.
func (sg *segment) touches(key []byte) bool {
	if sg.writtenAll {
		return true
	}
	for _, w := range sg.written {
		if bytes.Equal(w, key) {
			return true
		}
	}
	return false
}

func (sg *segment) touchesAny(keys [][]byte) bool {
	if sg.writtenAll || len(sg.written) == 0 {
		return sg.writtenAll
	}
	for _, k := range keys {
		if sg.touches(k) {
			return true
		}
	}
	return false
}

// held reports whether memory holds r's reply now.
func (n *NearCache) held(sg *segment, r *engine.Request) bool {
	sg.sig = appendSig(sg.sig[:0], r)
	_, ok := n.store.peek(r.Cmd.Args[1], sg.sig, nanotime())
	return ok
}

// read answers r from memory, joins a flight for it, or queues it to be
// sent with a ticket taken now, before it is sent; with answer false
// (behind a write of its pipeline) it only does the last.
func (n *NearCache) read(sg *segment, r *engine.Request, answer bool) {
	key := r.Cmd.Args[1]
	sg.sig = appendSig(sg.sig[:0], r)
	kh := n.store.hash(key)
	sh, slot := n.store.at(kh)
	sigHash := n.store.sigHash(sg.sig)
	now := nanotime()
	sh.mu.Lock()
	if answer {
		if reply, ok := n.store.hitLocked(sh, sg.sig, sigHash, now); ok {
			r.Reply(reply)
			sh.hits++
			sh.mu.Unlock()
			return
		}
	}
	sh.misses++
	t := n.store.ticket(sh, slot, now)
	fl := fill{r: r, sh: sh, t: t}
	if t.ok && n.coalesce {
		f := sh.flights[string(sg.sig)]
		if answer && f != nil && f.owner != sg && n.store.valid(sh, f.t) {
			if f.done == nil {
				f.done = make(chan struct{})
			}
			sh.coalesced++
			sh.mu.Unlock()
			sg.joins = append(sg.joins, join{r: r, f: f, done: f.done})
			return
		}
		if f == nil || f.owner != sg {
			fl.sig = string(sg.sig)
			fl.f = flights.Get().(*flight)
			fl.f.owner, fl.f.t = sg, t
			sh.flights[fl.sig] = fl.f
		}
	}
	admitted := t.ok && sh.admit.admitLocked(kh, n.admitK, n.admitWin, now)
	sh.mu.Unlock()
	sg.send = append(sg.send, r)
	if admitted {
		if fl.sig == "" {
			fl.sig = string(sg.sig)
		}
		fl.pttl = sg.sub(r, specPTTL, key)
		sg.send = append(sg.send, fl.pttl)
	}
	sg.fills = append(sg.fills, fl)
}

// run sends the segment, drops what its writes touched, completes its
// fills and flights, then waits for the flights it joined. Flights are
// completed before any wait, so batches joining each other's flights
// never wait on each other in a circle.
func (n *NearCache) run(ctx context.Context, sg *segment) {
	if len(sg.send) > 0 {
		n.up.Serve(ctx, sg.send)
	}
	n.afterWrites(sg, sg.send)
	for i := range sg.fills {
		n.complete(&sg.fills[i])
	}
	for _, j := range sg.joins {
		select {
		case <-j.done:
			if j.f.err != nil {
				j.r.Fail(j.f.kind, j.f.err)
			} else {
				j.r.Reply(j.f.raw)
			}
		case <-ctx.Done():
			j.r.Fail(engine.KindTimeout, fmt.Errorf("near cache: waiting for an identical read: %w", ctx.Err()))
		}
	}
	clear(sg.send)
	sg.send = sg.send[:0]
	clear(sg.fills)
	sg.fills = sg.fills[:0]
	clear(sg.joins)
	sg.joins = sg.joins[:0]
	for _, s := range sg.subs[:sg.nsub] {
		s.Reset()
	}
	sg.nsub = 0
	clear(sg.args)
	sg.args = sg.args[:0]
	clear(sg.written)
	sg.written = sg.written[:0]
	sg.writtenAll = false
}

// afterWrites drops the keys of b's writes, once Redis answered them and
// before their clients hear it, so a client of this proxy never reads
// its own acknowledged write's old value from memory.
func (n *NearCache) afterWrites(sg *segment, b engine.Batch) {
	var keys []int
	if sg != nil {
		keys = sg.keys
	}
	for _, r := range b {
		if !invalidating(r) {
			continue
		}
		if r.Cmd.Spec == nil {
			if raw := r.Raw(); len(raw) > 0 && raw[0] != '-' {
				n.store.flush() // a command Redis knows and we do not
			}
			continue
		}
		keys = r.Cmd.Keys(keys[:0])
		if len(keys) == 0 {
			if r.Cmd.Spec.Has(resp.FlagWrite) {
				n.store.flush() // FLUSHALL, FLUSHDB, SWAPDB
			}
			continue
		}
		for _, k := range keys {
			n.store.invalidate(r.Cmd.Args[k])
		}
	}
	if sg != nil {
		sg.keys = keys
	}
}

// complete hands a miss's reply to its flight and caches it if its key
// was admitted, the reply is a success and the fill rule holds.
func (n *NearCache) complete(fl *fill) {
	r := fl.r
	if f := fl.f; f != nil {
		// Once out of the map no one can join; whoever joined before
		// made the channel.
		fl.sh.mu.Lock()
		if fl.sh.flights[fl.sig] == f {
			delete(fl.sh.flights, fl.sig)
		}
		done := f.done
		fl.sh.mu.Unlock()
		if done != nil {
			f.raw = bytes.Clone(r.Raw())
			f.kind, f.err = r.Kind(), r.Err()
			close(done)
		} else {
			*f = flight{}
			flights.Put(f)
		}
		fl.f = nil
	}
	if fl.pttl == nil || r.Err() != nil || r.Kind() != engine.KindNone {
		return
	}
	raw := r.Raw()
	ttl, ok := parseInt(fl.pttl.Raw())
	if !ok || len(raw) == 0 {
		return
	}
	var expires int64
	switch {
	case ttl == -2:
		if !empty(raw) {
			return // the key expired between the read and PTTL
		}
	case ttl >= 0:
		// From the ticket, taken before either command was sent: never
		// later than Redis's own expiry.
		expires = fl.t.at + ttl*int64(time.Millisecond)
	}
	if n.maxAge > 0 && (expires == 0 || fl.t.at+n.maxAge < expires) {
		expires = fl.t.at + n.maxAge
	}
	n.store.insert(fl.sh, fl.t, fl.sig, r.Cmd.Args[1], raw, expires)
}

// sub returns a request of the segment's own for spec on key, riding
// with parent.
func (sg *segment) sub(parent *engine.Request, spec *resp.Spec, key []byte) *engine.Request {
	if sg.nsub == len(sg.subs) {
		sg.subs = append(sg.subs, &engine.Request{})
	}
	s := sg.subs[sg.nsub]
	sg.nsub++
	start := len(sg.args)
	sg.args = append(sg.args, []byte(spec.Name), key)
	s.Cmd.Args = sg.args[start:len(sg.args):len(sg.args)]
	s.Cmd.Spec = spec
	s.Session = parent.Session
	s.Read = parent.Read
	return s
}

// appendSig is the identity of a cached reply: the protocol it is encoded
// in, the command and its arguments.
func appendSig(dst []byte, r *engine.Request) []byte {
	p := byte('2')
	if r.Session.RESP3() {
		p = '3'
	}
	dst = append(dst, p)
	dst = append(dst, r.Cmd.Spec.Name...)
	for _, a := range r.Cmd.Args[1:] {
		dst = binary.AppendUvarint(dst, uint64(len(a)))
		dst = append(dst, a...)
	}
	return dst
}

func parseInt(raw []byte) (int64, bool) {
	if len(raw) < 4 || raw[0] != ':' {
		return 0, false
	}
	v, err := strconv.ParseInt(string(bytes.TrimSuffix(raw[1:], []byte("\r\n"))), 10, 64)
	return v, err == nil
}

// empty reports whether raw is what the cached commands answer for a key
// that does not exist.
func empty(raw []byte) bool {
	switch string(raw) {
	case "$-1\r\n", "_\r\n", ":0\r\n", "*0\r\n", "%0\r\n":
		return true
	}
	return false
}

// Sync returns once every invalidation Redis emitted before the call has
// been applied, or fails while the stream has a gap. Tests and the
// invalidation-delay benchmark use it.
func (n *NearCache) Sync(ctx context.Context) error { return n.track.sync(ctx) }

// Live reports whether every primary is tracked, so reads may be cached.
func (n *NearCache) Live() bool { return n.store.live.Load() }

// Explain says whether r would be answered from memory, without touching
// the cache, and goes on to the upstream leaf, where misses go (and where
// the server finds the upstream of a client's dedicated connection).
func (n *NearCache) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	switch {
	case n.track.src == nil:
		x.Note("near cache off: upstream %s cannot report changes of keys", n.name)
	case r.Cmd.Spec == specMGet && n.cmds[specGet]:
		x.Note("MGET is served from the near cache when every key's GET reply is held, else from redis whole")
	case r.Cmd.Spec == nil || !n.cmds[r.Cmd.Spec] || len(r.Cmd.Args) != cacheableArgs[r.Cmd.Spec]:
		x.Note("not from the near cache: it answers %s", n.commandList())
	case !n.covered(r.Cmd.Args[1]):
		x.Note("not from the near cache: the key is outside its prefixes")
	case !n.store.live.Load():
		x.Note("not from the near cache now: the invalidation stream has a gap, reads go to redis until it is whole")
	default:
		now := nanotime()
		filled, held := n.store.peek(r.Cmd.Args[1], appendSig(nil, r), now)
		age := time.Duration(now - filled)
		if held {
			x.Note("served from the near cache (filled %s ago)", age.Round(time.Millisecond))
		} else if n.admitK > 1 {
			x.Note("near cache miss: read from redis; cached once read %d times within %s", n.admitK, time.Duration(n.admitWin))
		} else {
			x.Note("near cache miss: read from redis and cached")
		}
	}
	return n.next
}

func (n *NearCache) commandList() string {
	var names []string
	for _, s := range []*resp.Spec{specGet, specHGet, specHGetAll, specExists} {
		if n.cmds[s] {
			names = append(names, s.Name)
		}
	}
	return fmt.Sprint(names)
}

// mget answers an MGET from the keys' cached GET replies when every key
// has one, and reports whether it did; otherwise the MGET goes to Redis
// whole (it fills nothing: GETs of the same keys do). The answer is one
// snapshot: the generation and the epochs of the keys' slots are read
// before the lookups and must be unchanged after them, so no
// invalidation was processed in between, as if Redis had answered at
// one instant.
func (n *NearCache) mget(sg *segment, r *engine.Request) bool {
	keys := r.Cmd.Args[1:]
	if len(keys) == 0 || len(keys) > maxMGetKeys {
		return false
	}
	for _, k := range keys {
		if !n.covered(k) {
			return false
		}
	}
	gen := n.store.gen.Load()
	if !n.store.live.Load() {
		return false
	}
	hit := false
	defer func() {
		if hit {
			n.stats.mgetHits.Add(1)
		} else {
			n.stats.mgetMisses.Add(1)
		}
	}()
	var epochs [maxMGetKeys]uint64
	var shards [maxMGetKeys]*shard
	var slots [maxMGetKeys]uint32
	for i, k := range keys {
		shards[i], slots[i] = n.store.locate(k)
		epochs[i] = shards[i].epochs[slots[i]].Load()
	}
	out := resp.AppendArray(sg.sig[:0], len(keys))
	var getReq engine.Request
	getReq.Session = r.Session
	getReq.Cmd.Spec = specGet
	now := nanotime()
	for i, k := range keys {
		getReq.Cmd.Args = append(sg.args[:0:0], r.Cmd.Args[0], k)
		sig := appendSig(nil, &getReq)
		sigHash := n.store.sigHash(sig)
		sh := shards[i]
		sh.mu.Lock()
		reply, ok := n.store.hitLocked(sh, sig, sigHash, now)
		if !ok {
			sh.mu.Unlock()
			return false
		}
		out = append(out, reply...)
		sh.mu.Unlock()
	}
	if n.store.gen.Load() != gen {
		return false
	}
	for i := range keys {
		if shards[i].epochs[slots[i]].Load() != epochs[i] {
			return false
		}
	}
	// A GET reply is encoded as MGET's element in both protocols.
	sg.sig = out
	r.Reply(out)
	hit = true
	return true
}

// maxMGetKeys bounds the MGETs answered from memory; longer ones go to
// Redis.
const maxMGetKeys = 64
