// Package split is the Split engine: it sends a weighted share of
// traffic to each child, stable per client connection or per key, so a
// migration can move 1%, then 10%, then all of a domain to a new Redis.
package split

import (
	"context"
	"sync"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/policy/kinds"
)

// Buckets is the resolution of a split: weights are laid out as
// cumulative ranges over 0..Buckets-1, so shares are exact to 0.01%.
// kinds.SplitWeights refuses weights too small for it, in render and here.
const Buckets = kinds.SplitBuckets

// Split sends each request to the child whose bucket range holds the
// request's bucket: a hash of its connection or of its first key.
type Split struct {
	children []engine.Engine
	weights  []uint32
	// bounds[i] is the first bucket past child i's range; the last is
	// Buckets.
	bounds []uint32
	byKey  bool
	// salt makes splits at different places in the tree independent:
	// without it a nested split would send every session of its
	// parent's first child to its own first child.
	salt uint64
}

var (
	_ engine.Engine    = (*Split)(nil)
	_ engine.Explainer = (*Split)(nil)
)

// keyBufs recycles key index buffers for commands whose keys are found
// by a function (EVAL, XREAD ...), which would move a stack buffer to the
// heap on every request.
var keyBufs = sync.Pool{New: func() any { b := make([]int, 0, 16); return &b }}

// Serve partitions b by child, keeping the client's order within each
// child, and serves the parts concurrently.
func (s *Split) Serve(ctx context.Context, b engine.Batch) {
	if len(s.children) == 1 {
		s.children[0].Serve(ctx, b)
		return
	}
	engine.Dispatch(ctx, b, s.pick)
}

func (s *Split) pick(r *engine.Request) engine.Engine {
	bucket, _ := s.bucket(r)
	return s.children[s.child(bucket)]
}

// bucket returns r's bucket and, when it was chosen by key, the key.
func (s *Split) bucket(r *engine.Request) (uint32, []byte) {
	if s.byKey {
		if k := firstKey(&r.Cmd); k != nil {
			return uint32(mix(fnv(k)^s.salt) % Buckets), k
		}
	}
	var h uint64
	if r.Session != nil {
		h = r.Session.Hash
	}
	return uint32(mix(h^s.salt) % Buckets), nil
}

// child returns the index of the child whose range holds bucket.
func (s *Split) child(bucket uint32) int {
	for i, b := range s.bounds {
		if bucket < b {
			return i
		}
	}
	return len(s.bounds) - 1
}

// Explain records the bucket, what chose it, and the child it falls in.
func (s *Split) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	bucket, key := s.bucket(r)
	i := s.child(bucket)
	lo := uint32(0)
	if i > 0 {
		lo = s.bounds[i-1]
	}
	by := "connection"
	if key != nil {
		by = "key " + quote(key)
	} else if s.byKey {
		by = "connection (no key)"
	}
	x.Note("%s is in bucket %d of %d: children[%d] (weight %d, buckets %d..%d)",
		by, bucket, Buckets, i, s.weights[i], lo, s.bounds[i]-1)
	return s.children[i]
}

// firstKey returns cmd's first key, or nil for keyless commands.
func firstKey(cmd *resp.Command) []byte {
	sp := cmd.Spec
	if sp == nil {
		return nil
	}
	if sp.Keys == nil {
		// Fixed positions: no buffer needed.
		if sp.FirstKey > 0 && sp.Step > 0 && sp.FirstKey < len(cmd.Args) {
			return cmd.Args[sp.FirstKey]
		}
		return nil
	}
	buf := keyBufs.Get().(*[]int)
	keys := cmd.Keys((*buf)[:0])
	var k []byte
	if len(keys) > 0 {
		k = cmd.Args[keys[0]]
	}
	*buf = keys[:0]
	keyBufs.Put(buf)
	return k
}

// fnv is FNV-1a: deterministic on every proxy, so a key goes to the same
// child whichever proxy a client reaches.
func fnv(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// mix is splitmix64's finalizer: it spreads sequential session hashes
// and FNV's weak low bits over the whole range.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func quote(b []byte) string {
	const max = 64
	if len(b) > max {
		return `"` + string(b[:max]) + `..."`
	}
	return `"` + string(b) + `"`
}
