package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// Cluster-wide commands. A Redis Cluster node answers these for itself
// only: its keys, its scripts, its configuration, its subscribers. A
// client of the proxy sees one server, so the proxy asks every primary
// (or the one that matters) and merges the answers the way a user of a
// single Redis would read them. wideCommands is the whole list, and
// docs/commands.md ("Cluster-wide commands") describes each rule; keep
// the two together.

// wideRule is how one command is answered for the whole cluster.
type wideRule struct {
	// serve answers r from the primaries of t.
	serve func(c *Client, ctx context.Context, name string, t *topology, r *engine.Request)
	// guarded commands read or wipe every key, and run only when the
	// policy sets allow_keyspace_commands.
	guarded bool
}

// wideCommands maps a command's table name to its rule.
var wideCommands map[string]wideRule

func init() {
	all := func(m merger) wideRule { return wideRule{serve: fanoutWith(m)} }
	wideCommands = map[string]wideRule{
		"DBSIZE":    all(sumInts),
		"KEYS":      {serve: fanoutWith(concatArrays), guarded: true},
		"SCAN":      {serve: (*Client).scan},
		"RANDOMKEY": {serve: (*Client).randomKey},
		"FLUSHALL":  {serve: fanoutWith(allSucceed), guarded: true},
		"FLUSHDB":   {serve: fanoutWith(allSucceed), guarded: true},

		// EVALSHA and FCALL run wherever their keys live, so scripts and
		// functions are loaded and dropped on every primary.
		"SCRIPT|LOAD":      all(allSucceed),
		"SCRIPT|FLUSH":     all(allSucceed),
		"SCRIPT|EXISTS":    all(andInts),
		"SCRIPT|KILL":      {serve: (*Client).kill},
		"FUNCTION|LOAD":    all(allSucceed),
		"FUNCTION|DELETE":  all(allSucceed),
		"FUNCTION|FLUSH":   all(allSucceed),
		"FUNCTION|RESTORE": all(allSucceed),
		"FUNCTION|KILL":    {serve: (*Client).kill},
		"FUNCTION|LIST":    {serve: (*Client).first},
		"FUNCTION|DUMP":    {serve: (*Client).first},
		"FUNCTION|STATS":   all(runningScript),

		"CONFIG|GET":       {serve: (*Client).first},
		"CONFIG|SET":       all(allSucceed),
		"CONFIG|RESETSTAT": all(allSucceed),
		"CONFIG|REWRITE":   all(allSucceed),

		"WAIT": {serve: (*Client).wait},

		"MEMORY|STATS":        all(memoryStats),
		"MEMORY|DOCTOR":       all(concatText),
		"MEMORY|MALLOC-STATS": all(concatText),
		"MEMORY|PURGE":        all(allSucceed),
		"LATENCY|LATEST":      all(latencyLatest),
		"LATENCY|HISTORY":     all(latencyHistory),
		"LATENCY|RESET":       all(sumInts),
		"LATENCY|DOCTOR":      all(concatText),
		"LATENCY|GRAPH":       all(concatText),
		"LATENCY|HISTOGRAM":   all(sumMaps),
		"SLOWLOG|GET":         all(slowlogGet),
		"SLOWLOG|LEN":         all(sumInts),
		"SLOWLOG|RESET":       all(allSucceed),

		// Subscriptions live on the node a subscriber is connected to.
		"PUBLISH":              {serve: (*Client).publish},
		"PUBSUB|CHANNELS":      all(unionArrays),
		"PUBSUB|SHARDCHANNELS": all(unionArrays),
		"PUBSUB|NUMSUB":        all(sumMaps),
		"PUBSUB|SHARDNUMSUB":   all(sumMaps),
		"PUBSUB|NUMPAT":        all(sumInts),
		"INFO":                 all(mergeInfo),

		// Redis's own tip for PING is all shards, all succeeded: a client
		// asking whether "the server" is healthy hears BUSY or LOADING
		// from whichever node says so.
		"PING": all(allSucceed),
	}
}

// wideOf returns r's cluster-wide rule.
func wideOf(r *engine.Request) (wideRule, bool) {
	if r.Cmd.Spec == nil {
		return wideRule{}, false
	}
	w, ok := wideCommands[r.Cmd.Spec.Name]
	return w, ok
}

