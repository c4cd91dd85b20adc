package server

import (
	"context"
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/dedicated"
)

var _ engine.Pin = (*pin)(nil)

var (
	// waitMarkArgs is a PUBLISH, which a standalone Redis propagates to
	// its replicas whether or not anyone listens.
	waitMarkArgs = [][]byte{[]byte("PUBLISH"), []byte("__keyway:wait"), []byte("")}
	multiArgs    = [][]byte{[]byte("MULTI")}
	queuedReply  = []byte("+QUEUED\r\n")
)

// Forward is the last hop of a pinned client's request: the leaf of up
// hands it here instead of to up's shared pool. The first request opens
// the connection on up (and a deferred MULTI goes with it); later ones
// must reach the same upstream, or they would run outside the
// transaction. Replies are awaited on the server's context, not the
// tree's: a blocking command waits as long as Redis lets it, and a wait
// cut short would leave a reply behind on the connection.
func (p *pin) Forward(_ context.Context, up engine.Upstream, b engine.Batch) {
	if p.replay != nil {
		for _, r := range b {
			r.Reply(p.replay)
		}
		p.replayed = true
		return
	}
	if p.d == nil {
		if err := p.open(up, b[0]); err != nil {
			for _, r := range b {
				r.Fail(engine.KindUpstream, err)
			}
			return
		}
	} else if up.Name() != p.up {
		for _, r := range b {
			r.Fail(engine.KindRefused, fmt.Errorf("CROSSSLOT keyway: %s routes to upstream %q but this transaction runs on %q",
				r.Cmd.Spec.Name, up.Name(), p.up))
		}
		return
	}
	ctx := p.c.srv.ctx
	cmds := make([][][]byte, 0, len(b)+1)
	deferred := p.multi && !p.sentMulti
	if deferred {
		cmds = append(cmds, multiArgs)
	}
	// WAIT counts the replicas that acknowledged the writes of the
	// connection it runs on, and the client's writes went over shared
	// connections: a write that Redis propagates goes first, so WAIT
	// waits for the replication offset of the moment it is served, which
	// covers every write the client had acknowledged before it.
	marked := !p.multi && !p.cluster && len(b) == 1 && b[0].Cmd.Spec.Name == "WAIT"
	if marked {
		cmds = append(cmds, waitMarkArgs)
	}
	for _, r := range b {
		cmds = append(cmds, r.Cmd.Args)
	}
	if p.blocking {
		p.c.blockedOn.Store(p.d.Blocked())
	}
	if err := p.d.Send(cmds...); err != nil {
		p.lost(b, err)
		return
	}
	if marked {
		if _, err := p.d.Next(ctx); err != nil {
			p.lost(b, err)
			return
		}
	}
	if deferred {
		reply, err := p.d.Next(ctx)
		if err != nil {
			p.lost(b, err)
			return
		}
		if resp.IsError(reply) {
			// Nothing after a refused MULTI can be a transaction.
			p.lost(b, fmt.Errorf("keyway: MULTI refused by %s: %s", p.up, resp.LineText(reply)))
			return
		}
		p.sentMulti = true
	}
	for i, r := range b {
		reply, err := p.d.Next(ctx)
		if err != nil {
			p.lost(b[i:], err)
			return
		}
		p.sent = true
		if p.cluster && resp.IsRedirect(reply) {
			r.Fail(engine.KindRefused, dedicated.CrossNode(r, p.up))
			continue
		}
		r.Reply(reply)
		if p.multi && string(reply) == string(queuedReply) {
			p.queued = true
		}
	}
}

// open takes a connection on up for r, the first request that needs one.
func (p *pin) open(up engine.Upstream, r *engine.Request) error {
	d, err := dedicated.Open(p.c.srv.ctx, up, &r.Cmd, p.c.proto(), p.c.loginArgs())
	if err != nil {
		return err
	}
	p.cluster = dedicated.IsCluster(up)
	p.d, p.up = d, up.Name()
	return nil
}

// lost fails what remains of b after the connection broke and forgets
// the connection. A transaction on it is gone, so EXEC will abort; watched
// keys are gone, so EXEC will fail as if they had changed. A later command
// opens a new connection.
func (p *pin) lost(b engine.Batch, err error) {
	for _, r := range b {
		r.Fail(engine.KindUpstream, err)
	}
	p.d.Close()
	p.d = nil
	p.sentMulti = false
	p.dirty = p.dirty || p.multi
	p.watchLost = p.watchLost || p.watch
}
