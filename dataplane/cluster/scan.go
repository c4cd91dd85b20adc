package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Cursor layout of SCAN: the low bits number the shard being walked, the
// rest are that primary's own cursor. Redis's cursors are reversed-bit
// counters below the size of its hash table, far under 2^50.
const (
	shardBits = 14
	shardMask = 1<<shardBits - 1
)

var errBadCursor = errors.New("ERR invalid cursor")

// scan serves SCAN as a walk over every primary in shard order: the
// client's cursor says which primary and where in it, and a primary's
// end moves the cursor to the next one, so the client sees one keyspace
// and one cursor that returns to 0 at the very end. A reshard during the
// walk can make it miss or repeat keys, as a rehash can in Redis.
func (c *Client) scan(ctx context.Context, name string, t *topology, r *engine.Request) {
	cur, err := strconv.ParseUint(string(r.Cmd.Args[1]), 10, 64)
	if err != nil {
		r.Fail(engine.KindRefused, errBadCursor)
		return
	}
	shard := int(cur & shardMask)
	if shard >= len(t.primaries) {
		// The cluster has fewer shards than when the walk began: end it.
		r.Reply([]byte("*2\r\n$1\r\n0\r\n*0\r\n"))
		return
	}
	sub := engine.Request{Session: r.Session, Read: r.Read}
	sub.Cmd.Spec = r.Cmd.Spec
	sub.Cmd.Args = append(sub.Cmd.Args, r.Cmd.Args[0], strconv.AppendUint(nil, cur>>shardBits, 10))
	sub.Cmd.Args = append(sub.Cmd.Args, r.Cmd.Args[2:]...)
	n := t.primaries[shard]
	engine.Do(ctx, engine.Func(func(ctx context.Context, b engine.Batch) { n.Serve(ctx, name, b) }), &sub)
	if sub.Err() != nil {
		r.Fail(sub.Kind(), sub.Err())
		return
	}
	v, err := resp.ParseValue(sub.Raw())
	if err != nil || v.Kind != '*' || len(v.Elems) != 2 {
		r.Reply(sub.Raw()) // an error reply, or something to pass on as is
		return
	}
	next, err := strconv.ParseUint(string(v.Elems[0].Str), 10, 64)
	if err != nil || next>>(64-shardBits) != 0 {
		r.Fail(engine.KindProxy, fmt.Errorf("keyway: SCAN cursor %q from %s does not fit the proxy's cursor", v.Elems[0].Str, n.Addr()))
		return
	}
	out := next<<shardBits | uint64(shard)
	if next == 0 {
		out = uint64(shard + 1)
		if shard+1 == len(t.primaries) {
			out = 0
		}
	}
	// Only the cursor changes: the keys go back in the node's own shape.
	v.Elems[0] = resp.Value{Kind: '$', Str: strconv.AppendUint(nil, out, 10)}
	r.SetReplied(v.AppendTo(r.ReplyBuffer()))
}