// isWide reports whether r is answered by the whole cluster.
func isWide(r *engine.Request) bool {
	_, ok := wideOf(r)
	return ok
}

// serveWide answers one cluster-wide command.
func (c *Client) serveWide(ctx context.Context, name string, t *topology, r *engine.Request) {
	w, _ := wideOf(r)
	if w.guarded && !c.cfg.GetAllowKeyspaceCommands() {
		r.Fail(engine.KindRefused, fmt.Errorf("keyway: %s would run on every node of cluster upstream %s; the policy allows it with redis_cluster(..., allow_keyspace_commands = True)", r.Cmd.Name(), name))
		return
	}
	w.serve(c, ctx, name, t, r)
}

// reply is one node's answer to a fanned-out command.
type reply struct {
	node string
	raw  []byte
}

// merger builds the client's reply from every primary's, in shard
// order, none of them an error (fanoutWith answers the first error
// itself unless the merger says it reads errors). It returns the
// reply's bytes appended to dst.
type merger struct {
	merge func(r *engine.Request, dst []byte, parts []reply) ([]byte, error)
	// errors: the merger sees error replies too (SCRIPT KILL).
	errors bool
}

// fanoutWith is the rule "ask every primary, then merge".
func fanoutWith(m merger) func(*Client, context.Context, string, *topology, *engine.Request) {
	return func(c *Client, ctx context.Context, name string, t *topology, r *engine.Request) {
		parts, err := c.fanout(ctx, name, t.primaries, r)
		if err != nil {
			r.Fail(engine.KindProxy, err)
			return
		}
		if !m.errors {
			for _, p := range parts {
				if isError(p.raw) {
					r.Reply(p.raw)
					return
				}
			}
		}
		out, err := m.merge(r, r.ReplyBuffer(), parts)
		if err != nil {
			r.Fail(engine.KindProxy, fmt.Errorf("keyway: merge the cluster's replies to %s: %w", r.Cmd.Name(), err))
			return
		}
		r.SetReplied(out)
	}
}

func isError(raw []byte) bool { return len(raw) > 0 && (raw[0] == '-' || raw[0] == '!') }

// fanout sends r's command to every node of nodes in parallel, on the
// connections of r's protocol, and returns the replies in order; a
// failure of the proxy to reach one is the error.
func (c *Client) fanout(ctx context.Context, name string, nodes []*upstream.Node, r *engine.Request) ([]reply, error) {
	return c.fanoutCmd(ctx, name, nodes, r, r.Cmd)
}

func (c *Client) fanoutCmd(ctx context.Context, name string, nodes []*upstream.Node, r *engine.Request, cmd resp.Command) ([]reply, error) {
	subs := make([]engine.Request, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		subs[i].Cmd = cmd
		subs[i].Session, subs[i].Read = r.Session, r.Read
		wg.Add(1)
		go func() {
			defer wg.Done()
			engine.Do(ctx, nodeEngine(n, name), &subs[i])
		}()
	}
	wg.Wait()
	out := make([]reply, len(nodes))
	for i := range subs {
		if err := subs[i].Err(); err != nil {
			return nil, err
		}
		out[i] = reply{node: nodes[i].Addr(), raw: subs[i].Raw()}
	}
	return out, nil
}

func nodeEngine(n *upstream.Node, name string) engine.Engine {
	return engine.Func(func(ctx context.Context, b engine.Batch) { n.Serve(ctx, name, b) })
}

// first is the rule for what every primary holds alike once writes fan
// out (functions, configuration): the first primary answers.
func (c *Client) first(ctx context.Context, name string, t *topology, r *engine.Request) {
	sub := engine.Request{Cmd: r.Cmd, Session: r.Session, Read: r.Read}
	engine.Do(ctx, nodeEngine(t.primaries[0], name), &sub)
	relay(r, &sub)
}

// relay answers r as sub was answered.
func relay(r, sub *engine.Request) {
	if sub.Err() != nil {
		r.Fail(sub.Kind(), sub.Err())
		return
	}
	r.Reply(sub.Raw())
}

// allSucceed: every primary must succeed; the first error in shard order
// is the answer otherwise (fanoutWith returns it). On success every node
// said the same (OK, a script's SHA, a library's name).
var allSucceed = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	return append(dst, parts[0].raw...), nil
}}

