// Package route is the Route engine: it chooses a child by the longest
// key prefix that matches a request's key. Multi-key commands whose keys
// belong to several children are scattered and their replies gathered, so a
// client sees one Redis.
package route

import (
	"context"
	"fmt"
	"sync"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/internal/trie"
	"keyway.dev/dataplane/multikey"
)

// Route sends each request to the child of the longest prefix matching
// its first key; keyless requests and unmatched keys go to the default
// child.
type Route struct {
	prefixes []string
	trie     *trie.Trie
	// targets holds one child per prefix, then the default last.
	targets []engine.Engine
}

var (
	_ engine.Engine    = (*Route)(nil)
	_ engine.Explainer = (*Route)(nil)
)

// keyBufs recycles key index buffers: Command.Keys may call through a
// function value, which would move a stack buffer to the heap on every
// request.
var keyBufs = sync.Pool{New: func() any { b := make([]int, 0, 16); return &b }}

// target returns the index in targets of the child key belongs to.
func (rt *Route) target(key []byte) int {
	if i := rt.trie.Longest(key); i >= 0 {
		return i
	}
	return len(rt.targets) - 1
}

func (rt *Route) def() int { return len(rt.targets) - 1 }

// classify returns the child of r's first key and whether other keys of
// r belong to other children.
func (rt *Route) classify(r *engine.Request) (t int, mixed bool) {
	buf := keyBufs.Get().(*[]int)
	keys := r.Cmd.Keys((*buf)[:0])
	t = rt.def()
	if len(keys) > 0 {
		t = rt.target(r.Cmd.Args[keys[0]])
		for _, k := range keys[1:] {
			if rt.target(r.Cmd.Args[k]) != t {
				mixed = true
				break
			}
		}
	}
	*buf = keys[:0]
	keyBufs.Put(buf)
	return t, mixed
}

// pick is classify for batches known to hold no mixed request.
func (rt *Route) pick(r *engine.Request) engine.Engine {
	t, _ := rt.classify(r)
	return rt.targets[t]
}

// Serve partitions b by child and serves the parts concurrently. The
// common batch, where no request spans children, goes through
// engine.Dispatch as is; otherwise spanning requests are scattered first,
// and MULTI ... EXEC spans are kept whole on one child.
func (rt *Route) Serve(ctx context.Context, b engine.Batch) {
	if len(b) == 1 {
		t, mixed := rt.classify(b[0])
		if !mixed {
			rt.targets[t].Serve(ctx, b)
			return
		}
	} else {
		mixed := false
		for _, r := range b {
			if _, m := rt.classify(r); m || is(r, "MULTI") {
				mixed = true
				break
			}
		}
		if !mixed {
			engine.Dispatch(ctx, b, rt.pick)
			return
		}
	}
	rt.serveScattered(ctx, b)
}

// Explain records which prefix matched r's key and returns that child.
func (rt *Route) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	keys := r.Cmd.Keys(nil)
	if len(keys) == 0 {
		x.Note("no key: default")
		return rt.targets[rt.def()]
	}
	t, mixed := rt.classify(r)
	if mixed {
		if m, ok := multikey.Scatterable(&r.Cmd); ok {
			x.Note("keys span several children: split per child and merged (%s); following the first key", m)
		} else {
			x.Refuse(rt.crossSlot(r).Error())
			return nil
		}
	}
	key := r.Cmd.Args[keys[0]]
	if t == rt.def() {
		x.Note("key %q matches no prefix: default", key)
	} else {
		x.Note("key %q matches prefix %q", key, rt.prefixes[t])
	}
	return rt.targets[t]
}

// name describes target t in errors.
func (rt *Route) name(t int) string {
	if t == rt.def() {
		return "default"
	}
	return fmt.Sprintf("prefix %q", rt.prefixes[t])
}

// is reports whether r is the command named name (upper case).
func is(r *engine.Request, name string) bool {
	return r.Cmd.Spec != nil && r.Cmd.Spec.Name == name
}
