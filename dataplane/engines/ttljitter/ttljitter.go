// Package ttljitter is the TTLJitter engine: it lengthens the TTLs that
// commands set by a random share, so keys written together (a cache
// warmed in one go) do not all expire, and miss, together.
package ttljitter

import (
	"context"
	"math/rand/v2"
	"strconv"
	"sync"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/internal/ttlarg"
	"keyway.dev/dataplane/resp"
)

// TTLJitter rewrites TTLs for next.
type TTLJitter struct {
	share float64
	next  engine.Engine
	// rnd returns a uniform integer in [0, n); tests replace it.
	rnd func(n int64) int64
}

var (
	_ engine.Engine    = (*TTLJitter)(nil)
	_ engine.Explainer = (*TTLJitter)(nil)
)

// saved is a request's own arguments and spec, put back after next.
type saved struct {
	r    *engine.Request
	args [][]byte
	spec *resp.Spec
}

// scratch holds one batch's rewritten arguments; buf is sized before it
// is filled, so the number slices handed to next never move.
type scratch struct {
	buf   []byte
	args  [][]byte
	saved []saved
}

var scratches = sync.Pool{New: func() any { return &scratch{} }}

// maxDigits is the longest TTL written: an int64.
const maxDigits = 20

// Serve rewrites the TTLs of the batch's commands that set one, serves
// the batch through next and puts the client's arguments back.
func (j *TTLJitter) Serve(ctx context.Context, b engine.Batch) {
	sc := scratches.Get().(*scratch)
	sc.buf = grow(sc.buf[:0], len(b)*maxDigits)
	sc.args = sc.args[:0]
	sc.saved = sc.saved[:0]
	for _, r := range b {
		j.rewrite(sc, r)
	}
	j.next.Serve(ctx, b)
	for _, s := range sc.saved {
		s.r.Cmd.Args, s.r.Cmd.Spec = s.args, s.spec
	}
	clear(sc.args) // drop references to the client's buffers
	clear(sc.saved)
	scratches.Put(sc)
}

// rewrite replaces r's TTL argument with a jittered one in milliseconds,
// switching a seconds form to its milliseconds twin (EX to PX, SETEX to
// PSETEX, EXPIRE to PEXPIRE) so that short TTLs get a jitter finer than a
// whole second.
func (j *TTLJitter) rewrite(sc *scratch, r *engine.Request) {
	at, unit, ok := ttlarg.Relative(&r.Cmd)
	if !ok {
		return
	}
	ttl, ok := ttlarg.Parse(r.Cmd.Args[at], unit)
	if !ok {
		return
	}
	extra := int64(j.share * float64(ttl))
	if extra <= 0 {
		return
	}
	ttl += j.rnd(extra + 1)

	start := len(sc.args)
	sc.args = append(sc.args, r.Cmd.Args...)
	args := sc.args[start:len(sc.args):len(sc.args)]
	n := len(sc.buf)
	sc.buf = strconv.AppendInt(sc.buf, ttl, 10)
	args[at] = sc.buf[n:len(sc.buf):len(sc.buf)]
	spec := r.Cmd.Spec
	if unit == ttlarg.Seconds {
		switch spec {
		case specSetEx:
			args[0], spec = namePSetEx, specPSetEx
		case specExpire:
			args[0], spec = namePExpire, specPExpire
		default: // SET or GETEX: the option before the TTL
			args[at-1] = optPX
		}
	}
	sc.saved = append(sc.saved, saved{r: r, args: r.Cmd.Args, spec: r.Cmd.Spec})
	r.Cmd.Args, r.Cmd.Spec = args, spec
}

// Explain tells the range the TTL would be drawn from.
func (j *TTLJitter) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	at, unit, ok := ttlarg.Relative(&r.Cmd)
	if !ok {
		x.Note("sets no relative TTL; unchanged")
		return j.next
	}
	ttl, ok := ttlarg.Parse(r.Cmd.Args[at], unit)
	if !ok {
		x.Note("TTL %q is not a positive number; unchanged", r.Cmd.Args[at])
		return j.next
	}
	extra := int64(j.share * float64(ttl))
	if extra <= 0 {
		x.Note("TTL %dms is too short to jitter by %v; unchanged", ttl, j.share)
		return j.next
	}
	x.Note("TTL %dms becomes %d..%dms", ttl, ttl, ttl+extra)
	return j.next
}

func grow(b []byte, n int) []byte {
	if cap(b) >= n {
		return b
	}
	return make([]byte, 0, n)
}

func randN(n int64) int64 { return rand.Int64N(n) }
