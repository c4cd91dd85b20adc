// Package connstate keeps what a client connection holds on Redis
// beyond one command: the dedicated connection of a transaction, of
// watched keys or of a blocking command (pin), the subscription whose
// pushed messages it relays (push), its CLIENT TRACKING and its login as
// a Redis user (tracking), and the admin commands that turn it into a
// byte pipe (rawrelay). It decides when such a connection is opened,
// switched, handed back or dropped, and who owns the socket while Redis
// may push. Its one reason to change is how a connection keeps state on
// Redis; reading commands and writing replies is the request loop's
// business (Loop), and the mechanics of each kind of state are the
// packages named above.
package connstate

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/frontend/dedicated"
	"keyway.dev/dataplane/frontend/pin"
	"keyway.dev/dataplane/frontend/push"
	"keyway.dev/dataplane/frontend/tracking"
	"keyway.dev/dataplane/frontend/wire"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// Loop is the client connection as its state sees it: the request loop
// and the socket. The frontend's connection implements it; its methods
// run on the connection's goroutine unless they say otherwise.
type Loop interface {
	// Write queues one reply and WriteError one error reply; Scratch
	// is an empty buffer to build a reply on and Reply writes it.
	Write(raw []byte)
	WriteError(msg string)
	Scratch() []byte
	Reply(b []byte)
	// Flush writes the replies buffered so far to the socket, before
	// something else (an outbox, a relay) takes it over.
	Flush() error
	// Socket is the client's connection.
	Socket() *wire.Conn
	// End marks the connection done: the rest of the pipeline is
	// dropped and the loop closes it.
	End()
	// Session is the connection's session; Snapshot a copy of it, safe
	// from any goroutine.
	Session() *engine.Session
	Snapshot() engine.Session
	// Unauthenticated reports whether the policy requires AUTH and the
	// client has not passed it.
	Unauthenticated(st *engine.State) bool
	// Tree is the tree the session runs on under st, nil when its
	// domain has none.
	Tree(st *engine.State) *engine.Tree
	// ServeRun serves b through the session's tree (failing it before
	// a policy, before AUTH, or without a tree); ServeAlone serves r by
	// itself with p as its last hop, and writes its reply.
	ServeRun(st *engine.State, b engine.Batch)
	ServeAlone(st *engine.State, r *engine.Request, p engine.Pin)
	// Pipelined is what the client sent after r, raw: the rest of its
	// pipeline, then what has arrived of the next one.
	Pipelined(r *engine.Request) []byte
}

// Server is what the connections of one frontend share.
type Server struct {
	// Ctx ends when the frontend shuts down.
	Ctx context.Context
	Log *slog.Logger
	// MaxPubSubOutput caps the pushed messages held for one client
	// (push.NewOutbox); 0 is off.
	MaxPubSubOutput int64
	// ClientByID finds another connection's state by its CLIENT ID, for
	// tracking that redirects to it; nil when there is none.
	ClientByID func(id uint64) *State
	// Blocked counts the clients waiting in a blocking command, for
	// INFO's blocked_clients.
	Blocked atomic.Int64
}

// State is one client connection's state on Redis. The zero value
// holds none; Init ties it to its connection. Its methods run on the
// connection's goroutine, except those of the tracking it shares with
// redirecting clients (tracking.go).
type State struct {
	c   Loop
	srv *Server

	// pin is the dedicated upstream connection of a transaction,
	// watched keys or a blocking command in progress.
	pin *pin.Pin
	// sub relays pushed messages while the client is subscribed
	// (pubsub.go), on the pin's connection; fan, on a cluster, the
	// other nodes' notifications (push.Fanout).
	sub *push.Relay
	fan *push.Fanout
	// box, while set, writes to the socket for the connection's
	// goroutine, because Redis may push frames at any time
	// (push.Outbox); boxRef is the same for other goroutines that
	// deliver to this client (tracking.go).
	box    *push.Outbox
	boxRef atomic.Pointer[push.Outbox]
	// tracker is the client's CLIENT TRACKING state, or its login as a
	// Redis user; nil when neither.
	tracker *tracking.Session
	// blockedOn is the dedicated connection a blocking command of this
	// client is waiting on, for CLIENT UNBLOCK from other clients.
	blockedOn atomic.Pointer[upstream.Blocked]
	// closed is set once the connection is gone, for clients that
	// redirect their invalidations to it.
	closed atomic.Bool
}

// Init ties s to its connection and server.
func (s *State) Init(c Loop, srv *Server) { s.c, s.srv = c, srv }

// Outbox is the outbox that owns the socket, nil while the connection's
// goroutine writes it.
func (s *State) Outbox() *push.Outbox { return s.box }

// InMulti reports whether the client is inside MULTI.
func (s *State) InMulti() bool { return s.pin.InMulti() }

// Pinned reports whether the client holds a dedicated connection.
func (s *State) Pinned() bool { return s.pin != nil }

