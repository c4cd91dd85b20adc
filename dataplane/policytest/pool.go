package policytest

import (
	"context"
	"strings"
	"sync"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// pool is an engine.Upstreams whose upstreams never touch the network:
// each answers every command with a plausible empty reply and records
// that it was reached.
type pool struct {
	mu      sync.Mutex
	ups     map[string]*recording
	reached []string // names reached since begin, in order
	sent    []string // the first command an upstream received since begin
}

var _ engine.Upstreams = (*pool)(nil)

func newPool() *pool { return &pool{ups: map[string]*recording{}} }

// Acquire returns the recording upstream of u's name; release is a no-op.
func (p *pool) Acquire(u *keywayv1.Upstream) (engine.Upstream, func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rec, ok := p.ups[u.GetName()]
	if !ok {
		rec = &recording{name: u.GetName(), pool: p}
		p.ups[u.GetName()] = rec
	}
	return rec, func() {}, nil
}

// begin starts a case: what was reached before is forgotten.
func (p *pool) begin() {
	p.mu.Lock()
	p.reached = p.reached[:0]
	p.sent = nil
	p.mu.Unlock()
}

// firstSent is the first command an upstream received since begin, as
// it was sent, or nil.
func (p *pool) firstSent() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

// first is the first upstream reached since begin, or "".
func (p *pool) first() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.reached) == 0 {
		return ""
	}
	return p.reached[0]
}

// recording is one fake upstream.
type recording struct {
	name string
	pool *pool
}

var (
	_ engine.Upstream  = (*recording)(nil)
	_ engine.Explainer = (*recording)(nil)
)

// Name is the upstream's policy name.
func (u *recording) Name() string { return u.name }

// Serve records the batch and answers each command.
func (u *recording) Serve(_ context.Context, b engine.Batch) {
	u.pool.mu.Lock()
	u.pool.reached = append(u.pool.reached, u.name)
	if u.pool.sent == nil && len(b) > 0 {
		u.pool.sent = make([]string, len(b[0].Cmd.Args))
		for i, a := range b[0].Cmd.Args {
			u.pool.sent[i] = string(a)
		}
	}
	u.pool.mu.Unlock()
	for _, r := range b {
		r.Upstream = u.name
		r.Reply(fakeReply(&r.Cmd))
	}
}

// Explain records that the walk reaches this upstream.
func (u *recording) Explain(_ *engine.Request, x *engine.Explanation) engine.Engine {
	x.Reach(u.name)
	return nil
}

var (
	replyOK   = []byte("+OK\r\n")
	replyNil  = []byte("$-1\r\n")
	replyOne  = []byte(":1\r\n")
	replyNone = []byte("*0\r\n")
)

// fakeReply is an empty answer of the right type: counters give 1,
// scripts 1, reads of keys nil, keyless reads an empty array, and
// everything else OK.
func fakeReply(c *resp.Command) []byte {
	name := c.Name()
	switch {
	case strings.HasPrefix(name, "INCR"), strings.HasPrefix(name, "DECR"), strings.HasPrefix(name, "EVAL"):
		return replyOne
	case name == "SCAN":
		return []byte("*2\r\n$1\r\n0\r\n*0\r\n")
	case name == "KEYS":
		return replyNone
	case c.Spec != nil && c.Spec.Has(resp.FlagReadOnly):
		return replyNil
	}
	return replyOK
}
