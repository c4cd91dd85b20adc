// Package bycommand is the ByCommand engine: it chooses a child by the
// command's name or class (read, write, admin, blocking, pub/sub), so a
// policy can send reads to replicas or fence admin commands off.
package bycommand

import (
	"context"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// ByCommand sends each request to the child named for its command, else
// to the child of its class, else to the default child.
type ByCommand struct {
	// named maps command table rows to children. Build resolves names
	// to rows once, so a request costs one pointer-keyed map lookup and
	// no string work.
	named map[*resp.Spec]engine.Engine
	// names keeps how the policy spelt each named row, for Explain.
	names map[*resp.Spec]string
	// classes holds the child per resp.Class; nil means default.
	classes [classCount]engine.Engine
	def     engine.Engine
}

// classCount bounds resp.Class values (ClassOther ... ClassPubSub).
const classCount = int(resp.ClassPubSub) + 1

var (
	_ engine.Engine    = (*ByCommand)(nil)
	_ engine.Explainer = (*ByCommand)(nil)
)

// pick returns the child of r; it never returns nil.
func (bc *ByCommand) pick(r *engine.Request) engine.Engine {
	if e, ok := bc.lookup(r); ok {
		return e
	}
	if c := resp.ClassOf(&r.Cmd); bc.classes[c] != nil {
		return bc.classes[c]
	}
	return bc.def
}

func (bc *ByCommand) lookup(r *engine.Request) (engine.Engine, bool) {
	if len(bc.named) == 0 || r.Cmd.Spec == nil {
		return nil, false
	}
	e, ok := bc.named[r.Cmd.Spec]
	return e, ok
}

// Serve partitions b by child, keeping the client's order within each
// child, and serves the parts concurrently.
func (bc *ByCommand) Serve(ctx context.Context, b engine.Batch) {
	engine.Dispatch(ctx, b, bc.pick)
}

// Explain records whether a name or a class decided, and returns that
// child.
func (bc *ByCommand) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	if e, ok := bc.lookup(r); ok {
		x.Note("command %s is named (%s)", r.Cmd.Name(), bc.names[r.Cmd.Spec])
		return e
	}
	c := resp.ClassOf(&r.Cmd)
	if bc.classes[c] != nil {
		x.Note("command %s is a %s command", r.Cmd.Name(), c)
		return bc.classes[c]
	}
	if c == resp.ClassOther {
		x.Note("command %s has no class: default", r.Cmd.Name())
	} else {
		x.Note("command %s is a %s command, which has no child: default", r.Cmd.Name(), c)
	}
	return bc.def
}
