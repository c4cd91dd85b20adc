// Package tracking keeps a client's CLIENT TRACKING on Redis itself:
// client-side caching through the proxy. Redis tracks the keys a
// connection reads, so a tracking client cannot share connections: once
// it turns CLIENT TRACKING on, each upstream node it reads from gets a
// connection of its own (a tconn) with tracking on, opened when the first
// command goes there, and its commands still go through the tree, so the
// policy applies; only the last hop is that connection (the Session is
// the request's engine.Pin).
//
// Invalidations reach the client as Redis would send them:
//   - RESP3 without REDIRECT: Redis pushes them on the tconn, between
//     replies; the tconn's reader hands pushes to the client's outbox at
//     once and replies to the command waiting for them.
//   - REDIRECT id (either protocol): id is a client of this proxy, which
//     Redis cannot address, so each tconn redirects to a sink, a RESP3
//     connection of its own on the same node, and the sink's reader
//     delivers what Redis sends there to the target client in the target's
//     protocol: the invalidate push to a RESP3 target, a message on
//     __redis__:invalidate to a RESP2 target in pub/sub mode.
//
// When a tconn breaks, Redis forgets what it tracked there, so the client
// is told to flush everything (an invalidation with a null key list), as
// Redis tells a client whose tracking state it dropped.
package tracking

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/push"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// Client is a client connection of the proxy as tracking sees it: the
// client that tracks, or the one its invalidations are redirected to.
// Every method is safe from any goroutine.
type Client interface {
	// RESP3 reports whether the client speaks RESP3 now.
	RESP3() bool
	// Outbox is the client's outbox while one runs, else nil.
	Outbox() *push.Outbox
	// Closed reports whether the connection is gone.
	Closed() bool
}

// Session is one client's tracking, and the login of its connections
// (Login). A nil *Session tracks nothing. Its methods run on the
// client's goroutine, except what the readers deliver.
type Session struct {
	c   Client
	ctx context.Context
	// on is set while CLIENT TRACKING is on; a session without it exists
	// for auth alone.
	on bool
	// args is the CLIENT TRACKING ON command without REDIRECT, sent on
	// every tconn.
	args [][]byte
	// auth, when set, is the AUTH that logs every tconn in as the user
	// the client authenticated as on Redis itself (keyway-proxy
	// --upstream, where Redis's ACL users are the clients' users): such a
	// client's commands all run on connections of its own, as that user.
	auth [][]byte

	bcast, optin, optout, noloop bool
	prefixes                     []string
	// redirect is the target's id as the client named it, 0 for none;
	// target is that client.
	redirect uint64
	target   Client
	// caching is CLIENT CACHING's answer for the next command: 'y', 'n'
	// or 0.
	caching byte
	broken  atomic.Bool // the redirect target went away

	conns map[*upstream.Node]*tconn
}

// tconn is one node's tracking connection and, with REDIRECT, its sink.
type tconn struct {
	// tr is the tracking state the readers deliver by; a CLIENT TRACKING
	// that changes options swaps in a new one.
	tr   atomic.Pointer[Session]
	node *upstream.Node
	d    *upstream.Dedicated
	sink *upstream.Dedicated

	replies chan []byte // reader → the command waiting for its reply
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	dead    chan struct{} // closed when either reader stops
	once    sync.Once
}

// trackReplyTimeout bounds the wait for a tracked command's reply; the
// commands that may wait longer (blocking ones) never take this path.
const trackReplyTimeout = 30 * time.Second

var errTrackingLost = errors.New("keyway: the tracking connection to redis was lost")

// Pushes reports whether Redis pushes invalidations to this client's own
// socket, which then needs an outbox.
func (t *Session) Pushes() bool {
	return t != nil && t.on && t.redirect == 0 && t.c.RESP3()
}

// Tracks reports whether CLIENT TRACKING is on.
func (t *Session) Tracks() bool { return t != nil && t.on }

// sendAll sends the (changed) CLIENT TRACKING command on every tconn and
// returns the first refusal.
func (t *Session) sendAll() error {
	for _, tc := range t.conns {
		reply, err := tc.do(t.trackArgs(tc))
		if err != nil {
			return err
		}
		if resp.IsError(reply) {
			return errors.New(resp.LineText(reply))
		}
	}
	return nil
}

