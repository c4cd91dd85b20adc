package localcmd

import (
	"net"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/frontend/clusteremu"
	"keyway.dev/dataplane/frontend/tracking"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// conn is a Conn that records what the handlers wrote and asked for.
type conn struct {
	out     strings.Builder
	sess    engine.Session
	authed  bool
	replies []Replies
	lib     [2]string
	quit    bool
}

func (c *conn) Write(raw []byte)         { c.out.Write(raw) }
func (c *conn) WriteError(msg string)    { c.out.WriteString("-" + msg + "\r\n") }
func (c *conn) Scratch() []byte          { return nil }
func (c *conn) Reply(b []byte)           { c.out.Write(b) }
func (c *conn) Session() *engine.Session { return &c.sess }
func (c *conn) Unauthenticated(st *engine.State) bool {
	return st != nil && !c.authed && st.Proxy.GetIdentity().GetRequireAuth()
}
func (c *conn) Authenticate(_ *engine.State, user, pass string, _ bool) string {
	if user != "default" || pass != "pw" {
		return "WRONGPASS"
	}
	c.authed = true
	return ""
}
func (c *conn) SetName(name string) { c.sess.Name = name }
func (c *conn) SetLib(version bool, v string) {
	if version {
		c.lib[1] = v
	} else {
		c.lib[0] = v
	}
}
func (c *conn) SetProto(p uint8) bool                       { c.sess.Proto = p; return true }
func (c *conn) SetReplies(m Replies)                        { c.replies = append(c.replies, m) }
func (c *conn) Quit()                                       { c.quit = true }
func (c *conn) Reset()                                      { c.sess = engine.Session{ID: c.sess.ID} }
func (c *conn) AskUpstream(*engine.State, [][]byte) bool    { return false }
func (c *conn) UpstreamInfo(*engine.State, [][]byte) []byte { return nil }
func (c *conn) Domain(*engine.State) string                 { return c.sess.Domain }
func (c *conn) Proxy() answer.Proxy                         { return answer.Proxy{RedisVersion: "7.0.15"} }
func (c *conn) LocalAddr() net.Addr                         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 6380} }
func (c *conn) ClusterAddrs(net.IP) []clusteremu.Addr       { return nil }
func (c *conn) Line(time.Time) string                       { return "id=1" }
func (c *conn) List(time.Time) string                       { return "id=1\n" }
func (c *conn) Unblock(uint64, []byte) []byte               { return nil }
func (c *conn) Tracking(*engine.State, [][]byte)            {}
func (c *conn) Tracker() *tracking.Session                  { return nil }

// run looks line's command up and serves it on c under st, returning
// what it wrote and whether the connection goes on.
func run(t *testing.T, c *conn, st *engine.State, line string) (string, bool) {
	t.Helper()
	var args [][]byte
	for _, f := range strings.Fields(line) {
		args = append(args, []byte(f))
	}
	l := Lookup(args[0])
	if l == nil {
		l = Emulated(st, &c.sess, args[0])
	}
	if l == nil {
		t.Fatalf("%s: not a local command", line)
	}
	c.out.Reset()
	more := Serve(c, st, l, args)
	return c.out.String(), more
}

func TestLookup(t *testing.T) {
	for name, want := range map[string]string{"ping": "ping", "PiNg": "ping", "keyway.explain": "keyway.explain", "GET": "", strings.Repeat("x", 65): ""} {
		l := Lookup([]byte(name))
		if (l == nil && want != "") || (l != nil && l.Name != want) {
			t.Errorf("Lookup(%.10q) = %v, want %q", name, l, want)
		}
	}
	if !Lookup([]byte("quit")).Immediate || !Lookup([]byte("reset")).Immediate || Lookup([]byte("ping")).Immediate {
		t.Error("only QUIT and RESET are answered at once in a transaction")
	}
	if Emulated(nil, &engine.Session{}, []byte("CLUSTER")) != nil {
		t.Error("CLUSTER is answered without a policy emulating a cluster")
	}
}

func TestServe(t *testing.T) {
	authed := &engine.State{Proxy: &keywayv1.ProxyConfig{Identity: &keywayv1.Identity{RequireAuth: true}}}
	c := &conn{sess: engine.Session{ID: 7}}
	for _, tc := range []struct {
		st   *engine.State
		line string
		want string
	}{
		{nil, "PING", "+PONG\r\n"},
		{nil, "PING a b", "-ERR wrong number of arguments for 'ping' command\r\n"},
		{nil, "ECHO", "-ERR wrong number of arguments for 'echo' command\r\n"},
		{nil, "SELECT 1", "-ERR DB index is out of range\r\n"},
		{nil, "SELECT x", "-ERR value is not an integer or out of range\r\n"},
		{nil, "CLIENT ID", ":7\r\n"},
		{nil, "CLIENT GETNAME", "$-1\r\n"},
		{nil, "CLIENT SETNAME a\x01b", "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"},
		{nil, "CLIENT SETINFO LIB-COLOUR red", "-ERR Unrecognized option 'LIB-COLOUR'\r\n"},
		{nil, "CLIENT SETINFO LIB-NAME go-redis", "+OK\r\n"},
		{nil, "CLIENT REPLY MAYBE", "-ERR syntax error\r\n"},
		{nil, "CLIENT UNBLOCK 3 SOFTLY", "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"},
		{nil, "CLIENT UNBLOCK x", "-ERR value is not an integer or out of range\r\n"},
		{nil, "CLIENT UNBLOCK 3", ":0\r\n"},
		{nil, "CLIENT KILL ID 3", "-ERR keyway: CLIENT KILL is not supported by the proxy\r\n"},
		{nil, "CLIENT FROB", "-ERR unknown subcommand 'FROB'. Try CLIENT HELP.\r\n"},
		{nil, "HELLO 4", "-NOPROTO unsupported protocol version\r\n"},
		{nil, "HELLO 3 FROB", "-ERR Syntax error in HELLO option 'FROB'\r\n"},
		{authed, "ECHO hi", "-" + answer.ErrNoAuth.Error() + "\r\n"},
		{authed, "AUTH nope", "-WRONGPASS\r\n"},
		{authed, "AUTH pw", "+OK\r\n"},
		{authed, "ECHO hi", "$2\r\nhi\r\n"},
	} {
		if got, more := run(t, c, tc.st, tc.line); got != tc.want || !more {
			t.Errorf("%q: wrote %q (go on %v), want %q", tc.line, got, more, tc.want)
		}
	}
	if c.lib[0] != "go-redis" {
		t.Errorf("CLIENT SETINFO LIB-NAME left %q", c.lib[0])
	}
	if got, more := run(t, c, nil, "QUIT"); got != "" || more || !c.quit {
		t.Errorf("QUIT: wrote %q, go on %v, quit %v; want the connection to close", got, more, c.quit)
	}
}
