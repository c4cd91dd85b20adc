package frontend

import (
	"errors"
	"fmt"
	"time"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/frontend/localcmd"
	"keyway.dev/dataplane/resp"
)

// maxRun bounds the commands served as one engine batch. Longer pipelines
// are served in runs of this size under the same State, which bounds the
// replies held in memory at once and the requests a connection keeps.
const maxRun = 256

// flushAt is how many reply bytes may sit in redcon's buffer before they
// are written out mid-pipeline.
const flushAt = 64 << 10

// serveRESP is redcon's handler. It is called once per connection, with
// the detach command wire.Conn gave redcon in place of the client's first
// bytes: the connection is detached and served here, by the proxy's own
// read loop, until it ends.
func (s *Server) serveRESP(rc redcon.Conn, _ redcon.Command) {
	c, ok := rc.Context().(*client)
	if !ok || c.detached {
		return
	}
	c.detached = true
	c.dc = rc.Detach() // c.rc stays: other goroutines may read it
	defer s.finish(c)
	c.loop()
}

// loop reads the client's pipelines and serves them until the connection
// ends. One read's complete commands are one pipeline: they are served in
// order and their replies written together.
//
// A drain (Server.Shutdown) stops it at a command boundary: Shutdown
// sets draining, then interrupts reads; the loop checks draining after
// arming its own read deadline and after every pipeline, so it never
// reads again once the drain began, and every command it read has been
// answered and flushed when it closes (closeDrained).
func (c *client) loop() {
	for !c.dead {
		if c.srv.cfg.Limits.IdleTimeout > 0 && !c.nc.NoIdle.Load() {
			_ = c.nc.Conn.SetReadDeadline(time.Now().Add(c.srv.cfg.Limits.IdleTimeout))
		}
		if c.srv.draining.Load() {
			c.closeDrained()
			return
		}
		cmds, err := c.rd.Next(c.cmds[:0])
		c.cmds = cmds
		if len(cmds) > 0 && !c.servePipeline(cmds) {
			return
		}
		if err != nil {
			if c.srv.draining.Load() {
				c.closeDrained() // the drain interrupted the read
				return
			}
			c.refuse(err)
			return
		}
	}
}

// drainLinger bounds how long a drained connection waits for its client
// to close after the proxy's FIN.
const drainLinger = time.Second

// closeDrained ends a connection at a command boundary during a drain.
// Its replies are flushed. Closing a socket with unread input resets the
// connection, and a reset can destroy replies still on their way to the
// client, so it sends FIN first and reads and discards what the client
// still sends until the client closes or drainLinger passes; the caller
// then closes the socket. The commands discarded were never read, and
// the client sees every reply, then end of stream.
func (c *client) closeDrained() {
	c.state.Store(stateClosing)
	type closeWriter interface{ CloseWrite() error }
	cw, ok := c.nc.Conn.(closeWriter)
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = c.nc.Conn.SetReadDeadline(time.Now().Add(drainLinger))
	var buf [4 << 10]byte
	for {
		if _, err := c.nc.Conn.Read(buf[:]); err != nil {
			return
		}
	}
}

// servePipeline serves one read's commands and writes their replies; false
// means the connection is done.
func (c *client) servePipeline(cmds []redcon.Command) bool {
	if !c.begin() {
		return false // a drain is closing the connection
	}
	c.meter.ReadAt = time.Now()
	st := c.srv.cfg.Current.Acquire()
	c.serveBatch(st, cmds)
	if st != nil {
		st.Release()
	}
	clear(c.cmds) // drop references to this read's buffers
	c.pending = 0
	if c.dead {
		return false
	}
	if err := c.dc.Flush(); err != nil {
		return false
	}
	if c.srv.draining.Load() {
		c.closeDrained() // read nothing more
		return false
	}
	return c.end()
}

// refuse answers input the reader could not accept the way Redis does,
// after the replies of every command before it; other errors (the client
// left, the idle timeout) end the connection silently, as in Redis.
func (c *client) refuse(err error) {
	var qe *resp.QueryError
	if !errors.As(err, &qe) {
		return
	}
	c.rc.WriteRaw(resp.AppendError(nil, qe.Error()))
	_ = c.dc.Flush()
}

