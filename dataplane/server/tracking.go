package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/push"
	"keyway.dev/dataplane/upstream"
)

// Client-side caching through the proxy. Redis tracks the keys a
// connection reads, so a tracking client cannot share connections: once
// it turns CLIENT TRACKING on, each upstream node it reads from gets a
// connection of its own (a tconn) with tracking on, opened when the first
// command goes there, and its commands still go through the tree, so the
// policy applies; only the last hop is that connection (tracking is the
// request's engine.Pin).
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
type tracking struct {
	c *client
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
	target   *client
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
	tr   atomic.Pointer[tracking]
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

// pushes reports whether Redis pushes invalidations to this client's own
// socket, which then needs an outbox.
func (t *tracking) pushes() bool {
	return t != nil && t.on && t.redirect == 0 && t.c.resp3()
}

// tracks reports whether CLIENT TRACKING is on.
func (t *tracking) tracks() bool { return t != nil && t.on }

// clientTracking answers CLIENT TRACKING ON|OFF [options].
func (c *client) clientTracking(st *engine.State, args [][]byte) {
	switch strings.ToUpper(string(args[2])) {
	case "OFF":
		if len(args) != 3 {
			c.writeError("ERR syntax error")
			return
		}
		if t := c.tracker; t != nil && t.auth != nil {
			// The session stays for its login; only tracking ends.
			if t.on {
				off := &tracking{c: c, auth: t.auth, conns: t.conns}
				for _, tc := range t.conns {
					tc.tr.Store(off)
				}
				for node, tc := range t.conns {
					if reply, err := tc.do([][]byte{[]byte("CLIENT"), []byte("TRACKING"), []byte("OFF")}); err != nil || isErrorReply(reply) {
						tc.discard()
						delete(off.conns, node)
					}
				}
				c.tracker = off
				c.stopOutbox()
			}
			c.write(okReply)
			return
		}
		c.trackingOff()
		c.write(okReply)
		return
	case "ON":
	default:
		c.writeError("ERR syntax error")
		return
	}
	next := &tracking{c: c, on: true, args: [][]byte{[]byte("CLIENT"), []byte("TRACKING"), []byte("ON")}}
	if c.tracker != nil {
		next.auth = c.tracker.auth
	}
	for i := 3; i < len(args); i++ {
		opt := strings.ToUpper(string(args[i]))
		switch {
		case opt == "REDIRECT" && i+1 < len(args):
			id, err := strconv.ParseUint(string(args[i+1]), 10, 64)
			if err != nil {
				c.writeError("ERR value is not an integer or out of range")
				return
			}
			next.redirect = id
			i++
			continue
		case opt == "PREFIX" && i+1 < len(args):
			next.prefixes = append(next.prefixes, string(args[i+1]))
			next.args = append(next.args, []byte("PREFIX"), bytes.Clone(args[i+1]))
			i++
			continue
		case opt == "BCAST":
			next.bcast = true
		case opt == "OPTIN":
			next.optin = true
		case opt == "OPTOUT":
			next.optout = true
		case opt == "NOLOOP":
			next.noloop = true
		}
		next.args = append(next.args, bytes.Clone(args[i]))
	}
	if next.redirect != 0 {
		if next.target = c.srv.clientByID(next.redirect); next.target == nil {
			c.writeError("ERR The client ID you want redirect to does not exist")
			return
		}
	}
	// Redis judges the options (and a change of mode while on) on one
	// node; the proxy keeps the state only once Redis accepted it.
	old := c.tracker
	if old != nil && old.on && len(old.conns) > 0 && old.redirect == 0 && next.redirect != 0 {
		// A sink cannot be added to a connection already tracking;
		// start over, and tell the client its cache is void.
		old.reopen()
		old = nil
	}
	if old != nil {
		next.conns = old.conns
		for _, tc := range old.conns {
			tc.tr.Store(next)
		}
		if err := next.sendAll(); err != nil {
			for _, tc := range next.conns {
				tc.tr.Store(old)
			}
			c.writeError(err.Error())
			return
		}
	} else {
		next.conns = map[*upstream.Node]*tconn{}
		if err := next.validate(st); err != nil {
			next.close()
			c.writeError(err.Error())
			return
		}
	}
	c.tracker = next
	if next.pushes() {
		if err := c.startOutbox(); err != nil {
			c.trackingOff()
			c.dead = true
			return
		}
	}
	c.write(okReply)
}

// validate opens the tconn of the node a keyless command goes to, so
// Redis judges the options now, as it would answer CLIENT TRACKING. A
// policy that sends keyless commands nowhere leaves every tconn to the
// first command that needs it.
func (t *tracking) validate(st *engine.State) error {
	c := t.c
	if st == nil {
		return errNoPolicy
	}
	tree := c.treeOf(st)
	if tree == nil {
		return fmt.Errorf("keyway: workload domain %q has no policy", c.sess.Domain)
	}
	probe := t.args
	if probe == nil {
		probe = t.auth
	}
	r := &engine.Request{Session: &c.sess}
	r.Cmd.Args = probe
	r.Cmd.Spec = resp.Resolve(probe)
	up, routeErr := upstreamFor(tree.Root, r)
	if routeErr != nil {
		return nil // no keyless route: each tconn opens with the first command that needs it
	}
	node, err := nodeFor(c.srv.ctx, up, nil)
	if err != nil {
		return err
	}
	_, err = t.conn(node, up.Name())
	return err
}

// sendAll sends the (changed) CLIENT TRACKING command on every tconn and
// returns the first refusal.
func (t *tracking) sendAll() error {
	for _, tc := range t.conns {
		reply, err := tc.do(t.trackArgs(tc))
		if err != nil {
			return err
		}
		if isErrorReply(reply) {
			return errors.New(trimReply(reply))
		}
	}
	return nil
}

// trackArgs is CLIENT TRACKING ON for tc: with REDIRECT to its sink.
func (t *tracking) trackArgs(tc *tconn) [][]byte {
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
func (t *tracking) Forward(_ context.Context, up engine.Upstream, b engine.Batch) {
	ctx := t.c.srv.ctx
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
		if isRedirect(reply) {
			r.Fail(engine.KindRefused, fmt.Errorf("TRYAGAIN keyway: the slot of %s moved to another node while this client tracks keys; retry", r.Cmd.Spec.Name))
			continue
		}
		r.Reply(reply)
	}
}

// conn returns node's tconn, opening it with tracking on.
func (t *tracking) conn(node *upstream.Node, name string) (*tconn, error) {
	if tc := t.conns[node]; tc != nil {
		select {
		case <-tc.dead:
			tc.close()
			delete(t.conns, node)
		default:
			return tc, nil
		}
	}
	ctx := t.c.srv.ctx
	tc := &tconn{node: node, replies: make(chan []byte, 16), dead: make(chan struct{})}
	tc.tr.Store(t)
	d, err := node.Dedicated(ctx, name)
	if err != nil {
		return nil, err
	}
	tc.d = d
	if err := d.Protocol(ctx, t.c.proto()); err != nil {
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
		if err == nil && isErrorReply(reply) {
			err = errors.New(trimReply(reply))
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
			if box := tc.tr.Load().c.boxRef.Load(); box != nil {
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
func (t *tracking) deliver(keys []byte) {
	x := t.target
	if x == nil || x.closedFlag.Load() {
		t.broken.Store(true)
		return
	}
	box := x.boxRef.Load()
	if box == nil {
		return // Redis too sends nothing to a RESP2 target not in pub/sub mode
	}
	x.mu.Lock()
	resp3 := x.sess.Proto == 3
	x.mu.Unlock()
	var frame []byte
	if resp3 {
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
			t.c.mu.Lock()
			resp3 := t.c.sess.Proto == 3
			t.c.mu.Unlock()
			null := "$-1\r\n"
			if resp3 {
				null = "_\r\n"
			}
			t.deliver([]byte(null))
		} else if box := t.c.boxRef.Load(); box != nil {
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

// close ends tracking on every node.
func (t *tracking) close() {
	for node, tc := range t.conns {
		tc.discard() // a deliberate end is no gap
		delete(t.conns, node)
	}
}

// reopen drops every tconn, as when the client switches protocol: the
// next command opens new ones in the new protocol, and the client is told
// to flush, since Redis forgets what the old connections tracked.
func (t *tracking) reopen() {
	for node, tc := range t.conns {
		tc.fail()
		tc.close()
		delete(t.conns, node)
	}
}

// trackingOff ends the client's tracking.
func (c *client) trackingOff() {
	if c.tracker == nil {
		return
	}
	c.tracker.close()
	c.tracker = nil
	c.stopOutbox()
}

// clientCaching answers CLIENT CACHING YES|NO with Redis's rules.
func (c *client) clientCaching(args [][]byte) {
	t := c.tracker
	switch strings.ToUpper(string(args[2])) {
	case "YES":
		if !t.tracks() || !t.optin {
			c.writeError("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.")
			return
		}
		t.caching = 'y'
	case "NO":
		if !t.tracks() || !t.optout {
			c.writeError("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.")
			return
		}
		t.caching = 'n'
	default:
		c.writeError("ERR syntax error")
		return
	}
	c.write(okReply)
}

// clientGetRedir answers CLIENT GETREDIR: the target's id, 0 when
// tracking without one, -1 when not tracking.
func (c *client) clientGetRedir() {
	switch t := c.tracker; {
	case !t.tracks():
		c.writeInt(-1)
	default:
		c.writeInt(int64(t.redirect))
	}
}

// clientTrackingInfo answers CLIENT TRACKINGINFO in Redis's shape.
func (c *client) clientTrackingInfo() {
	t := c.tracker
	resp3 := c.resp3()
	var flags []string
	redirect := int64(-1)
	if !t.tracks() {
		flags = []string{"off"}
	} else {
		flags = append(flags, "on")
		redirect = int64(t.redirect)
		for _, f := range []struct {
			on   bool
			name string
		}{{t.bcast, "bcast"}, {t.optin, "optin"}, {t.optout, "optout"}, {t.caching == 'y', "caching-yes"}, {t.caching == 'n', "caching-no"}, {t.noloop, "noloop"}, {t.broken.Load(), "broken_redirect"}} {
			if f.on {
				flags = append(flags, f.name)
			}
		}
	}
	b := resp.AppendMap(c.out[:0], 3, resp3)
	b = resp.AppendBulkString(b, "flags")
	b = resp.AppendSet(b, len(flags), resp3)
	for _, f := range flags {
		b = resp.AppendBulkString(b, f)
	}
	b = resp.AppendBulkString(b, "redirect")
	b = resp.AppendInt(b, redirect)
	b = resp.AppendBulkString(b, "prefixes")
	var prefixes []string
	if t.tracks() {
		prefixes = t.prefixes
	}
	b = resp.AppendArray(b, len(prefixes))
	for _, p := range prefixes {
		b = resp.AppendBulkString(b, p)
	}
	c.out = b
	c.write(b)
}

// serveTracked serves one command of a tracking client through the tree,
// with its tracking as the request's pin.
func (c *client) serveTracked(st *engine.State, r *engine.Request) {
	c.serveAlone(st, r, c.tracker)
}

// clientByID finds a client of this server by its CLIENT ID.
func (s *Server) clientByID(id uint64) *client {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		if c.sess.ID == id {
			return c
		}
	}
	return nil
}
