package pin

import (
	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Transactions: MULTI is answered by the proxy and sent to Redis with the
// first command after it, so the transaction runs on the upstream (and
// the cluster node) that command is routed to. Every command inside goes
// through the tree like any other (Serve, Forward). The pin keeps the
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

// Multi starts a transaction without touching Redis yet.
func (p *Pin) Multi() {
	if p.multi {
		// Redis refuses a nested MULTI without ending the transaction.
		p.c.WriteError("ERR MULTI calls can not be nested")
		return
	}
	p.multi, p.sentMulti, p.dirty = true, false, false
	p.txn = p.txn[:0]
	p.c.Write(okReply)
}

// Exec ends the transaction. A transaction that never reached Redis is
// answered by the proxy; a dirty one is discarded upstream and aborted.
// Redis's results are replayed through root, the tree of the client's
// domain, as sess's (nil root: passed on as Redis gave them).
func (p *Pin) Exec(root engine.Engine, sess *engine.Session) {
	if !p.multi {
		p.c.WriteError("ERR EXEC without MULTI") // watched keys stay watched, as in Redis
		return
	}
	defer p.endTransaction()
	switch {
	case p.dirty:
		if p.d != nil && p.sentMulti {
			p.upstreamOnly(discardCmd)
		}
		p.c.Write(execAbort)
		return
	case p.watchLost:
		p.c.Write(nilArray)
		return
	case p.d == nil:
		p.writeExec(root, sess, nil, 0)
		return
	}
	var reply []byte
	if p.sentMulti {
		reply = p.upstreamOnly(execCmd)
	} else {
		// Only locally answered commands, but keys are watched: EXEC must
		// still ask Redis whether they changed.
		reply = p.upstreamOnly(multiArgs, execCmd)
	}
	if reply == nil {
		return // the connection broke; the client has the error
	}
	n, body, ok := resp.Header(reply, 0, '*')
	if !ok || n != p.fromRedis() {
		p.c.Write(reply) // nil (a watched key changed), an error, or no results to merge
		return
	}
	p.writeExec(root, sess, reply, body)
}

// writeExec writes EXEC's results: Redis's (the elements of reply from
// body on) merged in order with the proxy's own answers.
func (p *Pin) writeExec(root engine.Engine, sess *engine.Session, reply []byte, body int) {
	if len(p.txn) == 0 {
		p.c.Write(emptyArray)
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
			p.c.WriteError("ERR keyway: malformed EXEC reply from " + p.up)
			return
		}
		out = append(out, p.replayResult(root, sess, q.args, reply[body:body+n])...)
		body += n
	}
	p.c.Write(out)
}

// replayResult passes one of EXEC's results back up through the tree as
// the reply of the command that queued it. The request is served again
// with the pin in replay mode, so no leaf sends anything, and as a replay
// (engine.Replay), so engines that count or charge requests skip it;
// if no leaf is reached (an engine refused it this time), the result is
// passed on as Redis gave it.
func (p *Pin) replayResult(root engine.Engine, sess *engine.Session, args [][]byte, result []byte) []byte {
	if root == nil {
		return result
	}
	r := &engine.Request{Session: sess, Pin: p}
	r.Cmd.Args = args
	r.Cmd.Spec = resp.Resolve(args)
	p.replay, p.replayed = result, false
	engine.Replay(p.ctx, root, r)
	p.replay = nil
	if !p.replayed {
		return result
	}
	return r.Raw()
}

// fromRedis counts the transaction's commands that Redis queued.
func (p *Pin) fromRedis() int {
	n := 0
	for _, q := range p.txn {
		if q.local == nil {
			n++
		}
	}
	return n
}

// Discard ends the transaction, and with it the watched keys.
func (p *Pin) Discard() {
	if !p.multi {
		p.c.WriteError("ERR DISCARD without MULTI")
		return
	}
	if p.d != nil && p.sentMulti {
		if p.upstreamOnly(discardCmd) == nil {
			p.endTransaction()
			return
		}
	}
	p.endTransaction()
	p.c.Write(okReply)
}

// Unwatch forgets watched keys. Inside a transaction it takes effect at
// EXEC, which forgets them anyway, so it is only queued.
func (p *Pin) Unwatch() {
	if p.multi {
		p.txn = append(p.txn, queued{local: okReply})
		p.c.Write(queuedReply)
		return
	}
	p.watch, p.watchLost = false, false // the caller releases the connection, and RESET unwatches
	p.c.Write(okReply)
}

// Queue answers a connection-local command inside a transaction the way
// Redis would: +QUEUED now and answer at EXEC, or, for an error, the
// error now and a transaction that EXEC aborts.
func (p *Pin) Queue(answer []byte) {
	if resp.IsError(answer) {
		p.dirty = true
		p.c.Write(answer)
		return
	}
	p.txn = append(p.txn, queued{local: answer})
	p.c.Write(queuedReply)
}

// Refused marks the transaction, if one is open, of a client whose
// command the proxy just refused, as Redis marks one on a command it
// refuses while queueing. A nil Pin has none to mark.
func (p *Pin) Refused() {
	if p != nil && p.multi {
		p.dirty = true
	}
}

// endTransaction forgets the transaction and the watched keys; the
// caller then releases the connection.
func (p *Pin) endTransaction() {
	p.multi, p.sentMulti, p.dirty = false, false, false
	p.watch, p.watchLost = false, false
	clear(p.txn)
	p.txn = p.txn[:0]
}

// upstreamOnly sends transaction control commands straight to the pinned
// connection and returns the last reply, copied; on a broken connection it
// writes the error, drops the connection and returns nil.
func (p *Pin) upstreamOnly(cmds ...[][]byte) []byte {
	err := p.d.Send(cmds...)
	var reply []byte
	for i := 0; err == nil && i < len(cmds); i++ {
		reply, err = p.d.Next(p.ctx)
	}
	if err != nil {
		p.d.Close()
		p.d = nil
		p.c.WriteError(err.Error())
		return nil
	}
	return append([]byte(nil), reply...)
}
