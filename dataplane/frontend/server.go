// Package frontend is the proxy's RESP frontend. It accepts client
// connections with redcon, turns each pipeline into engine batches served
// under one policy State, and enforces the limits that keep one client
// from hurting the others. What it keeps itself is framing and the
// request loop (batch.go), a connection's life from accept to drain
// (server.go, client.go), and the wiring of the rooms below it, each with
// one reason to change:
//
//   - localcmd: the commands the proxy answers itself, on the connection
//     as localcmd.Conn (localconn.go);
//   - connstate: what a connection holds on Redis beyond one command
//     (transactions, blocking commands, pub/sub, tracking, admin relays),
//     on the connection as connstate.Loop (stateconn.go);
//   - identity: AUTH, its throttle, and the workload domain;
//   - observe: what the frontend tells telemetry;
//   - tlsconf: the listeners' TLS files and their reload;
//   - wire (framing and the socket), answer (replies the proxy
//     composes), clusteremu (a listener shown as a Redis Cluster), and
//     the mechanics connstate drives: pin (a transaction, watched keys or
//     a blocking wait on a dedicated connection), dedicated (opening it),
//     push (relaying what Redis pushes), tracking (CLIENT TRACKING's
//     connections) and rawrelay (MONITOR and SYNC as a byte pipe).
//
// rooms_test.go fails when any of them, this package included, grows
// over 1,500 lines of non-test code.
package frontend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/connstate"
	"keyway.dev/dataplane/frontend/identity"
	"keyway.dev/dataplane/frontend/observe"
	"keyway.dev/dataplane/frontend/wire"
)

// Config is what a Server needs.
type Config struct {
	// NodeID names this proxy; sessions hash it with their connection id.
	NodeID string
	// Current holds the installed policy State; nil before the first.
	Current *engine.Current
	// Limits bound each client; see DefaultLimits.
	Limits Limits
	// Logger receives connection-level events; nil discards them.
	Logger *slog.Logger
	// RedisVersion is the Redis version the proxy claims in HELLO and
	// INFO, so clients enable the features the fleet supports.
	RedisVersion string
	// Version is the proxy's own build version, for INFO.
	Version string
	// Observer counts commands and connections per domain; nil counts
	// nothing.
	Observer observe.Observer
}

// Server serves RESP clients on any number of listeners.
type Server struct {
	cfg    Config
	log    *slog.Logger
	obs    observe.Observer
	tracer observe.Tracer // obs when it traces, else nil: asserted once, not per request
	ctx    context.Context
	cancel context.CancelFunc
	start  time.Time

	auth     *identity.Throttle
	nextID   atomic.Uint64
	nclients atomic.Int64
	draining atomic.Bool
	// shared is what every connection's state on Redis shares (connstate).
	shared connstate.Server

	mu        sync.Mutex
	clients   map[*client]struct{}
	listeners []*wire.Listener
	drained   chan struct{}
	drainOnce sync.Once
}

// New returns a Server; it serves nothing until Serve.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.RedisVersion == "" {
		cfg.RedisVersion = "7.0.15"
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	if cfg.Current == nil {
		cfg.Current = &engine.Current{}
	}
	obs := cfg.Observer
	if obs == nil {
		obs = observe.Nop{}
	}
	tracer, _ := obs.(observe.Tracer)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		obs:     obs,
		tracer:  tracer,
		ctx:     ctx,
		cancel:  cancel,
		start:   time.Now(),
		auth:    identity.NewThrottle(cfg.Limits.Auth),
		clients: map[*client]struct{}{},
		drained: make(chan struct{}),
	}
	s.shared = connstate.Server{
		Ctx:             ctx,
		Log:             cfg.Logger,
		MaxPubSubOutput: cfg.Limits.MaxPubSubOutput,
		ClientByID: func(id uint64) *connstate.State {
			if c := s.clientByID(id); c != nil {
				return &c.cs
			}
			return nil
		},
	}
	return s
}

// ErrServerClosed is returned by Serve after Shutdown, and by Serve on a
// server that is already shutting down.
var ErrServerClosed = errors.New("server: closed")

// Serve accepts clients on ln until Shutdown and returns ErrServerClosed
// then. name is the listener's name in the policy (ProxyConfig.listeners),
// which may decide the workload domain of its connections. ln may be a TLS
// listener; the server does not care how bytes are framed below RESP.
func (s *Server) Serve(ln net.Listener, name string) error {
	l, err := s.Add(ln, name)
	if err != nil {
		return err
	}
	return s.ServeListener(l)
}

