package connstate

import (
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/dedicated"
	"keyway.dev/dataplane/frontend/push"
	"keyway.dev/dataplane/frontend/tracking"
	"keyway.dev/dataplane/resp"
)

// tracked is a client as its tracking (or a tracking that redirects to
// it) sees it, from any goroutine.
type tracked struct{ s *State }

func (t tracked) RESP3() bool          { return t.s.c.Snapshot().Proto == 3 }
func (t tracked) Outbox() *push.Outbox { return t.s.boxRef.Load() }
func (t tracked) Closed() bool         { return t.s.closed.Load() }

// Tracking answers CLIENT TRACKING ON|OFF [options].
func (s *State) Tracking(st *engine.State, args [][]byte) {
	switch strings.ToUpper(string(args[2])) {
	case "OFF":
		if len(args) != 3 {
			s.c.WriteError("ERR syntax error")
			return
		}
		if t := s.tracker; t.LoginArgs() != nil {
			// The session stays for its login; only tracking ends.
			if t.Tracks() {
				s.tracker = t.Off()
				s.stopOutbox()
			}
			s.c.Write(okReply)
			return
		}
		s.trackingOff()
		s.c.Write(okReply)
		return
	case "ON":
	default:
		s.c.WriteError("ERR syntax error")
		return
	}
	next, refusal := tracking.On(tracked{s}, s.srv.Ctx, s.tracker, args, func(id uint64) tracking.Client {
		if x := s.srv.ClientByID(id); x != nil {
			return tracked{x}
		}
		return nil
	})
	if refusal != "" {
		s.c.WriteError(refusal)
		return
	}
	// Redis judges the options (and a change of mode while on) on one
	// node; the proxy keeps the state only once Redis accepted it.
	fresh, err := next.Replace(s.tracker)
	if err != nil {
		s.c.WriteError(err.Error())
		return
	}
	if fresh {
		if err := s.openTracking(next, st); err != nil {
			next.Close()
			s.c.WriteError(err.Error())
			return
		}
	}
	s.tracker = next
	if next.Pushes() {
		if err := s.startOutbox(); err != nil {
			s.trackingOff()
			s.c.End()
			return
		}
	}
	s.c.Write(okReply)
}

// openTracking opens the connection of t on the node a keyless command
// goes to, so Redis judges the options now, as it would answer CLIENT
// TRACKING. A policy that sends keyless commands nowhere leaves every
// connection to the first command that needs it.
func (s *State) openTracking(t *tracking.Session, st *engine.State) error {
	tree, err := s.tree(st)
	if err != nil {
		return err
	}
	r := &engine.Request{Session: s.c.Session()}
	r.Cmd.Args = t.Probe()
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	up, routeErr := dedicated.UpstreamFor(tree.Root, r)
	if routeErr != nil {
		return nil // no keyless route: each connection opens with the first command that needs it
	}
	return t.Open(up)
}

// trackingOff ends the client's tracking.
func (s *State) trackingOff() {
	if s.tracker == nil {
		return
	}
	s.tracker.Close()
	s.tracker = nil
	s.stopOutbox()
}

// ServeTracked serves one command of a tracking client through the tree,
// with its tracking as the request's pin.
func (s *State) ServeTracked(st *engine.State, r *engine.Request) {
	s.c.ServeAlone(st, r, s.tracker)
}

// Logging in on Redis itself. Under identity(redis_users = True), and
// behind keyway-proxy --upstream where no policy says who a client is, the
// users are Redis's: AUTH and HELLO AUTH are judged by Redis, with its
// words, and a client logged in as a user other than default runs every
// command as that user, on connections of its own (the tracking.Session
// it keeps, which opens one per node the client's commands reach and
// logs each in), and its transactions, blocking commands and
// subscriptions likewise. Shared connections stay the proxy's own,
// logged in as default.

// Login logs the client in on Redis as user (legacy: AUTH password
// alone, the default user) and returns Redis's refusal, or "". A refused
// login leaves the client as it was, as Redis does.
func (s *State) Login(st *engine.State, user, pass string, legacy bool) string {
	args := [][]byte{[]byte("AUTH"), []byte(pass)}
	if !legacy {
		args = [][]byte{[]byte("AUTH"), []byte(user), []byte(pass)}
	}
	t := s.tracker
	if t == nil {
		t = tracking.New(tracked{s}, s.srv.Ctx)
	}
	if refusal := t.Login(args, func(t *tracking.Session) error { return s.openTracking(t, st) }); refusal != "" {
		return refusal
	}
	if legacy || strings.EqualFold(user, "default") {
		// The default user is what shared connections run as.
		if !t.Tracks() {
			t.Close()
			if s.tracker == t {
				s.tracker = nil
			}
			return ""
		}
	}
	s.tracker = t
	return ""
}
