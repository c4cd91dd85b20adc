package frontend

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/localcmd"
	"keyway.dev/dataplane/frontend/wire"
)

// The connection as its state on Redis sees it (connstate.Loop), and the
// commands the request loop hands to that state.

func (c *client) Write(raw []byte)                          { c.write(raw) }
func (c *client) WriteError(msg string)                     { c.writeError(msg) }
func (c *client) Socket() *wire.Conn                        { return c.nc }
func (c *client) End()                                      { c.dead = true }
func (c *client) Tree(st *engine.State) *engine.Tree        { return c.treeOf(st) }
func (c *client) ServeRun(st *engine.State, b engine.Batch) { c.serveRun(st, b) }

func (c *client) Snapshot() engine.Session {
	sess, _, _ := c.snapshot()
	return sess
}

// Flush writes out what redcon's writer holds.
func (c *client) Flush() error {
	err := c.dc.Flush()
	c.pending = 0
	return err
}

// ServeAlone serves r by itself through the tree (with p as its last
// hop, when set) and writes its reply: a command that must not ride in a
// batch, of a tracking client or of a RESP3 subscriber.
func (c *client) ServeAlone(st *engine.State, r *engine.Request, p engine.Pin) {
	r.Session = &c.sess
	r.Pin = p
	c.serveOne(st, r)
	c.write(r.Raw())
	r.Cmd.Args = r.Cmd.Args[:0] // keep no reference to the read buffer
}

// Pipelined returns what the client sent after r, raw: the commands of
// the same read still to be served, then the bytes of the next one that
// have arrived. They belong to a relay's upstream connection now.
func (c *client) Pipelined(r *engine.Request) []byte {
	var out []byte
	if len(r.Cmd.Args) > 0 && len(r.Cmd.Args[0]) > 0 {
		for i := range c.cmds {
			a := c.cmds[i].Args
			if len(a) == 0 || len(a[0]) == 0 || &a[0][0] != &r.Cmd.Args[0][0] {
				continue
			}
			for _, later := range c.cmds[i+1:] {
				out = append(out, later.Raw...)
			}
			break
		}
	}
	if c.rd != nil {
		out = c.rd.Take(out)
	}
	return out
}

// queuesLocal reports whether the connection-local command h is queued in
// the client's transaction rather than answered at once.
func (c *client) queuesLocal(h *localcmd.Command) bool {
	return c.cs.InMulti() && !c.cs.Subscribed() && !h.Immediate
}

// queueLocal answers a connection-local command inside a transaction the
// way Redis would (pin.Pin.Queue). The proxy computes the answer at once,
// into a buffer instead of the socket.
func (c *client) queueLocal(st *engine.State, h *localcmd.Command, args [][]byte) bool {
	var answer []byte
	c.capture = &answer
	ok := localcmd.Serve(c, st, h, args)
	c.capture = nil
	if ok {
		c.cs.Queue(answer)
	}
	return ok
}