// sumInts adds integer replies (DBSIZE, SLOWLOG LEN, LATENCY RESET).
var sumInts = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	var sum int64
	for _, p := range parts {
		v, err := resp.ParseValue(p.raw)
		if err != nil || v.Kind != ':' {
			return nil, fmt.Errorf("%s answered %.40q, not an integer", p.node, p.raw)
		}
		sum += v.Num
	}
	return resp.AppendInt(dst, sum), nil
}}

// concatArrays joins every primary's array (KEYS).
var concatArrays = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*')
	if err != nil {
		return nil, err
	}
	var all []resp.Value
	for _, v := range vals {
		all = append(all, v.Elems...)
	}
	return resp.Value{Kind: vals[0].Kind, Elems: all}.AppendTo(dst), nil
}}

// unionArrays joins every primary's array without repeating an element
// (PUBSUB CHANNELS: a channel may have subscribers on several nodes).
var unionArrays = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*')
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	out := resp.Value{Kind: vals[0].Kind}
	for _, v := range vals {
		for _, e := range v.Elems {
			if !seen[string(e.Str)] {
				seen[string(e.Str)] = true
				out.Elems = append(out.Elems, e)
			}
		}
	}
	return out.AppendTo(dst), nil
}}

// andInts: SCRIPT EXISTS says 1 for a script only if every primary has
// it, since EVALSHA may land on any of them.
var andInts = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*')
	if err != nil {
		return nil, err
	}
	out := vals[0]
	out.Elems = slices.Clone(out.Elems)
	for _, v := range vals[1:] {
		if len(v.Elems) != len(out.Elems) {
			return nil, errors.New("nodes answered arrays of different lengths")
		}
		for i, e := range v.Elems {
			if e.Num == 0 || e.Kind == '#' && string(e.Str) == "f" {
				out.Elems[i] = e
			}
		}
	}
	return out.AppendTo(dst), nil
}}

// decodeAll decodes every part, each of one of kinds (a RESP3 reply may
// use the RESP3 shape of the same data: '~' for '*', '%' for a map).
func decodeAll(parts []reply, kinds ...byte) ([]resp.Value, error) {
	out := make([]resp.Value, len(parts))
	for i, p := range parts {
		v, err := resp.ParseValue(p.raw)
		if err != nil {
			return nil, fmt.Errorf("reply of %s: %w", p.node, err)
		}
		if len(kinds) > 0 && !slices.Contains(kinds, v.Kind) && !(kinds[0] == '*' && (v.Kind == '~' || v.Kind == '%')) {
			return nil, fmt.Errorf("%s answered %.40q", p.node, p.raw)
		}
		out[i] = v
	}
	return out, nil
}

var notBusy = []byte("-NOTBUSY")

// kill sends SCRIPT KILL or FUNCTION KILL to every primary, each on a
// connection of its own: the shared ones may be queued behind the very
// script being killed. It is OK if any node killed one; NOTBUSY only if
// every node had nothing to kill; otherwise the first other error
// (UNKILLABLE: the script already wrote).
func (c *Client) kill(ctx context.Context, name string, t *topology, r *engine.Request) {
	replies := make([][]byte, len(t.primaries))
	errs := make([]error, len(t.primaries))
	var wg sync.WaitGroup
	for i, n := range t.primaries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], errs[i] = c.dedicatedDo(ctx, n, name, r.Cmd.Args, c.opts.Timeout)
		}()
	}
	wg.Wait()
	for i := range replies {
		if errs[i] == nil && !isError(replies[i]) {
			r.Reply(replies[i])
			return
		}
	}
	var firstErr []byte
	for i := range replies {
		switch {
		case errs[i] != nil:
			r.Fail(engine.KindProxy, errs[i])
			return
		case firstErr == nil && !bytes.HasPrefix(replies[i], notBusy):
			firstErr = replies[i]
		}
	}
	if firstErr == nil {
		firstErr = replies[0]
	}
	r.Reply(firstErr)
}

