package connstate

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/frontend/push"
	"keyway.dev/dataplane/resp"
)

var okReply = []byte("+OK\r\n")

// ServePinned serves a command that needs or holds connection state:
// transaction commands are kept by the proxy, everything else goes
// through the tree with the client's pin on the request, so the policy
// applies and only the leaf's last hop changes. It returns false when the
// client must be closed.
func (s *State) ServePinned(st *engine.State, r *engine.Request) bool {
	if ok, done := s.serveAdmin(st, r); done { // admin.go
		return ok
	}
	cmd := &r.Cmd
	if s.sub != nil {
		return s.serveSubscribed(st, r)
	}
	if s.pin == nil && s.c.Unauthenticated(st) {
		s.c.WriteError(answer.ErrNoAuth.Error())
		return true
	}
	if push.IsSubscribe(cmd.Spec) && !s.pin.InMulti() {
		return s.subscribe(st, r)
	}
	if push.IsSubscribe(cmd.Spec) {
		// Redis would subscribe the connection when EXEC runs, and the
		// messages would then need a relay that no reply in the EXEC
		// array starts; rather than lose them silently, the command is
		// refused and the transaction aborted, as Redis aborts one with a
		// command it refused while queueing.
		s.pin.Refused()
		s.c.WriteError("ERR keyway: " + cmd.Spec.Name + " inside MULTI is not supported by the proxy; subscribe outside the transaction")
		return true
	}
	if s.pin == nil {
		switch {
		case cmd.Spec.Has(resp.FlagPubSub):
			s.unsubscribeIdle(cmd)
			return true
		case cmd.Spec.Name == "EXEC", cmd.Spec.Name == "DISCARD":
			s.c.WriteError("ERR " + cmd.Spec.Name + " without MULTI")
			return true
		case cmd.Spec.Name == "UNWATCH":
			s.c.Write(okReply) // nothing is watched without a pin
			return true
		}
		s.pin = s.newPin()
	}
	switch cmd.Spec.Name {
	case "MULTI":
		s.pin.Multi()
	case "EXEC":
		var root engine.Engine
		if st != nil {
			if tree := s.c.Tree(st); tree != nil {
				root = tree.Root
			}
		}
		s.pin.Exec(root, s.c.Session())
	case "DISCARD":
		s.pin.Discard()
	case "UNWATCH":
		s.pin.Unwatch()
	default:
		s.forwardPinned(st, r)
	}
	s.settle()
	return true
}

// forwardPinned serves r through the tree with the client's pin as its
// last hop (pin.Pin.Serve), counting a blocking command in INFO's
// blocked_clients while it waits.
func (s *State) forwardPinned(st *engine.State, r *engine.Request) {
	r.Session = s.c.Session()
	blocking := !s.pin.InMulti() && resp.IsBlocking(&r.Cmd)
	if blocking {
		s.srv.Blocked.Add(1)
	}
	s.pin.Serve(r, blocking, func(b engine.Batch) {
		s.c.ServeRun(st, b)
		if !r.Done() {
			r.Fail(engine.KindProxy, answer.ErrUnanswered)
		}
	})
	if blocking {
		s.srv.Blocked.Add(-1)
		s.blockedOn.Store(nil)
	}
	r.Cmd.Args = r.Cmd.Args[:0] // keep no reference to the read buffer
}
