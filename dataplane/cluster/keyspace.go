package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// keyspaceOp is a keyless command about the whole keyspace, which a
// cluster answers per node and the proxy must answer for all of them.
type keyspaceOp uint8

const (
	notKeyspace keyspaceOp = iota
	// opDBSize sums every primary's DBSIZE.
	opDBSize
	// opScan walks the primaries one after another with one cursor.
	opScan
	// opKeys concatenates every primary's KEYS, when the policy allows.
	opKeys
	// opFlush runs FLUSHALL or FLUSHDB everywhere, when the policy allows.
	opFlush
	// opEverywhere loads or drops scripts and functions on every primary,
	// so EVALSHA and FCALL find them whichever node a key lives on.
	opEverywhere
)

func keyspaceKind(r *engine.Request) keyspaceOp {
	if r.Cmd.Spec == nil {
		return notKeyspace
	}
	switch r.Cmd.Spec.Name {
	case "DBSIZE":
		return opDBSize
	case "SCAN":
		return opScan
	case "KEYS":
		return opKeys
	case "FLUSHALL", "FLUSHDB":
		return opFlush
	case "SCRIPT|LOAD", "SCRIPT|FLUSH", "FUNCTION|LOAD", "FUNCTION|FLUSH", "FUNCTION|DELETE", "FUNCTION|RESTORE":
		return opEverywhere
	}
	return notKeyspace
}

// serveKeyspace answers the job's keyspace commands, one after another:
// they are rare and each already fans out.
func (j *job) serveKeyspace(ctx context.Context, t *topology) {
	for _, r := range j.keyspace {
		j.c.keyspace(ctx, j.name, t, r)
	}
}

func (c *Client) keyspace(ctx context.Context, name string, t *topology, r *engine.Request) {
	op := keyspaceKind(r)
	if (op == opKeys || op == opFlush) && !c.cfg.GetAllowKeyspaceCommands() {
		r.Fail(engine.KindRefused, fmt.Errorf("keyway: %s would run on every node of cluster upstream %s; the policy allows it with redis_cluster(..., allow_keyspace_commands = True)", r.Cmd.Name(), name))
		return
	}
	if op == opScan {
		c.scan(ctx, name, t, r)
		return
	}
	parts, err := c.fanout(ctx, name, t, r.Cmd)
	if err != nil {
		r.Fail(engine.KindProxy, err)
		return
	}
	for i := range parts {
		if raw := parts[i].Raw(); len(raw) > 0 && raw[0] == '-' {
			r.Reply(raw)
			return
		}
	}
	switch op {
	case opDBSize:
		var sum int64
		for i := range parts {
			v, err := decode(parts[i].Raw())
			if err != nil || v.kind != ':' {
				r.Fail(engine.KindProxy, fmt.Errorf("keyway: DBSIZE from %s: bad reply", t.m.Shards[i].Primary))
				return
			}
			sum += v.num
		}
		r.SetReplied(resp.AppendInt(r.ReplyBuffer(), sum))
	case opKeys:
		var keys [][]byte
		for i := range parts {
			v, err := decode(parts[i].Raw())
			if err != nil || v.kind != '*' {
				r.Fail(engine.KindProxy, fmt.Errorf("keyway: KEYS from %s: bad reply", t.m.Shards[i].Primary))
				return
			}
			for _, e := range v.elems {
				keys = append(keys, e.str)
			}
		}
		out := resp.AppendArray(r.ReplyBuffer(), len(keys))
		for _, k := range keys {
			out = resp.AppendBulk(out, k)
		}
		r.SetReplied(out)
	default:
		// FLUSH*, SCRIPT LOAD, FUNCTION ...: every node answered the
		// same (OK, or the script's SHA), so the first answer is all.
		r.Reply(parts[0].Raw())
	}
}

// fanout sends cmd to every primary in parallel and returns the answered
// requests in shard order; a failure of the proxy to reach one is the
// error.
func (c *Client) fanout(ctx context.Context, name string, t *topology, cmd resp.Command) ([]engine.Request, error) {
	parts := make([]engine.Request, len(t.primaries))
	var wg sync.WaitGroup
	for i, n := range t.primaries {
		parts[i].Cmd = cmd
		wg.Add(1)
		go func() {
			defer wg.Done()
			engine.Do(ctx, engine.Func(func(ctx context.Context, b engine.Batch) { n.Serve(ctx, name, b) }), &parts[i])
		}()
	}
	wg.Wait()
	for i := range parts {
		if err := parts[i].Err(); err != nil {
			return nil, err
		}
	}
	return parts, nil
}

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
	sub := engine.Request{Session: r.Session}
	sub.Cmd.Spec = r.Cmd.Spec
	sub.Cmd.Args = append(sub.Cmd.Args, r.Cmd.Args[0], strconv.AppendUint(nil, cur>>shardBits, 10))
	sub.Cmd.Args = append(sub.Cmd.Args, r.Cmd.Args[2:]...)
	n := t.primaries[shard]
	engine.Do(ctx, engine.Func(func(ctx context.Context, b engine.Batch) { n.Serve(ctx, name, b) }), &sub)
	if sub.Err() != nil {
		r.Fail(sub.Kind(), sub.Err())
		return
	}
	v, err := decode(sub.Raw())
	if err != nil || v.kind != '*' || len(v.elems) != 2 {
		r.Reply(sub.Raw()) // an error reply, or something to pass on as is
		return
	}
	next, err := strconv.ParseUint(string(v.elems[0].str), 10, 64)
	if err != nil || next>>(64-shardBits) != 0 {
		r.Fail(engine.KindProxy, fmt.Errorf("keyway: SCAN cursor %q from %s does not fit the proxy's cursor", v.elems[0].str, n.Addr()))
		return
	}
	out := next<<shardBits | uint64(shard)
	if next == 0 {
		out = uint64(shard + 1)
		if shard+1 == len(t.primaries) {
			out = 0
		}
	}
	b := resp.AppendArray(r.ReplyBuffer(), 2)
	b = resp.AppendBulk(b, strconv.AppendUint(nil, out, 10))
	b = resp.AppendArray(b, len(v.elems[1].elems))
	for _, k := range v.elems[1].elems {
		b = resp.AppendBulk(b, k.str)
	}
	r.SetReplied(b)
}