// Subscribed reports whether the client is in pub/sub mode.
func (s *State) Subscribed() bool { return s.sub != nil }

// Tracked reports whether the client has a tracking session: CLIENT
// TRACKING on, or logged in as a Redis user.
func (s *State) Tracked() bool { return s.tracker != nil }

// Tracker is the client's tracking session, nil when it has none.
func (s *State) Tracker() *tracking.Session { return s.tracker }

// BlockedOn is the dedicated connection the client's blocking command
// waits on, nil when it waits on none; safe from any goroutine.
func (s *State) BlockedOn() *upstream.Blocked { return s.blockedOn.Load() }

// Refused tells the transaction a command was refused while queueing,
// so EXEC aborts as Redis would.
func (s *State) Refused() { s.pin.Refused() }

// Queue adds the answer of a connection-local command to the
// transaction, to be given at EXEC (pin.Pin.Queue).
func (s *State) Queue(answer []byte) { s.pin.Queue(answer) }

// Release frees what the connection holds once it is gone. A pinned
// connection is closed, not reused: the state on it (an open MULTI)
// must not leak to the next client.
func (s *State) Release() {
	s.closed.Store(true)
	s.Drop()
	s.trackingOff()
	if s.box != nil { // a subscription's outbox outlived its pin
		s.boxRef.Store(nil)
		s.box.Stop()
		s.box = nil
	}
}

// Reset forgets everything, as RESET does: the transaction, watched
// keys, subscriptions and tracking.
func (s *State) Reset() {
	s.Drop()
	s.trackingOff()
}

// SetProto switches the dedicated connection the client holds, if any,
// to RESP version proto, then calls set to switch the session: the state
// on that connection (a watch) must survive, so the connection is
// switched rather than replaced. False means the connection was lost
// and the client closed.
func (s *State) SetProto(proto uint8, set func()) bool {
	if p := s.pin; p != nil && p.Conn() != nil && s.sub == nil {
		if err := p.Conn().Protocol(s.srv.Ctx, proto); err != nil {
			s.Drop()
			s.c.WriteError(err.Error())
			return false
		}
	}
	set()
	if t := s.tracker; t != nil {
		t.Reopen()
		if t.Pushes() {
			if err := s.startOutbox(); err != nil {
				s.c.End()
				return false
			}
		} else {
			s.stopOutbox()
		}
	}
	return true
}

// Drop closes a dedicated connection whose state is unknown, ending a
// subscription with it.
func (s *State) Drop() {
	if s.sub != nil {
		s.endSubscription()
		return
	}
	if s.pin != nil {
		s.pin.Close()
		s.pin = nil
	}
}

// settle gives the connection back once the client keeps no state on it.
func (s *State) settle() {
	p := s.pin
	if p == nil || s.sub != nil || p.Busy() {
		return
	}
	p.Release()
	s.pin = nil
}

// openDedicated finds the upstream the tree would send cmd to and takes
// a connection of its own there; pub/sub uses it, since a subscribed
// client's commands are answered by Redis on the relay, not by the tree.
// It returns the upstream too.
func (s *State) openDedicated(st *engine.State, cmd *resp.Command) (*upstream.Dedicated, engine.Upstream, error) {
	tree, err := s.tree(st)
	if err != nil {
		return nil, nil, err
	}
	r := &engine.Request{Cmd: *cmd, Session: s.c.Session()}
	up, err := dedicated.UpstreamFor(tree.Root, r)
	if err != nil {
		return nil, nil, err
	}
	d, err := dedicated.Open(s.srv.Ctx, up, cmd, s.proto(), s.tracker.LoginArgs())
	return d, up, err
}

// tree is the session's tree under st, or the error to answer when
// there is none.
func (s *State) tree(st *engine.State) (*engine.Tree, error) {
	if st == nil {
		return nil, answer.ErrNoPolicy
	}
	tree := s.c.Tree(st)
	if tree == nil {
		return nil, fmt.Errorf("keyway: workload domain %q has no policy", s.c.Session().Domain)
	}
	return tree, nil
}

// proto is the session's RESP version, 2 or 3.
func (s *State) proto() uint8 {
	if s.c.Session().Proto == 3 {
		return 3
	}
	return 2
}

func (s *State) resp3() bool { return s.c.Session().Proto == 3 }

// The client as its pin sees it (pin.Client).
type pinned struct{ s *State }

func (p pinned) Write(raw []byte)            { p.s.c.Write(raw) }
func (p pinned) WriteError(msg string)       { p.s.c.WriteError(msg) }
func (p pinned) Blocked(b *upstream.Blocked) { p.s.blockedOn.Store(b) }
func (p pinned) Open(up engine.Upstream, cmd *resp.Command) (*upstream.Dedicated, error) {
	return dedicated.Open(p.s.srv.Ctx, up, cmd, p.s.proto(), p.s.tracker.LoginArgs())
}

// newPin starts a pin for the client.
func (s *State) newPin() *pin.Pin { return pin.New(s.srv.Ctx, pinned{s}) }
