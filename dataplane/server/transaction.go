package server

import (
	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Transactions: MULTI is answered by the proxy and sent to Redis with the
// first command after it, so the transaction runs on the upstream (and
// the cluster node) that command is routed to. Every command inside goes
// through the tree like any other (pinforward.go). The proxy keeps the
// transaction's queue as the client sees it: commands Redis queued, in
// order with answers the proxy gave itself (connection-local commands,
// commands an engine answers); EXEC merges Redis's results with those
// and passes each result back up through the tree, so engines that
// rewrite replies (transform, prefix) treat results in a transaction as
// they treat results outside one.

// queued is one command of a transaction: one Redis queued, with its
// arguments kept to replay its result through the tree, or one the proxy
// answered, with that answer.
type queued struct {
	args  [][]byte
	local []byte
}

var (
	execAbort  = []byte("-EXECABORT Transaction discarded because of previous errors.\r\n")
	emptyArray = []byte("*0\r\n")
	nilArray   = []byte("*-1\r\n")
	discardCmd = [][]byte{[]byte("DISCARD")}
	execCmd    = [][]byte{[]byte("EXEC")}
)

// multi starts a transaction without touching Redis yet.
func (c *client) multi() {
	p := c.pin
	if p.multi {
		// Redis refuses a nested MULTI without ending the transaction.
		c.writeError("ERR MULTI calls can not be nested")
		return
	}
	p.multi, p.sentMulti, p.dirty = true, false, false
	p.txn = p.txn[:0]
	c.write(okReply)
}

// exec ends the transaction. A transaction that never reached Redis is
// answered by the proxy; a dirty one is discarded upstream and aborted.
func (c *client) exec(st *engine.State) {
	p := c.pin
	if !p.multi {
		c.writeError("ERR EXEC without MULTI") // watched keys stay watched, as in Redis
		return
	}
	defer c.endTransaction()
	switch {
	case p.dirty:
		if p.d != nil && p.sentMulti {
			c.upstreamOnly(discardCmd)
		}
		c.write(execAbort)
		return
	case p.watchLost:
		c.write(nilArray)
		return
	case p.d == nil:
		c.writeExec(st, nil, 0)
		return
	}
	var reply []byte
	if p.sentMulti {
		reply = c.upstreamOnly(execCmd)
	} else {
		// Only locally answered commands, but keys are watched: EXEC must
		// still ask Redis whether they changed.
		reply = c.upstreamOnly(multiArgs, execCmd)
	}
	if reply == nil {
		return // the connection broke; the client has the error
	}
	n, body, ok := resp.Header(reply, 0, '*')
	if !ok || n != p.fromRedis() {
		c.write(reply) // nil (a watched key changed), an error, or no results to merge
		return
	}
	c.writeExec(st, reply, body)
}

// writeExec writes EXEC's results: Redis's (the elements of reply from
// body on) merged in order with the proxy's own answers.
func (c *client) writeExec(st *engine.State, reply []byte, body int) {
	p := c.pin
	if len(p.txn) == 0 {
		c.write(emptyArray)
		return
	}
	out := redcon.AppendArray(nil, len(p.txn))
	for _, q := range p.txn {
		if q.local != nil {
			out = append(out, q.local...)
			continue
		}
		n, err := resp.ReplyLen(reply[body:])
		if err != nil || n == 0 {
			c.writeError("ERR keyway: malformed EXEC reply from " + p.up)
			return
		}
		out = append(out, c.replayResult(st, q.args, reply[body:body+n])...)
		body += n
	}
	c.write(out)
}

// replayResult passes one of EXEC's results back up through the tree as
// the reply of the command that queued it. The request is served again
// with the pin in replay mode, so no leaf sends anything, and as a replay
// (engine.Replay), so engines that count or charge requests skip it;
// if no leaf is reached (an engine refused it this time), the result is
// passed on as Redis gave it.
func (c *client) replayResult(st *engine.State, args [][]byte, result []byte) []byte {
	if st == nil {
		return result
	}
	tree := c.treeOf(st)
	if tree == nil {
		return result
	}
	p := c.pin
	r := &engine.Request{Session: &c.sess, Pin: p}
	r.Cmd.Args = args
	r.Cmd.Spec = resp.Resolve(args)
	p.replay, p.replayed = result, false
	engine.Replay(c.srv.ctx, tree.Root, r)
	p.replay = nil
	if !p.replayed {
		return result
	}
	return r.Raw()
}

// fromRedis counts the transaction's commands that Redis queued.
func (p *pin) fromRedis() int {
	n := 0
	for _, q := range p.txn {
		if q.local == nil {
			n++
		}
	}
	return n
}

// discard ends the transaction, and with it the watched keys.
func (c *client) discard() {
	p := c.pin
	if !p.multi {
		c.writeError("ERR DISCARD without MULTI")
		return
	}
	if p.d != nil && p.sentMulti {
		if c.upstreamOnly(discardCmd) == nil {
			c.endTransaction()
			return
		}
	}
	c.endTransaction()
	c.write(okReply)
}

// unwatch forgets watched keys. Inside a transaction it takes effect at
// EXEC, which forgets them anyway, so it is only queued.
func (c *client) unwatch() {
	p := c.pin
	if p.multi {
		p.txn = append(p.txn, queued{local: okReply})
		c.write(queuedReply)
		return
	}
	p.watch, p.watchLost = false, false // settle releases the connection, and RESET unwatches
	c.write(okReply)
}

// endTransaction forgets the transaction and the watched keys; settle
// then releases the connection.
func (c *client) endTransaction() {
	p := c.pin
	p.multi, p.sentMulti, p.dirty = false, false, false
	p.watch, p.watchLost = false, false
	clear(p.txn)
	p.txn = p.txn[:0]
}

// upstreamOnly sends transaction control commands straight to the pinned
// connection and returns the last reply, copied; on a broken connection it
// writes the error, drops the connection and returns nil.
func (c *client) upstreamOnly(cmds ...[][]byte) []byte {
	p := c.pin
	err := p.d.Send(cmds...)
	var reply []byte
	for i := 0; err == nil && i < len(cmds); i++ {
		reply, err = p.d.Next(c.srv.ctx)
	}
	if err != nil {
		p.d.Close()
		p.d = nil
		c.writeError(err.Error())
		return nil
	}
	return append([]byte(nil), reply...)
}

// queueLocal answers a connection-local command inside a transaction the
// way Redis would: +QUEUED now, its answer at EXEC. The proxy computes the
// answer at once, into a buffer instead of the socket.
func (c *client) queueLocal(st *engine.State, h *local, args [][]byte) bool {
	var answer []byte
	c.capture = &answer
	ok := c.serveLocal(st, h, args)
	c.capture = nil
	if !ok {
		return false
	}
	if resp.IsError(answer) {
		c.pin.dirty = true
		c.write(answer)
		return true
	}
	c.pin.txn = append(c.pin.txn, queued{local: answer})
	c.write(queuedReply)
	return true
}

// queuesLocal reports whether the connection-local command h is queued in
// the client's transaction rather than answered at once.
func (c *client) queuesLocal(h *local) bool {
	return c.pin != nil && c.pin.multi && c.pin.sub == nil && !pinnedLocal(h)
}

// refusedWhileQueueing marks the transaction of a client whose command
// the proxy just refused, as Redis marks one on a command it refuses
// while queueing.
func (c *client) refusedWhileQueueing() {
	if c.pin != nil && c.pin.multi {
		c.pin.dirty = true
	}
}
