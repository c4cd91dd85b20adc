package server

import (
	"fmt"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/rawrelay"
)

// serveAdmin serves the admin commands of resp's class table (relays and
// server-mutating commands) ahead of servePinned's ordinary path, and
// reports whether it answered r. A policy refuses them unless the
// domain allows them; relays (SYNC, PSYNC, REPLCONF, MONITOR) turn the
// connection into a byte pipe to an upstream connection of their own;
// SHUTDOWN runs on one of its own so its end is the client's. The other
// server-mutating commands take the ordinary dedicated path, where the
// tree still applies: what matters is that none reaches a shared
// connection (resp.NeedsDedicated).
func (c *client) serveAdmin(st *engine.State, r *engine.Request) bool {
	cmd := &r.Cmd
	class := resp.ProxyClassOf(cmd.Spec)
	if !class.Admin() || c.sub != nil {
		return false
	}
	if c.pin == nil && c.Unauthenticated(st) {
		return false // servePinned answers NOAUTH
	}
	if msg := c.adminRefusal(st, cmd.Spec, class); msg != "" {
		if c.pin.InMulti() {
			c.pin.Refused() // as Redis aborts a transaction it refused a command of
		}
		c.writeError(msg)
		return true
	}
	if c.pin.InMulti() {
		return false // queued; Redis refuses the ones it runs no other way
	}
	switch {
	case class == resp.Relay:
		c.rawRelay(st, r)
		return true
	case cmd.Spec.Name == "SHUTDOWN":
		c.shutdown(st, r)
		return true
	}
	return false
}

// adminRefusal is the error for an admin command the client's domain may
// not run, or "" when it may (or when there is no tree to ask, which the
// ordinary path answers). The text says how to allow it, since the
// author of the policy is who reads it.
func (c *client) adminRefusal(st *engine.State, s *resp.Spec, class resp.ProxyClass) string {
	if st == nil {
		return ""
	}
	tree := c.treeOf(st)
	if tree == nil || resp.AdminAllowed(tree.Config.GetAllowAdminCommands(), s) {
		return ""
	}
	what := "a server-mutating command"
	if class == resp.Relay {
		what = "an admin command (it streams the server's replication or every client's commands)"
	}
	return fmt.Sprintf("ERR keyway: %s is %s; the policy does not allow it for workload domain %q (allow it with domain(..., allow_admin_commands = [%q]))",
		strings.ReplaceAll(s.Name, "|", " "), what, c.sess.Domain, s.Name)
}

// shutdown runs SHUTDOWN on a connection of its own. When Redis closes
// it, the shutdown went ahead, and the client's connection is closed
// too, as Redis closes it: clients (redis-cli) take that as success.
func (c *client) shutdown(st *engine.State, r *engine.Request) {
	d, err := c.openDedicatedOnly(st, &r.Cmd)
	if err != nil {
		c.writeError(err.Error())
		return
	}
	if err := d.Send(r.Cmd.Args); err != nil {
		d.Close()
		c.writeError(err.Error())
		return
	}
	reply, err := d.Next(c.srv.ctx)
	if err != nil {
		d.Close()
		_ = c.dc.Flush() // the replies before it
		c.dead = true
		return
	}
	c.write(reply)
	d.Release()
}

// rawRelay serves a relay command: it opens an upstream connection of the
// client's own where the tree would send the command, sends it with
// whatever the client sent after it, and from then on copies bytes both
// ways until either side closes, which ends the client's connection.
// Replication and MONITOR are streams, not replies, so nothing in
// between parses them.
func (c *client) rawRelay(st *engine.State, r *engine.Request) {
	d, err := c.openDedicatedOnly(st, &r.Cmd)
	if err != nil {
		c.writeError(err.Error())
		return
	}
	if err := c.dc.Flush(); err != nil { // replies before r go first
		d.Close()
		c.dead = true
		return
	}
	c.dead = true // whatever happens next, the connection ends with the relay
	up, early := d.Raw()
	first := resp.AppendCommand(nil, r.Cmd.Args)
	first = append(first, c.pipelinedAfter(r)...)
	rawrelay.Run(c.srv.ctx, c.nc, up, d.Close, first, early)
}

// pipelinedAfter returns what the client sent after r, raw: the commands
// of the same read still to be served, then the bytes of the next one
// that have arrived. They belong to the relay's upstream connection now.
func (c *client) pipelinedAfter(r *engine.Request) []byte {
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
