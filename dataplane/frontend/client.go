package frontend

import (
	"hash/fnv"
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

// Connection states for draining: a batch runs only in stateBusy, and only
// an idle connection may be closed from outside its goroutine.
const (
	stateIdle int32 = iota
	stateBusy
	stateClosing
)

// client is one accepted connection. Its fields belong to the goroutine
// redcon runs it on, except those under mu, which CLIENT LIST and INFO
// read from other connections.
type client struct {
	srv *Server
	// rc is redcon's connection and dc the same once detached, for
	// Flush; replies go through its writer. nc is the socket below it
	// and rd the proxy's reader on it.
	rc       redcon.Conn
	dc       redcon.DetachedConn
	nc       *wire.Conn
	rd       *wire.Reader
	created  time.Time
	state    atomic.Int32
	detached bool
	// dead is set when the connection was closed mid-batch (QUIT, output
	// limit); the rest of the batch is dropped.
	dead bool

	mu      sync.Mutex
	sess    engine.Session
	libName string
	libVer  string

	authed bool
	// who decides the session's workload domain (identity.Conn).
	who identity.Conn

	// Reused across batches so a steady-state request allocates nothing.
	cmds    []redcon.Command
	reqs    []*engine.Request
	batch   engine.Batch
	out     []byte
	pending int64 // reply bytes written to redcon's buffer, not yet flushed

	// cs is what the connection holds on Redis beyond one command: a
	// transaction, watched keys, a blocking command, a subscription,
	// tracking (connstate).
	cs connstate.State
	// CLIENT REPLY: replyOff drops every reply until ON; skipNext drops
	// the next command's; muted drops the replies of the command being
	// served (batch.go serves each command alone while any is set).
	replyOff, skipNext, muted bool
	// capture, while set, takes the replies the proxy writes itself, to
	// answer a local command inside a transaction at EXEC.
	capture *[]byte

	// meter counts the connection's commands (observe.Conn); written
	// and lastError describe the replies written so far.
	meter     observe.Conn
	written   int64
	lastError bool
}

func newClient(s *Server, rc redcon.Conn, listener string) *client {
	id := s.nextID.Add(1)
	c := &client{srv: s, rc: rc, created: time.Now()}
	c.sess = engine.Session{
		ID:       id,
		Listener: listener,
		Addr:     rc.RemoteAddr(),
		Hash:     sessionHash(s.cfg.NodeID, id),
	}
	c.cs.Init(c, &s.shared)
	c.meter = observe.NewConn(s.obs, s.tracer)
	return c
}

// sessionHash is stable for a connection across policy versions, so
// canary and flag buckets do not move under it.
func sessionHash(node string, id uint64) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(node))
	var b [8]byte
	for i := range b {
		b[i] = byte(id >> (8 * i))
	}
	_, _ = h.Write(b[:])
	return h.Sum64()
}

// begin marks the start of a batch; false means the connection is being
// closed by a drain and the batch must not start.
func (c *client) begin() bool { return c.state.CompareAndSwap(stateIdle, stateBusy) }

// end marks the end of a batch, whose replies have been written; false
// means the connection is being closed. A drain closes it from the read
// loop, at the next command boundary (closeDrained).
func (c *client) end() bool {
	return c.state.CompareAndSwap(stateBusy, stateIdle)
}

// forceClose closes the socket whatever runs on it.
func (c *client) forceClose() {
	c.state.Store(stateClosing)
	_ = c.nc.Close()
}

// release frees what the connection holds beyond its memory. A pinned
// connection is closed, not reused: the state on it (an open MULTI) must
// not leak to the next client.
func (c *client) release() {
	c.cs.Release()
}

// request returns the i-th reusable request of the connection.
func (c *client) request(i int) *engine.Request {
	for i >= len(c.reqs) {
		c.reqs = append(c.reqs, &engine.Request{})
	}
	r := c.reqs[i]
	r.Reset()
	return r
}

// snapshot returns a copy of the session for readers outside the
// connection's goroutine.
func (c *client) snapshot() (engine.Session, string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess, c.libName, c.libVer
}
