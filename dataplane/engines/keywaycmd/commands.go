// Package keywaycmd is the engine of the policy kind commands(): it
// answers the KEYWAY.* commands a policy declares (KEYWAY.LOCK,
// KEYWAY.UNLOCK, KEYWAY.EXTEND: lease locks with fencing tokens kept in a
// chosen child) and passes everything else on. The package is named for
// the command family, not "commands", which in this tree means Redis's
// command table (resp).
package keywaycmd

import (
	"context"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Commands answers the lock commands through locks and passes the rest to
// next.
type Commands struct {
	locks  engine.Engine
	prefix string
	next   engine.Engine
}

var (
	_ engine.Engine    = (*Commands)(nil)
	_ engine.Explainer = (*Commands)(nil)
)

// The proxy's own commands, compared by spec pointer.
var (
	specLock   = resp.Lookup([]byte("KEYWAY.LOCK"))
	specUnlock = resp.Lookup([]byte("KEYWAY.UNLOCK"))
	specExtend = resp.Lookup([]byte("KEYWAY.EXTEND"))
)

func custom(r *engine.Request) bool {
	s := r.Cmd.Spec
	return s != nil && (s == specLock || s == specUnlock || s == specExtend)
}

// Serve passes a batch without Keyway commands through whole, the common
// case, at the cost of one pointer compare per request. Otherwise the
// other commands go to next, in order, and then each Keyway command is
// answered in turn.
func (c *Commands) Serve(ctx context.Context, b engine.Batch) {
	n := 0
	for _, r := range b {
		if custom(r) {
			n++
		}
	}
	if n == 0 {
		c.next.Serve(ctx, b)
		return
	}
	if n < len(b) {
		rest := make(engine.Batch, 0, len(b)-n)
		for _, r := range b {
			if !custom(r) {
				rest = append(rest, r)
			}
		}
		c.next.Serve(ctx, rest)
	}
	for _, r := range b {
		switch r.Cmd.Spec {
		case specLock:
			c.lock(ctx, r)
		case specUnlock:
			c.unlock(ctx, r)
		case specExtend:
			c.extend(ctx, r)
		}
	}
}

// Explain says who answers a Keyway command and walks on into locks, so
// the path ends at the upstream that keeps the lock.
func (c *Commands) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	if !custom(r) {
		x.Note("not a Keyway command; passed on")
		return c.next
	}
	name := ""
	if len(r.Cmd.Args) > 1 {
		name = string(r.Cmd.Args[1])
	}
	switch r.Cmd.Spec {
	case specLock:
		x.Note("%s is answered by the proxy: INCR %s%s:fence, then SET %s%s <token> NX PX, in locks", r.Cmd.Spec.Name, c.prefix, name, c.prefix, name)
	default:
		x.Note("%s is answered by the proxy: compare-and-set of %s%s by script, in locks", r.Cmd.Spec.Name, c.prefix, name)
	}
	return c.locks
}
