// Package prefix is the Prefix engine: it puts a domain's keys under a
// namespace on the way to Redis and takes the namespace off the keys in
// replies, so tenants that share one Redis never see each other's keys.
package prefix

import (
	"bytes"
	"context"
	"strings"
	"sync"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Prefix rewrites keys for next.
type Prefix struct {
	prefix []byte
	// allowScripts lets scripts and functions through, their declared
	// keys prefixed (prefix(..., allow_scripts = True)).
	allowScripts bool
	// pattern is prefix with glob metacharacters escaped, what goes in
	// front of a KEYS or SCAN MATCH pattern so it matches the prefix
	// literally.
	pattern []byte
	next    engine.Engine
}

var (
	_ engine.Engine    = (*Prefix)(nil)
	_ engine.Explainer = (*Prefix)(nil)
)

// Commands whose patterns or replies are rewritten, compared by spec
// pointer: one load, no string compare.
var (
	specKeys      = resp.Lookup([]byte("KEYS"))
	specScan      = resp.Lookup([]byte("SCAN"))
	specRandomKey = resp.Lookup([]byte("RANDOMKEY"))
)

// keyFirst are the commands whose reply is an array that starts with the
// key the value came from.
var keyFirst = map[*resp.Spec]bool{}

func init() {
	for _, n := range []string{"BLPOP", "BRPOP", "BZPOPMIN", "BZPOPMAX", "LMPOP", "BLMPOP", "ZMPOP", "BZMPOP"} {
		keyFirst[resp.Lookup([]byte(n))] = true
	}
}

// scratch holds one batch's rewritten arguments. Its buffers are sized
// before they are filled, so the slices handed to next never move.
type scratch struct {
	buf      []byte
	args     [][]byte
	saved    [][][]byte
	keys     []int
	globs    []int
	extra    []int
	addMatch bool
	out      []byte
}

var scratches = sync.Pool{New: func() any { return &scratch{} }}

// maxKept bounds the buffers a scratch keeps in the pool, so one huge
// MSET does not pin its memory forever.
const maxKept = 1 << 20

var matchArg = []byte("MATCH")

// Serve refuses what the prefix cannot confine (access.go), rewrites
// every other request's keys into a per-batch buffer (the client's own
// buffers are never written), serves the batch through next, puts the
// client's arguments back and strips the prefix from replies that carry
// keys.
func (p *Prefix) Serve(ctx context.Context, b engine.Batch) {
	if b = p.refuse(b); len(b) == 0 {
		return
	}
	sc := scratches.Get().(*scratch)
	p.rewrite(sc, b)
	p.next.Serve(ctx, b)
	for i, r := range b {
		r.Cmd.Args = sc.saved[i]
		p.stripReply(sc, r)
	}
	clear(sc.args) // drop references to the client's buffers
	clear(sc.saved)
	if cap(sc.buf) > maxKept || cap(sc.out) > maxKept {
		return
	}
	scratches.Put(sc)
}

// rewrite points every request's Args at a prefixed copy in sc.
func (p *Prefix) rewrite(sc *scratch, b engine.Batch) {
	nbytes, nargs := 0, 0
	for _, r := range b {
		p.plan(sc, r)
		nargs += len(r.Cmd.Args)
		nbytes += len(sc.keys)*len(p.prefix) + len(sc.globs)*len(p.pattern)
		for _, k := range sc.keys {
			nbytes += len(r.Cmd.Args[k])
		}
		for _, k := range sc.globs {
			nbytes += len(r.Cmd.Args[k])
		}
		if sc.addMatch {
			nargs += 2 // "MATCH" and pattern + "*"
			nbytes += len(p.pattern) + 1
		}
	}
	sc.buf = grow(sc.buf[:0], nbytes)
	if cap(sc.args) < nargs {
		sc.args = make([][]byte, nargs)
	}
	sc.args = sc.args[:nargs]
	sc.saved = append(sc.saved[:0], make([][][]byte, len(b))...)
	off := 0
	for i, r := range b {
		n := len(r.Cmd.Args)
		args := sc.args[off : off+n : len(sc.args)]
		copy(args, r.Cmd.Args)
		p.plan(sc, r)
		for _, k := range sc.keys {
			args[k] = p.put(sc, p.prefix, args[k])
		}
		for _, k := range sc.globs {
			args[k] = p.put(sc, p.pattern, args[k])
		}
		if sc.addMatch {
			args = append(args, matchArg, p.put(sc, p.pattern, []byte("*")))
		}
		off += len(args)
		sc.saved[i] = r.Cmd.Args
		r.Cmd.Args = args
	}
}

// plan sets sc.keys to the arguments of r that get the prefix (its keys,
// SORT's patterns and real STORE destinations, CLIENT TRACKING's
// PREFIXes), sc.globs to the glob patterns that get it escaped (KEYS,
// every SCAN MATCH), and sc.addMatch when a SCAN without MATCH needs one.
func (p *Prefix) plan(sc *scratch, r *engine.Request) {
	sc.keys = r.Cmd.Keys(sc.keys[:0])
	sc.globs = sc.globs[:0]
	sc.addMatch = false
	switch resp.KeyAccessOf(&r.Cmd) {
	case resp.AccessPatterns:
		var stores [4]int
		pats, st, ok := resp.SortArgs(&r.Cmd, sc.extra[:0], stores[:0])
		sc.extra = pats
		if !ok {
			return // Redis refuses it before reading a key
		}
		for _, i := range pats {
			if !(len(r.Cmd.Args[i]) == 1 && r.Cmd.Args[i][0] == '#') {
				sc.keys = addIndex(sc.keys, i)
			}
		}
		for _, i := range st {
			sc.keys = addIndex(sc.keys, i)
		}
	case resp.AccessMatch:
		var all bool
		sc.globs, all = resp.MatchArgs(&r.Cmd, sc.globs)
		sc.addMatch = all && r.Cmd.Spec == specScan
	case resp.AccessTracking:
		sc.extra, _ = resp.TrackingPrefixes(&r.Cmd, sc.extra[:0])
		for _, i := range sc.extra {
			sc.keys = addIndex(sc.keys, i)
		}
	}
}

// addIndex appends i to list unless it is there: SORT's GETKEYS-style
// key positions and its real STORE may name the same argument, which
// must get the prefix once.
func addIndex(list []int, i int) []int {
	for _, k := range list {
		if k == i {
			return list
		}
	}
	return append(list, i)
}

// put appends head+tail to sc.buf, which has room, and returns it.
func (p *Prefix) put(sc *scratch, head, tail []byte) []byte {
	start := len(sc.buf)
	sc.buf = append(sc.buf, head...)
	sc.buf = append(sc.buf, tail...)
	return sc.buf[start:len(sc.buf):len(sc.buf)]
}

func grow(b []byte, n int) []byte {
	if cap(b) >= n {
		return b
	}
	return make([]byte, 0, n)
}

// Explain rewrites r's keys (into new slices; the caller's bytes are not
// written) so the engines below explain what they would really see.
func (p *Prefix) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	sc := &scratch{}
	if msg := p.refusal(r); msg != "" {
		x.Refuse(strings.TrimSuffix(string(engine.AppendError(nil, msg)[1:]), "\r\n"))
		return nil
	}
	p.rewrite(sc, engine.Batch{r})
	if len(sc.keys) == 0 && r.Cmd.Spec != specKeys && r.Cmd.Spec != specScan {
		x.Note("no keys to prefix with %q", p.prefix)
		return p.next
	}
	x.Note("prefix %q: sent as %q", p.prefix, bytes.Join(r.Cmd.Args, []byte(" ")))
	return p.next
}
