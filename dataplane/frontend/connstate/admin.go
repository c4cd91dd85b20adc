package connstate

import (
	"fmt"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/rawrelay"
	"keyway.dev/dataplane/resp"
)

// serveAdmin serves the admin commands of resp's class table (relays and
// server-mutating commands) ahead of ServePinned's ordinary path; done
// reports whether it answered r, and ok then whether the connection goes
// on. A policy refuses them unless the domain allows them; relays (SYNC,
// PSYNC, REPLCONF, MONITOR) turn the connection into a byte pipe to an
// upstream connection of their own; SHUTDOWN runs on one of its own so
// its end is the client's. The other server-mutating commands take the
// ordinary dedicated path, where the tree still applies: what matters is
// that none reaches a shared connection (resp.NeedsDedicated).
func (s *State) serveAdmin(st *engine.State, r *engine.Request) (ok, done bool) {
	cmd := &r.Cmd
	class := resp.ProxyClassOf(cmd.Spec)
	if !class.Admin() || s.sub != nil {
		return false, false
	}
	if s.pin == nil && s.c.Unauthenticated(st) {
		return false, false // ServePinned answers NOAUTH
	}
	if msg := s.adminRefusal(st, cmd.Spec, class); msg != "" {
		if s.pin.InMulti() {
			s.pin.Refused() // as Redis aborts a transaction it refused a command of
		}
		s.c.WriteError(msg)
		return true, true
	}
	if s.pin.InMulti() {
		return false, false // queued; Redis refuses the ones it runs no other way
	}
	switch {
	case class == resp.Relay:
		return s.rawRelay(st, r), true
	case cmd.Spec.Name == "SHUTDOWN":
		return s.shutdown(st, r), true
	}
	return false, false
}

// adminRefusal is the error for an admin command the client's domain may
// not run, or "" when it may (or when there is no tree to ask, which the
// ordinary path answers). The text says how to allow it, since the
// author of the policy is who reads it.
func (s *State) adminRefusal(st *engine.State, spec *resp.Spec, class resp.ProxyClass) string {
	if st == nil {
		return ""
	}
	tree := s.c.Tree(st)
	if tree == nil || resp.AdminAllowed(tree.Config.GetAllowAdminCommands(), spec) {
		return ""
	}
	what := "a server-mutating command"
	if class == resp.Relay {
		what = "an admin command (it streams the server's replication or every client's commands)"
	}
	return fmt.Sprintf("ERR keyway: %s is %s; the policy does not allow it for workload domain %q (allow it with domain(..., allow_admin_commands = [%q]))",
		strings.ReplaceAll(spec.Name, "|", " "), what, s.c.Session().Domain, spec.Name)
}

// shutdown runs SHUTDOWN on a connection of its own. When Redis closes
// it, the shutdown went ahead, and the client's connection is closed
// too, as Redis closes it: clients (redis-cli) take that as success.
// It returns false when the client's connection ends.
func (s *State) shutdown(st *engine.State, r *engine.Request) bool {
	d, _, err := s.openDedicated(st, &r.Cmd)
	if err != nil {
		s.c.WriteError(err.Error())
		return true
	}
	if err := d.Send(r.Cmd.Args); err != nil {
		d.Close()
		s.c.WriteError(err.Error())
		return true
	}
	reply, err := d.Next(s.srv.Ctx)
	if err != nil {
		d.Close()
		_ = s.c.Flush() // the replies before it
		s.c.End()
		return false
	}
	s.c.Write(reply)
	d.Release()
	return true
}

// rawRelay serves a relay command: it opens an upstream connection of the
// client's own where the tree would send the command, sends it with
// whatever the client sent after it, and from then on copies bytes both
// ways until either side closes, which ends the client's connection.
// Replication and MONITOR are streams, not replies, so nothing in
// between parses them. It returns false when the client's connection
// ends, which is always unless the connection could not be opened.
func (s *State) rawRelay(st *engine.State, r *engine.Request) bool {
	d, _, err := s.openDedicated(st, &r.Cmd)
	if err != nil {
		s.c.WriteError(err.Error())
		return true
	}
	if err := s.c.Flush(); err != nil { // replies before r go first
		d.Close()
		s.c.End()
		return false
	}
	s.c.End() // whatever happens next, the connection ends with the relay
	up, early := d.Raw()
	first := resp.AppendCommand(nil, r.Cmd.Args)
	first = append(first, s.c.Pipelined(r)...)
	rawrelay.Run(s.srv.Ctx, s.c.Socket(), up, d.Close, first, early)
	return false
}
