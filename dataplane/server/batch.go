package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// maxRun bounds the commands served as one engine batch. Longer pipelines
// are served in runs of this size under the same State, which bounds the
// replies held in memory at once and the requests a connection keeps.
const maxRun = 256

// flushAt is how many reply bytes may sit in redcon's buffer before they
// are written out mid-pipeline.
const flushAt = 64 << 10

var errNoPolicy = errors.New("TRYAGAIN keyway: no policy received yet")

// serveRESP is redcon's handler. redcon calls it for the first command of
// each read; the rest of the read comes from ReadPipeline, so one call is
// one client pipeline.
func (s *Server) serveRESP(rc redcon.Conn, first redcon.Command) {
	c, ok := rc.Context().(*client)
	if !ok || c.dead || !c.begin() {
		return
	}
	defer c.end()
	c.cmds = append(c.cmds[:0], first)
	c.cmds = append(c.cmds, rc.ReadPipeline()...)
	c.readAt = time.Now()
	st := s.cfg.Current.Acquire()
	c.serveBatch(st, c.cmds)
	if st != nil {
		st.Release()
	}
	clear(c.cmds) // drop references to this read's buffers
	c.pending = 0
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
		args := cmds[i].Args
		h := c.localHandler(args[0])
		if h == nil {
			h = c.emulated(st, args[0]) // clusteremu.go
		}
		if h != nil && c.queuesLocal(h) { // transaction.go
			run = c.flushRun(st, run)
			before := c.written
			if !c.queueLocal(st, h, args) {
				return
			}
			c.observeOne(args, len(cmds[i].Raw), before, "", engine.KindRefused)
			continue
		}
		if h != nil && (c.pin == nil || c.pin.sub == nil || pinnedLocal(h)) {
			run = c.flushRun(st, run)
			before := c.written
			if !c.serveLocal(st, h, args) {
				return
			}
			if c.identity == nil && st != nil {
				c.domainOf(st) // AUTH, SETNAME or RESET may have moved it
			}
			c.observeOne(args, len(cmds[i].Raw), before, "", engine.KindRefused)
			continue
		}
		r := c.request(len(run))
		r.Cmd.Args = append(r.Cmd.Args, args...)
		r.Cmd.Spec = resp.Resolve(args)
		// A subscribed client's mistakes are Redis's to judge, in the
		// words of pub/sub mode.
		if (c.pin == nil || c.pin.sub == nil) && (r.Cmd.Spec == nil || r.Cmd.Spec.Container() || !resp.CheckArity(&r.Cmd)) {
			run = c.flushRun(st, run)
			before := c.written
			c.out, _ = resp.AppendRefusal(c.out[:0], &r.Cmd)
			c.write(c.out)
			c.refusedWhileQueueing() // transaction.go
			c.observeOne(args, len(cmds[i].Raw), before, "", engine.KindRefused)
			continue
		}
		if c.pin != nil || needsDedicated(&r.Cmd) {
			run = c.flushRun(st, run)
			before := c.written
			if !c.servePinned(st, r) {
				return
			}
			c.observeOne(args, len(cmds[i].Raw), before, "", engine.KindUpstream)
			continue
		}
		r.Session = &c.sess
		c.setSize(len(run), len(cmds[i].Raw))
		run = append(run, r)
		if len(run) == maxRun {
			run = c.flushRun(st, run)
		}
	}
	c.batch = c.flushRun(st, run)
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
			r.Fail(engine.KindProxy, errors.New("keyway: request left unanswered"))
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

func (c *client) serveRun(st *engine.State, run engine.Batch) {
	if st == nil {
		for _, r := range run {
			r.Fail(engine.KindProxy, errNoPolicy)
		}
		return
	}
	if st.Proxy.GetIdentity().GetRequireAuth() && !c.authed {
		for _, r := range run {
			r.Fail(engine.KindRefused, errNoAuth)
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
	c.written += int64(len(raw))
	c.lastError = len(raw) > 0 && raw[0] == '-'
	if len(raw) >= bigReply && c.writeThrough(raw) {
		return
	}
	c.rc.WriteRaw(raw)
	c.pending += int64(len(raw))
	if c.pending >= flushAt {
		if w := redcon.BaseWriter(c.rc); w != nil {
			_ = w.Flush() // a failure sticks in the writer; redcon closes on it
		}
		c.pending = 0
	}
}

// bigReply is the size from which a reply is written straight to the
// socket rather than copied into redcon's buffer first.
const bigReply = 32 << 10

// writeThrough writes raw to the socket after what redcon has buffered,
// saving the copy of a big reply; false when the connection is not
// redcon's own (a detached one), which then buffers as usual.
func (c *client) writeThrough(raw []byte) bool {
	w := redcon.BaseWriter(c.rc)
	if w == nil {
		return false
	}
	if c.pending > 0 {
		_ = w.Flush() // a failure sticks in the writer; redcon closes on it
		c.pending = 0
	}
	if _, err := c.rc.NetConn().Write(raw); err != nil {
		// redcon must not go on as if the reply had been sent.
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
