package server

import (
	"fmt"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/answer"
	"keyway.dev/dataplane/server/dedicated"
	"keyway.dev/dataplane/server/push"
	"keyway.dev/dataplane/server/tracking"
)

// tracked is a client as its tracking (or a tracking that redirects to
// it) sees it, from any goroutine.
type tracked struct{ c *client }

func (t tracked) RESP3() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	return t.c.sess.Proto == 3
}

func (t tracked) Outbox() *push.Outbox { return t.c.boxRef.Load() }
func (t tracked) Closed() bool         { return t.c.closedFlag.Load() }

// Tracking answers CLIENT TRACKING ON|OFF [options].
func (c *client) Tracking(st *engine.State, args [][]byte) {
	switch strings.ToUpper(string(args[2])) {
	case "OFF":
		if len(args) != 3 {
			c.writeError("ERR syntax error")
			return
		}
		if t := c.tracker; t.LoginArgs() != nil {
			// The session stays for its login; only tracking ends.
			if t.Tracks() {
				c.tracker = t.Off()
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
	next, refusal := tracking.On(tracked{c}, c.srv.ctx, c.tracker, args, func(id uint64) tracking.Client {
		if x := c.srv.clientByID(id); x != nil {
			return tracked{x}
		}
		return nil
	})
	if refusal != "" {
		c.writeError(refusal)
		return
	}
	// Redis judges the options (and a change of mode while on) on one
	// node; the proxy keeps the state only once Redis accepted it.
	fresh, err := next.Replace(c.tracker)
	if err != nil {
		c.writeError(err.Error())
		return
	}
	if fresh {
		if err := c.openTracking(next, st); err != nil {
			next.Close()
			c.writeError(err.Error())
			return
		}
	}
	c.tracker = next
	if next.Pushes() {
		if err := c.startOutbox(); err != nil {
			c.trackingOff()
			c.dead = true
			return
		}
	}
	c.write(okReply)
}

// openTracking opens the connection of t on the node a keyless command
// goes to, so Redis judges the options now, as it would answer CLIENT
// TRACKING. A policy that sends keyless commands nowhere leaves every
// connection to the first command that needs it.
func (c *client) openTracking(t *tracking.Session, st *engine.State) error {
	if st == nil {
		return answer.ErrNoPolicy
	}
	tree := c.treeOf(st)
	if tree == nil {
		return fmt.Errorf("keyway: workload domain %q has no policy", c.sess.Domain)
	}
	r := &engine.Request{Session: &c.sess}
	r.Cmd.Args = t.Probe()
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	up, routeErr := dedicated.UpstreamFor(tree.Root, r)
	if routeErr != nil {
		return nil // no keyless route: each connection opens with the first command that needs it
	}
	return t.Open(up)
}

// trackingOff ends the client's tracking.
func (c *client) trackingOff() {
	if c.tracker == nil {
		return
	}
	c.tracker.Close()
	c.tracker = nil
	c.stopOutbox()
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