// trackArgs is CLIENT TRACKING ON for tc: with REDIRECT to its sink.
func (t *Session) trackArgs(tc *tconn) [][]byte {
	if !t.on {
		return nil
	}
	if tc.sink == nil {
		return t.args
	}
	return append(append([][]byte(nil), t.args...), []byte("REDIRECT"), []byte(strconv.FormatInt(tc.sink.ID(), 10)))
}

// nodeFor is the node of up that serves key (nil: a keyless command).
func nodeFor(ctx context.Context, up engine.Upstream, key []byte) (*upstream.Node, error) {
	switch u := up.(type) {
	case interface{ Node() *upstream.Node }:
		return u.Node(), nil
	case interface {
		NodeFor(context.Context, []byte) (*upstream.Node, error)
	}:
		return u.NodeFor(ctx, key)
	}
	return nil, fmt.Errorf("keyway: upstream %q cannot track keys for CLIENT TRACKING", up.Name())
}

// Forward sends a tracking client's request to the node its keys live
// on, on that node's tconn. Keys of several nodes cannot be tracked by
// one connection, so such a command is refused as Redis Cluster refuses
// keys of several slots.
func (t *Session) Forward(_ context.Context, up engine.Upstream, b engine.Batch) {
	ctx := t.ctx
	for _, r := range b {
		var key []byte
		keys := r.Cmd.Keys(nil)
		if len(keys) > 0 {
			key = r.Cmd.Args[keys[0]]
		}
		node, err := nodeFor(ctx, up, key)
		if err == nil {
			for _, k := range keys[min(1, len(keys)):] {
				if n, err2 := nodeFor(ctx, up, r.Cmd.Args[k]); err2 != nil || n != node {
					err = fmt.Errorf("CROSSSLOT keyway: a tracking client's %s must name keys of one node of upstream %q, since Redis tracks keys per connection", r.Cmd.Spec.Name, up.Name())
					break
				}
			}
		}
		if err != nil {
			r.Fail(engine.KindRefused, err)
			continue
		}
		tc, err := t.conn(node, up.Name())
		if err != nil {
			r.Fail(engine.KindUpstream, err)
			continue
		}
		var reply []byte
		if t.caching != 0 {
			yes := "yes"
			if t.caching == 'n' {
				yes = "no"
			}
			t.caching = 0
			reply, err = tc.do([][]byte{[]byte("CLIENT"), []byte("CACHING"), []byte(yes)}, r.Cmd.Args)
		} else {
			reply, err = tc.do(r.Cmd.Args)
		}
		if err != nil {
			r.Fail(engine.KindUpstream, err)
			continue
		}
		if resp.IsRedirect(reply) {
			r.Fail(engine.KindRefused, fmt.Errorf("TRYAGAIN keyway: the slot of %s moved to another node while this client tracks keys; retry", r.Cmd.Spec.Name))
			continue
		}
		r.Reply(reply)
	}
}

// conn returns node's tconn, opening it with tracking on.
func (t *Session) conn(node *upstream.Node, name string) (*tconn, error) {
	if tc := t.conns[node]; tc != nil {
		select {
		case <-tc.dead:
			tc.close()
			delete(t.conns, node)
		default:
			return tc, nil
		}
	}
	ctx := t.ctx
	tc := &tconn{node: node, replies: make(chan []byte, 16), dead: make(chan struct{})}
	tc.tr.Store(t)
	d, err := node.Dedicated(ctx, name)
	if err != nil {
		return nil, err
	}
	tc.d = d
	if err := d.Protocol(ctx, t.proto()); err != nil {
		tc.discard()
		return nil, err
	}
	if t.on && t.redirect != 0 {
		if err := tc.openSink(ctx, name); err != nil {
			tc.discard()
			return nil, err
		}
	}
	tc.ctx, tc.cancel = context.WithCancel(ctx)
	tc.wg.Add(1)
	go tc.read()
	if tc.sink != nil {
		tc.wg.Add(1)
		go tc.readSink()
	}
	for _, cmd := range [][][]byte{t.auth, t.trackArgs(tc)} {
		if cmd == nil {
			continue
		}
		reply, err := tc.do(cmd)
		if err == nil && resp.IsError(reply) {
			err = errors.New(resp.LineText(reply))
		}
		if err != nil {
			tc.discard()
			return nil, err
		}
	}
	t.conns[node] = tc
	return tc, nil
}