// serveBatch answers cmds in order: runs of forwarded commands go through
// the domain's tree as one batch, commands the proxy answers itself are
// answered in between, so state they change (AUTH, SETNAME) applies to
// exactly the commands after them.
func (c *client) serveBatch(st *engine.State, cmds []redcon.Command) {
	run := c.batch[:0]
	for i := range cmds {
		if c.dead {
			return
		}
		if c.replyOff || c.skipNext || c.muted {
			// CLIENT REPLY is in effect: serve each command alone, so
			// which replies are dropped is exact.
			run = c.flushRun(st, run)
			c.muted = c.replyOff || c.skipNext
			c.skipNext = false
		}
		args := cmds[i].Args
		h := localcmd.Lookup(args[0])
		if h != nil && c.cs.InMulti() && h.QueuedByRedis {
			// Inside MULTI, Redis queues PING and ECHO like any command
			// and EXEC fails them with the rest (a stale replica's
			// MASTERDOWN): they go to Redis with the transaction.
			h = nil
		}
		if h == nil {
			h = localcmd.Emulated(st, &c.sess, args[0])
		}
		if h != nil && c.queuesLocal(h) { // stateconn.go
			run = c.flushRun(st, run)
			before := c.written
			if !c.queueLocal(st, h, args) {
				return
			}
			c.observeOne(args, len(cmds[i].Raw), before, "", engine.KindRefused)
			continue
		}
		if h != nil && (!c.cs.Subscribed() || c.resp3() || h.Immediate) {
			run = c.flushRun(st, run)
			before := c.written
			if !localcmd.Serve(c, st, h, args) {
				return
			}
			if c.who.Undecided() && st != nil {
				c.domainOf(st) // AUTH, SETNAME or RESET may have moved it
			}
			c.observeOne(args, len(cmds[i].Raw), before, "", engine.KindRefused)
			continue
		}
		r := c.request(len(run))
		r.Cmd.Args = append(r.Cmd.Args, args...)
		r.Cmd.Spec = resp.Resolve(args)
		r.Read = c.meter.ReadAt // upstream deadlines run from here
		// A subscribed client's mistakes are Redis's to judge, in the
		// words of pub/sub mode.
		if (!c.cs.Subscribed() || c.resp3()) && (r.Cmd.Spec == nil || r.Cmd.Spec.Container() || !resp.CheckArity(&r.Cmd)) {
			run = c.flushRun(st, run)
			before := c.written
			c.out, _ = resp.AppendRefusal(c.out[:0], &r.Cmd)
			c.write(c.out)
			c.cs.Refused()
			c.observeOne(args, len(cmds[i].Raw), before, "", engine.KindRefused)
			continue
		}
		if c.cs.Tracked() && !c.cs.Pinned() && !resp.NeedsDedicated(&r.Cmd) {
			run = c.flushRun(st, run)
			before := c.written
			c.cs.ServeTracked(st, r)
			c.observeOne(args, len(cmds[i].Raw), before, "", engine.KindUpstream)
			continue
		}
		if c.cs.Pinned() || resp.NeedsDedicated(&r.Cmd) {
			run = c.flushRun(st, run)
			before := c.written
			if !c.cs.ServePinned(st, r) {
				return
			}
			c.observeOne(args, len(cmds[i].Raw), before, "", engine.KindUpstream)
			continue
		}
		r.Session = &c.sess
		c.meter.Sample(r)
		c.meter.SetSize(len(run), len(cmds[i].Raw))
		run = append(run, r)
		if len(run) == maxRun {
			run = c.flushRun(st, run)
		}
	}
	c.batch = c.flushRun(st, run)
	c.muted = false
}

// flushRun serves run and writes its replies in order; it returns run
// emptied for reuse.
func (c *client) flushRun(st *engine.State, run engine.Batch) engine.Batch {
	if len(run) == 0 {
		return run
	}
	c.serveRun(st, run)
	var size int64
	for _, r := range run {
		if !r.Done() {
			r.Fail(engine.KindProxy, answer.ErrUnanswered)
		}
		size += int64(len(r.Raw()))
	}
	c.observeRun(run)
	if lim := c.srv.cfg.Limits.MaxOutputBuffer; lim > 0 && c.pending+size > lim {
		c.overflow(c.pending + size)
		return run[:0]
	}
	for _, r := range run {
		c.write(r.Raw())
		r.Cmd.Args = r.Cmd.Args[:0] // keep no reference to the read buffer
	}
	return run[:0]
}