// Add takes ln on as the policy's listener name without accepting on it
// yet: from now on cluster emulation announces it as a node. A program
// with several listeners Adds them all before serving any, so that no
// client of the first sees a cluster without the others. It returns
// ErrServerClosed, and closes ln, on a server shutting down.
func (s *Server) Add(ln net.Listener, name string) (*wire.Listener, error) {
	l := wire.NewListener(ln, name, s.cfg.Limits.WriteTimeout)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining.Load() {
		_ = ln.Close()
		return nil, ErrServerClosed
	}
	s.listeners = append(s.listeners, l)
	return l, nil
}

// ServeListener accepts clients on l, from Add, as Serve does.
func (s *Server) ServeListener(l *wire.Listener) error {
	name := l.Name
	rs := redcon.NewServerNetwork(l.Addr().Network(), l.Addr().String(), s.serveRESP,
		func(rc redcon.Conn) bool { return s.accept(rc, l) },
		s.closed)
	rs.AcceptError = func(err error) { s.log.Warn("accept failed", "listener", name, "err", err) }
	if s.cfg.Limits.IdleTimeout > 0 {
		rs.SetIdleClose(s.cfg.Limits.IdleTimeout)
	}
	if err := rs.Serve(l); err != nil {
		return fmt.Errorf("serve listener %s: %w", name, err)
	}
	return ErrServerClosed
}

// Ready reports whether the server should receive traffic: a policy is
// installed and it is not shutting down.
func (s *Server) Ready() bool {
	return !s.draining.Load() && s.cfg.Current.Load() != nil
}

// Clients is the number of open client connections.
func (s *Server) Clients() int { return int(s.nclients.Load()) }

// Shutdown stops accepting and drains every connection at a command
// boundary: the proxy reads no command after the drain began, answers
// every command it had read, flushes the replies and closes (loop,
// closeDrained), until ctx ends; then it closes whatever is left. Ready
// is false from the first moment.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.draining.Store(true)
	ls := append([]*wire.Listener(nil), s.listeners...)
	cs := make([]*client, 0, len(s.clients))
	for c := range s.clients {
		cs = append(cs, c)
	}
	s.mu.Unlock()

	for _, l := range ls {
		l.Stop()
	}
	for _, c := range cs {
		// Wake a loop waiting in a read; it sees draining and closes.
		// (Setting draining first means a loop that arms its own
		// deadline after this still sees it.)
		_ = c.nc.Conn.SetReadDeadline(time.Now())
	}
	if s.nclients.Load() == 0 {
		s.markDrained()
	}
	var err error
	select {
	case <-s.drained:
	case <-ctx.Done():
		err = fmt.Errorf("drain: %w", ctx.Err())
	}
	s.cancel()
	s.mu.Lock()
	for c := range s.clients {
		c.forceClose()
	}
	s.mu.Unlock()
	for _, l := range ls {
		l.LetGo()
	}
	return err
}

func (s *Server) markDrained() {
	s.drainOnce.Do(func() { close(s.drained) })
}

// accept admits a connection, or refuses it over the client limit with
// Redis's words.
func (s *Server) accept(rc redcon.Conn, l *wire.Listener) bool {
	n := s.nclients.Add(1)
	if s.draining.Load() || (s.cfg.Limits.MaxClients > 0 && n > int64(s.cfg.Limits.MaxClients)) {
		s.nclients.Add(-1)
		rc.WriteError("ERR max number of clients reached")
		return false
	}
	c := newClient(s, rc, l.Name)
	c.nc = rc.NetConn().(*wire.Conn) // Listener.Accept wraps every connection
	c.rd = wire.NewReader(c.nc.Conn, s.cfg.Limits.request())
	rc.SetContext(c)
	c.opened(s.cfg.Current.Load())
	s.mu.Lock()
	s.clients[c] = struct{}{}
	s.mu.Unlock()
	return true
}

// closed runs when redcon lets go of a connection. Every connection is
// detached by then (serveRESP), and finish has removed it.
func (s *Server) closed(rc redcon.Conn, err error) {
	c, ok := rc.Context().(*client)
	if !ok || c.detached {
		return
	}
	s.remove(c)
}

// finish ends a connection whose loop returned.
func (s *Server) finish(c *client) {
	_ = c.nc.Close()
	s.remove(c)
}

func (s *Server) remove(c *client) {
	s.mu.Lock()
	_, ok := s.clients[c]
	delete(s.clients, c)
	s.mu.Unlock()
	if !ok {
		return
	}
	c.gone()
	c.release()
	if s.nclients.Add(-1) == 0 && s.draining.Load() {
		s.markDrained()
	}
}

// each calls f for every open client, for CLIENT LIST and INFO.
func (s *Server) each(f func(*client)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		f(c)
	}
}