// dedicatedDo runs one command on a connection of its own to n and
// returns a copy of the reply, waiting at most wait.
func (c *Client) dedicatedDo(ctx context.Context, n *upstream.Node, name string, args [][]byte, wait time.Duration) ([]byte, error) {
	d, err := n.Dedicated(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := d.Send(args); err != nil {
		d.Close()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	raw, err := d.Next(ctx)
	if err != nil {
		d.Close() // a late reply would be read as the next command's
		return nil, fmt.Errorf("keyway: %s on %s: %w", args[0], n.Addr(), err)
	}
	out := slices.Clone(raw)
	d.Release()
	return out, nil
}

// wait serves WAIT on every primary, since the client's writes may have
// gone to any of them, and answers the smallest count: the number of
// replicas every primary reached. Each runs on a connection of its own,
// WAIT blocking it.
func (c *Client) wait(ctx context.Context, name string, t *topology, r *engine.Request) {
	ms, err := strconv.ParseInt(string(r.Cmd.Args[2]), 10, 64)
	if err != nil || ms < 0 {
		r.Fail(engine.KindRefused, errors.New("ERR timeout is not an integer or out of range"))
		return
	}
	limit := time.Duration(1<<63 - 1)
	if ms > 0 {
		limit = time.Duration(ms)*time.Millisecond + c.opts.Timeout
	}
	replies := make([][]byte, len(t.primaries))
	errs := make([]error, len(t.primaries))
	var wg sync.WaitGroup
	for i, n := range t.primaries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i], errs[i] = c.dedicatedDo(ctx, n, name, r.Cmd.Args, limit)
		}()
	}
	wg.Wait()
	least := int64(-1)
	for i := range replies {
		if errs[i] != nil {
			r.Fail(engine.KindProxy, errs[i])
			return
		}
		v, err := resp.ParseValue(replies[i])
		if err != nil || v.Kind != ':' {
			r.Reply(replies[i])
			return
		}
		if least < 0 || v.Num < least {
			least = v.Num
		}
	}
	r.SetReplied(resp.AppendInt(r.ReplyBuffer(), least))
}

// randomKey asks the primaries in a random order until one has a key,
// so a key comes back whenever any node holds one; nil only when every
// node is empty.
func (c *Client) randomKey(ctx context.Context, name string, t *topology, r *engine.Request) {
	var sub engine.Request
	for _, i := range rand.Perm(len(t.primaries)) {
		sub.Reset()
		sub.Cmd, sub.Session, sub.Read = r.Cmd, r.Session, r.Read
		engine.Do(ctx, nodeEngine(t.primaries[i], name), &sub)
		if sub.Err() != nil || isError(sub.Raw()) {
			relay(r, &sub)
			return
		}
		if v, err := resp.ParseValue(sub.Raw()); err != nil || !v.IsNull() {
			break
		}
	}
	relay(r, &sub)
}

// publish sends PUBLISH to one primary, chosen by the client connection
// so one client's messages keep their order, and the cluster carries it
// to every node. That node counts only its own receivers, while
// subscribers through the proxy are spread over every primary: so the
// other primaries are asked how many clients subscribe to the channel,
// and the answer is the sum. Pattern subscribers on the other primaries
// are not counted: Redis has no command that counts them for a channel
// without publishing.
func (c *Client) publish(ctx context.Context, name string, t *topology, r *engine.Request) {
	home := anyPrimary(t, r).node
	var others []*upstream.Node
	for _, n := range t.primaries {
		if n != home {
			others = append(others, n)
		}
	}
	var numsub []reply
	var numErr error
	var wg sync.WaitGroup
	if len(others) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := resp.Command{Args: [][]byte{[]byte("PUBSUB"), []byte("NUMSUB"), r.Cmd.Args[1]}}
			cmd.Spec = resp.Resolve(cmd.Args)
			numsub, numErr = c.fanoutCmd(ctx, name, others, r, cmd)
		}()
	}
	sub := engine.Request{Cmd: r.Cmd, Session: r.Session, Read: r.Read}
	engine.Do(ctx, nodeEngine(home, name), &sub)
	wg.Wait()
	v, err := resp.ParseValue(sub.Raw())
	if sub.Err() != nil || err != nil || v.Kind != ':' || numErr != nil {
		// The message went out (or not) as the home node says; a count
		// the proxy cannot complete is still that node's count.
		relay(r, &sub)
		return
	}
	sum := v.Num
	for _, p := range numsub {
		if nv, err := resp.ParseValue(p.raw); err == nil && len(nv.Elems) == 2 {
			sum += nv.Elems[1].Num
		}
	}
	r.SetReplied(resp.AppendInt(r.ReplyBuffer(), sum))
}
