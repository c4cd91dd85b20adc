// Package localcmd holds the commands the proxy answers itself, the way
// Redis would, rather than forwarding them: the connection's own
// commands (AUTH, HELLO, PING, ECHO, SELECT, QUIT, RESET, CLIENT ...),
// what it knows better than the upstream (COMMAND, INFO), its own
// KEYWAY.EXPLAIN, and CLUSTER on a listener that emulates one. It is
// the table the request loop looks commands up in, with each command's
// arity and when it may run, and the handlers, which parse the
// arguments, compose the reply (package answer) and ask the connection
// for the state changes they imply (Conn). Its one reason to change is
// what a proxy-answered command says or accepts.
package localcmd

import (
	"net"
	"strings"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/frontend/clusteremu"
	"keyway.dev/dataplane/frontend/tracking"
)

// Conn is a client connection as the commands the proxy answers see it.
// The frontend's connection implements it; every method runs on the
// connection's goroutine.
type Conn interface {
	// Write queues one reply and WriteError one error reply.
	Write(raw []byte)
	WriteError(msg string)
	// Scratch is an empty buffer to build a reply on; Reply writes a
	// reply built on it and keeps its storage for the next one.
	Scratch() []byte
	Reply(b []byte)
	// Session is the connection's session; only its goroutine changes it.
	Session() *engine.Session

	// Unauthenticated reports whether the policy requires AUTH and the
	// client has not passed it.
	Unauthenticated(st *engine.State) bool
	// Authenticate logs the session in as user (legacy: AUTH password
	// alone), or returns the error to answer.
	Authenticate(st *engine.State, user, pass string, legacy bool) string
	// SetName names the connection (a valid name; "" removes it).
	SetName(name string)
	// SetLib records the client library's name or version (CLIENT
	// SETINFO LIB-NAME or LIB-VER).
	SetLib(version bool, value string)
	// SetProto switches the session to RESP version proto; false means
	// the connection was lost and is closing.
	SetProto(proto uint8) bool
	// SetReplies applies CLIENT REPLY.
	SetReplies(m Replies)
	// Quit answers +OK and closes the connection; Reset returns it to a
	// fresh connection's state.
	Quit()
	Reset()

	// AskUpstream serves args through the domain's tree and writes the
	// reply; false when the policy or the upstream gave none, and the
	// caller answers.
	AskUpstream(st *engine.State, args [][]byte) bool
	// UpstreamInfo is the upstream's reply to the client's INFO through
	// the tree, nil when there is none to use.
	UpstreamInfo(st *engine.State, args [][]byte) []byte
	// Domain is the session's workload domain under st.
	Domain(st *engine.State) string
	// Proxy is what INFO says of the proxy, the connection's own fields
	// left for the caller.
	Proxy() answer.Proxy
	// LocalAddr is the address the client reached; ClusterAddrs every
	// address the connection's listener serves (clusteremu.Addr), a
	// wildcard one announced at local.
	LocalAddr() net.Addr
	ClusterAddrs(local net.IP) []clusteremu.Addr

	// Line is the connection in CLIENT LIST's format, and List every
	// client of its workload domain, one line each.
	Line(now time.Time) string
	List(now time.Time) string
	// Unblock unblocks client id of the caller's domain as CLIENT
	// UNBLOCK does, with mode TIMEOUT, ERROR or nil, and returns the
	// reply; nil when there is no such client blocked.
	Unblock(id uint64, mode []byte) []byte
	// Tracking answers CLIENT TRACKING ON|OFF [options]; Tracker is the
	// client's tracking, nil when off.
	Tracking(st *engine.State, args [][]byte)
	Tracker() *tracking.Session
}

// Replies is what CLIENT REPLY asks for.
type Replies uint8

// The modes of CLIENT REPLY.
const (
	// RepliesOn answers every command again.
	RepliesOn Replies = iota
	// RepliesOff answers nothing until ON.
	RepliesOff
	// RepliesSkip drops the next command's reply.
	RepliesSkip
)

// Func answers a command the proxy handles itself. It returns false
// when the connection is closing and the rest of the pipeline must be
// dropped.
type Func func(c Conn, st *engine.State, args [][]byte) bool

// Command is one command the proxy answers itself.
type Command struct {
	Name  string // lower case, as Redis names it in errors
	Arity int    // Redis's convention: negative is a minimum
	// PreAuth commands are allowed before AUTH when the policy requires
	// it.
	PreAuth bool
	// QueuedByRedis commands are sent to Redis inside a transaction, so
	// EXEC judges them as Redis would (frontend/pin).
	QueuedByRedis bool
	// Immediate commands are answered at once even inside a transaction
	// or while subscribed: QUIT and RESET end both.
	Immediate bool
	fn        Func
}

// table is keyed by upper-case name. It is filled in init because
// COMMAND's handler reaches it through the command table it answers.
var table map[string]*Command

func init() {
	table = map[string]*Command{}
	for _, l := range []*Command{
		{Name: "auth", Arity: -2, PreAuth: true, fn: auth},
		{Name: "hello", Arity: -1, PreAuth: true, fn: hello},
		{Name: "ping", Arity: -1, PreAuth: true, QueuedByRedis: true, fn: ping},
		{Name: "quit", Arity: -1, PreAuth: true, Immediate: true, fn: quit},
		{Name: "echo", Arity: 2, QueuedByRedis: true, fn: echo},
		{Name: "select", Arity: 2, fn: selectDB},
		{Name: "reset", Arity: 1, PreAuth: true, Immediate: true, fn: reset},
		{Name: "readonly", Arity: 1, fn: ok},
		{Name: "readwrite", Arity: 1, fn: ok},
		{Name: "client", Arity: -2, fn: client},
		{Name: "command", Arity: -1, fn: command},
		{Name: "info", Arity: -1, fn: info},
		{Name: "keyway.explain", Arity: -2, fn: explain},
	} {
		table[strings.ToUpper(l.Name)] = l
	}
}

// Lookup returns the command named name, or nil when the command is
// forwarded. It upper-cases on the stack, so the lookup does not
// allocate.
func Lookup(name []byte) *Command {
	var buf [64]byte
	if len(name) > len(buf) {
		return nil
	}
	up := buf[:len(name)]
	for i, b := range name {
		if b >= 'a' && b <= 'z' {
			b -= 'a' - 'A'
		}
		up[i] = b
	}
	return table[string(up)]
}

// Serve checks arity and authentication, then runs l.
func Serve(c Conn, st *engine.State, l *Command, args [][]byte) bool {
	if (l.Arity > 0 && len(args) != l.Arity) || (l.Arity < 0 && len(args) < -l.Arity) {
		c.WriteError(answer.ArityError(l.Name))
		return true
	}
	if !l.PreAuth && c.Unauthenticated(st) {
		c.WriteError(answer.ErrNoAuth.Error())
		return true
	}
	return l.fn(c, st, args)
}

// resp3 reports whether the client speaks RESP3.
func resp3(c Conn) bool { return c.Session().Proto == 3 }

// refused answers msg unless it is "", and reports whether it did.
func refused(c Conn, msg string) bool {
	if msg == "" {
		return false
	}
	c.WriteError(msg)
	return true
}