// serveOne serves r by itself through the tree and answers it when no
// engine did.
func (c *client) serveOne(st *engine.State, r *engine.Request) {
	one := [1]*engine.Request{r}
	c.serveRun(st, one[:])
	if !r.Done() {
		r.Fail(engine.KindProxy, answer.ErrUnanswered)
	}
}

func (c *client) serveRun(st *engine.State, run engine.Batch) {
	if st == nil {
		for _, r := range run {
			r.Fail(engine.KindProxy, answer.ErrNoPolicy)
		}
		return
	}
	if st.Proxy.GetIdentity().GetRequireAuth() && !c.authed {
		for _, r := range run {
			r.Fail(engine.KindRefused, answer.ErrNoAuth)
		}
		return
	}
	tree := c.treeOf(st)
	if tree == nil {
		err := fmt.Errorf("keyway: workload domain %q has no policy", c.sess.Domain)
		for _, r := range run {
			r.Fail(engine.KindProxy, err)
		}
		return
	}
	tree.Root.Serve(c.srv.ctx, run)
}

// treeOf returns the tree the session runs on under st, or nil when its
// domain has none.
func (c *client) treeOf(st *engine.State) *engine.Tree {
	d := st.Domains[c.domainOf(st)]
	if d == nil {
		return nil
	}
	t, canary := d.TreeFor(&c.sess)
	if canary != c.sess.Canary {
		c.mu.Lock()
		c.sess.Canary = canary
		c.mu.Unlock()
	}
	return t
}

// write queues one reply, writing the buffer out once it is large so a
// long pipeline does not accumulate all of its replies.
func (c *client) write(raw []byte) {
	if c.capture != nil {
		*c.capture = append(*c.capture, raw...)
		return
	}
	if c.muted {
		return // CLIENT REPLY OFF or SKIP
	}
	if box := c.cs.Outbox(); box != nil {
		// The outbox owns the socket while it runs; a reply joins its
		// queue, in order with the frames Redis pushed.
		c.written += int64(len(raw))
		c.lastError = len(raw) > 0 && raw[0] == '-'
		box.Enqueue(raw)
		return
	}
	c.written += int64(len(raw))
	c.lastError = len(raw) > 0 && raw[0] == '-'
	if len(raw) >= bigReply && c.writeThrough(raw) {
		return
	}
	c.rc.WriteRaw(raw)
	c.pending += int64(len(raw))
	if c.pending >= flushAt {
		_ = c.dc.Flush() // a failure sticks in the writer and ends the loop
		c.pending = 0
	}
}

// bigReply is the size from which a reply is written straight to the
// socket rather than copied into redcon's buffer first.
const bigReply = 32 << 10

// writeThrough writes raw to the socket after what the writer has
// buffered, saving the copy of a big reply.
func (c *client) writeThrough(raw []byte) bool {
	if c.pending > 0 {
		_ = c.dc.Flush() // a failure sticks in the writer and ends the loop
		c.pending = 0
	}
	if _, err := c.rc.NetConn().Write(raw); err != nil {
		// The loop must not go on as if the reply had been sent.
		_ = c.rc.NetConn().Close()
	}
	return true
}

func (c *client) writeError(msg string) {
	c.out = engine.AppendError(c.out[:0], msg)
	c.write(c.out)
}

// overflow closes a connection whose replies would exceed the output
// limit, as Redis does with client-output-buffer-limit: dropping replies
// silently would desynchronise the client.
func (c *client) overflow(size int64) {
	c.srv.log.Warn("closing client over the output buffer limit",
		"id", c.sess.ID, "addr", c.sess.Addr, "bytes", size, "limit", c.srv.cfg.Limits.MaxOutputBuffer)
	c.dead = true
	_ = c.rc.NetConn().Close()
}
