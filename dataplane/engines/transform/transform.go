// Package transform is the Transform engine: it compresses and encrypts
// string values under key prefixes on their way to Redis and reverses it
// on the way back, so Redis (and anyone who can read its memory, RDB or
// AOF files, or replication stream) never sees those values in the clear.
package transform

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/internal/trie"
)

// Transform seals values of keys under its prefixes for next.
type Transform struct {
	// prefixes and trie select the transformed keys; trie is nil when
	// every key is transformed.
	prefixes []string
	trie     *trie.Trie
	env      envelope
	// what says what the policy does to values, for error messages:
	// "compressed", "encrypted" or "compressed and encrypted".
	what  string
	next  engine.Engine
	stats counters
}

var (
	_ engine.Engine    = (*Transform)(nil)
	_ engine.Explainer = (*Transform)(nil)
)

// counters are the engine's metrics; see Stats.
type counters struct {
	sealed, opened, plain, failed, refused atomic.Uint64
}

// Stats are a Transform's counters since it was built.
type Stats struct {
	// Sealed counts values written as envelopes, Opened envelopes read
	// back, Plain values read that were stored before the policy.
	Sealed, Opened, Plain uint64
	// Failed counts reads refused because a value failed authentication,
	// named an unknown key or was corrupt.
	Failed uint64
	// Refused counts commands refused on transformed keys.
	Refused uint64
}

// Stats returns the engine's counters.
func (t *Transform) Stats() Stats {
	return Stats{
		Sealed: t.stats.sealed.Load(), Opened: t.stats.opened.Load(), Plain: t.stats.plain.Load(),
		Failed: t.stats.failed.Load(), Refused: t.stats.refused.Load(),
	}
}

// step is the plan for one request of a batch.
type step struct {
	// saved are the client's arguments while sealed ones are sent; nil
	// when the arguments were not rewritten.
	saved [][]byte
	reply shape
}

// scratch is one batch's working memory, pooled.
type scratch struct {
	buf   []byte   // sealed values
	args  [][]byte // rewritten argument lists
	keys  []int
	in    []byte // copy of an array reply being rewritten
	steps []step
	work  work
}

var scratches = sync.Pool{New: func() any { return &scratch{} }}

// maxKept bounds the buffers a scratch keeps in the pool, so one huge
// value does not pin its memory forever.
const maxKept = 1 << 20

func (sc *scratch) release() {
	clear(sc.args) // drop references to the client's buffers
	clear(sc.steps)
	if cap(sc.buf) > maxKept || cap(sc.in) > maxKept || cap(sc.work.tmp) > maxKept || cap(sc.work.plain) > maxKept {
		return
	}
	scratches.Put(sc)
}

// Serve seals the values of writes to transformed keys, refuses commands
// that cannot work on sealed values, serves the rest through next, puts
// the client's arguments back and opens the values in replies.
func (t *Transform) Serve(ctx context.Context, b engine.Batch) {
	sc := scratches.Get().(*scratch)
	defer sc.release()
	sc.buf, sc.args = sc.buf[:0], sc.args[:0]
	sc.steps = append(sc.steps[:0], make([]step, len(b))...)
	refused := 0
	for i, r := range b {
		if !t.plan(sc, r, &sc.steps[i]) {
			refused++
		}
	}
	rest := b.Unanswered(refused)
	if len(rest) == 0 {
		return
	}
	t.next.Serve(ctx, rest)
	for i, r := range b {
		st := &sc.steps[i]
		if st.saved != nil {
			r.Cmd.Args = st.saved
		}
		if st.reply != replyNone && r.Done() {
			t.openReply(sc, r, st.reply)
		}
	}
}

// plan decides what to do with r, rewriting its arguments when it writes
// values; it answers r and returns false when r is refused.
func (t *Transform) plan(sc *scratch, r *engine.Request, st *step) bool {
	d := t.decide(sc, r)
	if d.err != nil {
		t.refuse(r, d.err)
		return false
	}
	if d.op == nil || d.op.pass {
		return true
	}
	st.reply = d.op.replyOf(r.Cmd.Args)
	if d.op.valAt > 0 {
		st.saved = r.Cmd.Args
		r.Cmd.Args = t.sealArgs(sc, d.op, r.Cmd.Args)
	}
	return true
}

