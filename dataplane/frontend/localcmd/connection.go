package localcmd

import (
	"strconv"
	"strings"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/frontend/clusteremu"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

var (
	okReply    = []byte("+OK\r\n")
	pongReply  = []byte("+PONG\r\n")
	resetReply = []byte("+RESET\r\n")
)

func ok(c Conn, _ *engine.State, _ [][]byte) bool {
	c.Write(okReply)
	return true
}

// auth checks AUTH [user] password against the policy's users.
func auth(c Conn, st *engine.State, args [][]byte) bool {
	if len(args) > 3 {
		c.WriteError("ERR syntax error")
		return true
	}
	user, pass, legacy := "default", string(args[1]), true
	if len(args) == 3 {
		user, pass, legacy = string(args[1]), string(args[2]), false
	}
	if !refused(c, c.Authenticate(st, user, pass, legacy)) {
		c.Write(okReply)
	}
	return true
}

// hello answers HELLO the way Redis does and switches the session's
// protocol. A RESP3 client's commands go to upstream connections that ran
// HELLO 3 (upstream.Node keeps a pool per protocol), so what Redis sends
// reaches it byte for byte; the replies the proxy builds itself take the
// client's protocol's shape (resp.AppendNull, AppendMap, ...).
func hello(c Conn, st *engine.State, args [][]byte) bool {
	next := 1
	proto := uint8(2)
	if resp3(c) {
		proto = 3
	}
	if len(args) >= 2 {
		ver, err := strconv.ParseInt(string(args[1]), 10, 64)
		if err != nil {
			c.WriteError("ERR Protocol version is not an integer or out of range")
			return true
		}
		if ver < 2 || ver > 3 {
			c.WriteError("NOPROTO unsupported protocol version")
			return true
		}
		proto = uint8(ver)
		next = 2
	}
	var user, pass, name []byte
	for j := next; j < len(args); j++ {
		more := len(args) - 1 - j
		opt := string(args[j])
		switch {
		case strings.EqualFold(opt, "AUTH") && more >= 2:
			user, pass = args[j+1], args[j+2]
			j += 2
		case strings.EqualFold(opt, "SETNAME") && more >= 1:
			name = args[j+1]
			j++
		default:
			c.WriteError("ERR Syntax error in HELLO option '" + opt + "'")
			return true
		}
	}
	if user != nil && refused(c, c.Authenticate(st, string(user), string(pass), false)) {
		return true
	}
	if c.Unauthenticated(st) {
		c.WriteError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return true
	}
	if name != nil && !setName(c, name) {
		return true
	}
	if !c.SetProto(proto) {
		return true
	}
	mode := "standalone"
	if emulation(st, c) != nil {
		// A cluster node on a listener that emulates one, as cluster
		// clients that read HELLO expect.
		mode = "cluster"
	}
	resp3 := proto == 3
	b := resp.AppendMap(c.Scratch(), 7, resp3)
	b = resp.AppendBulkString(b, "server")
	b = resp.AppendBulkString(b, "redis")
	b = resp.AppendBulkString(b, "version")
	b = resp.AppendBulkString(b, c.Proxy().RedisVersion)
	b = resp.AppendBulkString(b, "proto")
	b = resp.AppendInt(b, int64(proto))
	b = resp.AppendBulkString(b, "id")
	b = resp.AppendInt(b, int64(c.Session().ID))
	b = resp.AppendBulkString(b, "mode")
	b = resp.AppendBulkString(b, mode)
	b = resp.AppendBulkString(b, "role")
	b = resp.AppendBulkString(b, "master")
	b = resp.AppendBulkString(b, "modules")
	b = resp.AppendArray(b, 0)
	c.Reply(b)
	return true
}

// emulation is the cluster emulation of the client's listener, nil when
// it is off.
func emulation(st *engine.State, c Conn) *keywayv1.ClusterEmulation {
	if st == nil {
		return nil
	}
	return clusteremu.Of(st.Proxy, c.Session().Listener)
}

// ping answers with the upstream's own PING when the tree reaches one, so
// a client learns what Redis would tell it (BUSY while a script runs,
// LOADING, MASTERDOWN), and with the proxy's PONG otherwise (before AUTH,
// before a policy, or when the policy sends keyless commands nowhere).
func ping(c Conn, st *engine.State, args [][]byte) bool {
	if len(args) <= 2 && c.AskUpstream(st, args) {
		return true
	}
	switch len(args) {
	case 1:
		c.Write(pongReply)
	case 2:
		writeBulk(c, args[1])
	default:
		c.WriteError(answer.ArityError("ping"))
	}
	return true
}

func echo(c Conn, _ *engine.State, args [][]byte) bool {
	writeBulk(c, args[1])
	return true
}

func selectDB(c Conn, _ *engine.State, args [][]byte) bool {
	n, err := strconv.ParseInt(string(args[1]), 10, 32)
	switch {
	case err != nil:
		c.WriteError("ERR value is not an integer or out of range")
	case n != 0:
		// The proxy multiplexes clients onto shared connections, which
		// all stay on database 0.
		c.WriteError("ERR DB index is out of range")
	default:
		c.Write(okReply)
	}
	return true
}

func quit(c Conn, _ *engine.State, _ [][]byte) bool {
	c.Quit()
	return false
}

// reset returns the session to a fresh connection's state, as RESET does
// in Redis.
func reset(c Conn, _ *engine.State, _ [][]byte) bool {
	c.Reset()
	c.Write(resetReply)
	return true
}

// setName validates and sets the connection name, answering the error
// itself; an empty name removes it, as in Redis.
func setName(c Conn, name []byte) bool {
	if !answer.ValidName(name) {
		c.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
		return false
	}
	c.SetName(string(name))
	return true
}

func writeBulk(c Conn, b []byte) {
	c.Reply(redcon.AppendBulk(c.Scratch(), b))
}

// writeVerbatim writes text as Redis writes human-readable text: a
// verbatim string to a RESP3 client, a bulk string to a RESP2 one.
func writeVerbatim(c Conn, text string) {
	c.Reply(resp.AppendVerbatim(c.Scratch(), text, resp3(c)))
}

func writeInt(c Conn, n int64) {
	c.Reply(redcon.AppendInt(c.Scratch(), n))
}
