package server

import (
	"errors"
	"strconv"
	"strings"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/answer"
)

// localFunc answers a command the proxy handles itself. It returns false
// when the connection is closing and the rest of the pipeline must be
// dropped.
type localFunc func(c *client, st *engine.State, args [][]byte) bool

// local is one command the proxy answers itself.
type local struct {
	name  string // lower case, as Redis names it in errors
	arity int    // Redis's convention: negative is a minimum
	// preAuth commands are allowed before AUTH when the policy requires it.
	preAuth bool
	// queuedByRedis commands are sent to Redis inside a transaction, so
	// EXEC judges them as Redis would (server/pin).
	queuedByRedis bool
	fn            localFunc
}

//lint:ignore ST1005 this is Redis's exact reply text
var errNoAuth = errors.New("NOAUTH Authentication required.")

// locals is keyed by upper-case name. It is filled in init because its
// functions refer back to it (COMMAND lists it).
var locals map[string]*local

func init() {
	locals = map[string]*local{}
	for _, l := range []*local{
		{name: "auth", arity: -2, preAuth: true, fn: (*client).auth},
		{name: "hello", arity: -1, preAuth: true, fn: (*client).hello},
		{name: "ping", arity: -1, preAuth: true, queuedByRedis: true, fn: (*client).ping},
		{name: "quit", arity: -1, preAuth: true, fn: (*client).quit},
		{name: "echo", arity: 2, queuedByRedis: true, fn: (*client).echo},
		{name: "select", arity: 2, fn: (*client).selectDB},
		{name: "reset", arity: 1, preAuth: true, fn: (*client).reset},
		{name: "readonly", arity: 1, fn: (*client).ok},
		{name: "readwrite", arity: 1, fn: (*client).ok},
		{name: "client", arity: -2, fn: (*client).clientCmd},
		{name: "command", arity: -1, fn: (*client).command},
		{name: "info", arity: -1, fn: (*client).info},
		{name: "keyway.explain", arity: -2, fn: (*client).explain},
	} {
		locals[strings.ToUpper(l.name)] = l
	}
}

// localHandler returns the local command named name, or nil when the
// command is forwarded. It upper-cases into the connection's scratch
// buffer, so the lookup does not allocate.
func (c *client) localHandler(name []byte) *local {
	if len(name) > len(c.scratch) {
		return nil
	}
	up := c.scratch[:len(name)]
	for i, b := range name {
		if b >= 'a' && b <= 'z' {
			b -= 'a' - 'A'
		}
		up[i] = b
	}
	return locals[string(up)]
}

// serveLocal checks arity and authentication, then runs l.
func (c *client) serveLocal(st *engine.State, l *local, args [][]byte) bool {
	if (l.arity > 0 && len(args) != l.arity) || (l.arity < 0 && len(args) < -l.arity) {
		c.writeError(answer.ArityError(l.name))
		return true
	}
	if !l.preAuth && !c.authed && st != nil && st.Proxy.GetIdentity().GetRequireAuth() {
		c.writeError(errNoAuth.Error())
		return true
	}
	return l.fn(c, st, args)
}

func (c *client) ok(*engine.State, [][]byte) bool {
	c.write(okReply)
	return true
}

var (
	okReply   = []byte("+OK\r\n")
	pongReply = []byte("+PONG\r\n")
)

// ping answers with the upstream's own PING when the tree reaches one, so
// a client learns what Redis would tell it (BUSY while a script runs,
// LOADING, MASTERDOWN), and with the proxy's PONG otherwise (before AUTH,
// before a policy, or when the policy sends keyless commands nowhere).
func (c *client) ping(st *engine.State, args [][]byte) bool {
	if len(args) <= 2 && c.askUpstream(st, args) {
		return true
	}
	switch len(args) {
	case 1:
		c.write(pongReply)
	case 2:
		c.writeBulk(args[1])
	default:
		c.writeError(answer.ArityError("ping"))
	}
	return true
}

func (c *client) echo(_ *engine.State, args [][]byte) bool {
	c.writeBulk(args[1])
	return true
}

func (c *client) selectDB(_ *engine.State, args [][]byte) bool {
	n, err := strconv.ParseInt(string(args[1]), 10, 32)
	switch {
	case err != nil:
		c.writeError("ERR value is not an integer or out of range")
	case n != 0:
		// The proxy multiplexes clients onto shared connections, which
		// all stay on database 0.
		c.writeError("ERR DB index is out of range")
	default:
		c.write(okReply)
	}
	return true
}

func (c *client) quit(*engine.State, [][]byte) bool {
	c.dropPin() // a subscribed client's relay writes nothing after +OK
	c.write(okReply)
	c.dead = true
	_ = c.rc.Close() // flushes +OK first
	return false
}

// reset returns the session to a fresh connection's state, as RESET does
// in Redis.
func (c *client) reset(*engine.State, [][]byte) bool {
	c.mu.Lock()
	c.sess.Name = ""
	c.sess.User = ""
	c.sess.Proto = 0
	c.libName, c.libVer = "", ""
	c.mu.Unlock()
	c.authed = false
	c.forgetDomain()
	c.dropPin() // RESET ends a transaction and forgets watched keys
	c.trackingOff()
	c.replyOff, c.skipNext = false, false
	c.write([]byte("+RESET\r\n"))
	return true
}

func (c *client) writeBulk(b []byte) {
	c.out = redcon.AppendBulk(c.out[:0], b)
	c.write(c.out)
}

// writeVerbatim writes text as Redis writes human-readable text: a
// verbatim string to a RESP3 client, a bulk string to a RESP2 one.
func (c *client) writeVerbatim(text string) {
	c.out = resp.AppendVerbatim(c.out[:0], text, c.resp3())
	c.write(c.out)
}

func (c *client) writeInt(n int64) {
	c.out = redcon.AppendInt(c.out[:0], n)
	c.write(c.out)
}