// openSink opens the RESP3 connection Redis redirects invalidations to;
// d redirects to its CLIENT ID.
func (tc *tconn) openSink(ctx context.Context, name string) error {
	s, err := tc.node.Dedicated(ctx, name)
	if err != nil {
		return err
	}
	tc.sink = s
	return s.Protocol(ctx, 3)
}

// do sends cmds in one write and returns the reply to the last; the
// replies before it (CLIENT CACHING's +OK) are dropped.
func (tc *tconn) do(cmds ...[][]byte) ([]byte, error) {
	if err := tc.d.Send(cmds...); err != nil {
		tc.fail()
		return nil, err
	}
	timer := time.NewTimer(trackReplyTimeout)
	defer timer.Stop()
	var reply []byte
	for range cmds {
		select {
		case reply = <-tc.replies:
		case <-tc.dead:
			return nil, errTrackingLost
		case <-timer.C:
			tc.fail()
			return nil, fmt.Errorf("%w: no reply from %s within %s", errTrackingLost, tc.node.Addr(), trackReplyTimeout)
		}
	}
	return reply, nil
}

// read takes frames from the tracking connection: pushes go to the
// client at once, replies to the command waiting for them.
func (tc *tconn) read() {
	defer tc.wg.Done()
	defer tc.fail()
	for {
		frame, err := tc.d.Next(tc.ctx)
		if err != nil {
			return
		}
		if frame[0] == '>' {
			if box := tc.tr.Load().c.Outbox(); box != nil {
				box.Enqueue(frame)
			}
			continue
		}
		select {
		case tc.replies <- bytes.Clone(frame):
		case <-tc.ctx.Done():
			return
		}
	}
}

// readSink delivers what Redis redirects to the sink to the target.
func (tc *tconn) readSink() {
	defer tc.wg.Done()
	defer tc.fail()
	for {
		frame, err := tc.sink.Next(tc.ctx)
		if err != nil {
			return
		}
		if kind, rest, ok := push.PushKind(frame); ok && string(kind) == "invalidate" {
			tc.tr.Load().deliver(rest)
		}
	}
}

// deliver hands an invalidation (its key list, as Redis encoded it) to
// the redirect target in the target's protocol.
func (t *Session) deliver(keys []byte) {
	x := t.target
	if x == nil || x.Closed() {
		t.broken.Store(true)
		return
	}
	box := x.Outbox()
	if box == nil {
		return // Redis too sends nothing to a RESP2 target not in pub/sub mode
	}
	var frame []byte
	if x.RESP3() {
		frame = append([]byte(">2\r\n$10\r\ninvalidate\r\n"), keys...)
	} else {
		frame = append([]byte("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n"), keys...)
	}
	box.Enqueue(frame)
}

// fail marks tc dead and tells the client to drop everything it cached:
// Redis forgot what this connection tracked.
func (tc *tconn) fail() {
	tc.once.Do(func() {
		close(tc.dead)
		t := tc.tr.Load()
		if !t.on {
			return // nothing was tracked there
		}
		if t.redirect != 0 {
			null := "$-1\r\n"
			if t.c.RESP3() {
				null = "_\r\n"
			}
			t.deliver([]byte(null))
		} else if box := t.c.Outbox(); box != nil {
			box.Enqueue([]byte(">2\r\n$10\r\ninvalidate\r\n_\r\n"))
		}
	})
}

// close stops tc's readers and releases its connections; a release
// RESETs them, which turns tracking off.
func (tc *tconn) close() {
	if tc.cancel != nil {
		tc.cancel()
	}
	tc.wg.Wait()
	if tc.d != nil {
		tc.d.Release()
	}
	if tc.sink != nil {
		tc.sink.Release()
	}
}

// discard closes a tconn that never tracked anything: no gap to report.
func (tc *tconn) discard() {
	tc.once.Do(func() { close(tc.dead) })
	tc.close()
}

// Close ends tracking on every node.
func (t *Session) Close() {
	for node, tc := range t.conns {
		tc.discard() // a deliberate end is no gap
		delete(t.conns, node)
	}
}

// Reopen drops every tconn, as when the client switches protocol: the
// next command opens new ones in the new protocol, and the client is told
// to flush, since Redis forgets what the old connections tracked.
func (t *Session) Reopen() {
	for node, tc := range t.conns {
		tc.fail()
		tc.close()
		delete(t.conns, node)
	}
}