func (t *Transform) refuse(r *engine.Request, err error) {
	t.stats.refused.Add(1)
	r.Fail(engine.KindRefused, err)
}

// decision is what decide found: op is nil when r has no transformed
// keys (it passes as it is).
type decision struct {
	op     *op
	prefix string
	err    error
}

// decide classifies r by its keys and the command table.
func (t *Transform) decide(sc *scratch, r *engine.Request) decision {
	if r.Cmd.Spec == nil {
		return decision{}
	}
	sc.keys = r.Cmd.Keys(sc.keys[:0])
	under, prefix := 0, ""
	for _, k := range sc.keys {
		if t.trie == nil {
			under++
			continue
		}
		if i := t.trie.Longest(r.Cmd.Args[k]); i >= 0 {
			under++
			prefix = t.prefixes[i]
		}
	}
	if under == 0 {
		return decision{}
	}
	o := ops[r.Cmd.Spec.Name]
	switch {
	case o != nil && o.pass:
		return decision{op: o}
	case o == nil || o.why != "":
		return decision{err: t.cannot(r, prefix, o)}
	case under < len(sc.keys):
		return decision{err: fmt.Errorf("keyway: %s mixes keys under %s (values %s by policy) with plain keys; send them in separate commands",
			r.Cmd.Spec.Name, t.scope(prefix), t.what)}
	}
	return decision{op: o, prefix: prefix}
}

// cannot is the refusal of a command that cannot work on sealed values.
func (t *Transform) cannot(r *engine.Request, prefix string, o *op) error {
	why := "values are " + t.what + " by policy"
	if o != nil && o.why != "" {
		why += "; " + o.why
	}
	return fmt.Errorf("keyway: %s cannot work on transformed values under %s (%s)", r.Cmd.Spec.Name, t.scope(prefix), why)
}

// scope names where values are transformed, for messages.
func (t *Transform) scope(prefix string) string {
	if t.trie == nil {
		return "every key"
	}
	return fmt.Sprintf("%q", prefix)
}

// sealArgs returns a copy of args, in sc, whose values are sealed.
func (t *Transform) sealArgs(sc *scratch, o *op, args [][]byte) [][]byte {
	start := len(sc.args)
	sc.args = append(sc.args, args...)
	out := sc.args[start:len(sc.args):len(sc.args)]
	need := 0
	for v := o.valAt; v < len(args); v += o.step {
		need += t.env.bound(len(args[v]))
		if o.step == 0 {
			break
		}
	}
	// Sized up front so the common case writes every value into one
	// buffer; a growth would only leave earlier values in the old one.
	sc.buf = grow(sc.buf, need)
	for k, v := o.keyAt, o.valAt; v < len(args); k, v = k+o.step, v+o.step {
		at := len(sc.buf)
		sc.buf = t.env.seal(sc.buf, &sc.work, args[k], args[v])
		out[v] = sc.buf[at:len(sc.buf):len(sc.buf)]
		t.stats.sealed.Add(1)
		if o.step == 0 {
			break
		}
	}
	return out
}

// Explain records whether r's values would be transformed, and refuses
// what Serve would refuse.
func (t *Transform) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	d := t.decide(&scratch{}, r)
	switch {
	case d.err != nil:
		x.Refuse(d.err.Error())
		return nil
	case d.op == nil:
		x.Note("no transformed keys; passes unchanged")
	case d.op.pass:
		x.Note("touches no values; passes unchanged")
	default:
		x.Note("values under %s are %s", t.scope(d.prefix), t.describe())
	}
	return t.next
}

// describe says exactly what happens to values, for explain.
func (t *Transform) describe() string {
	s := ""
	if t.env.codec != codecNone {
		s = fmt.Sprintf("compressed with %s from %d bytes", t.env.codec, t.env.minBytes)
	}
	if t.env.active != nil {
		if s != "" {
			s += " and "
		}
		s += fmt.Sprintf("encrypted with key %q", t.env.active.id)
	}
	return s
}
