package server

import (
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/answer"
)

// clientCmd answers the CLIENT subcommands that describe or name this
// connection. Those that act on other connections or on the server are
// refused: the proxy's clients are not Redis's clients.
func (c *client) clientCmd(st *engine.State, args [][]byte) bool {
	sub := strings.ToUpper(string(args[1]))
	if n, ok := clientArity[sub]; ok && ((n > 0 && len(args) != n) || (n < 0 && len(args) < -n)) {
		c.writeError(answer.ArityError("client|" + strings.ToLower(sub)))
		return true
	}
	switch sub {
	case "ID":
		c.writeInt(int64(c.sess.ID))
	case "GETNAME":
		if c.sess.Name == "" {
			c.out = resp.AppendNull(c.out[:0], c.resp3())
			c.write(c.out)
		} else {
			c.writeBulk([]byte(c.sess.Name))
		}
	case "SETNAME":
		if c.setName(args[2]) {
			c.write(okReply)
		}
	case "INFO":
		c.writeVerbatim(c.infoLine(time.Now()) + "\n")
	case "LIST":
		now := time.Now()
		var sb strings.Builder
		c.srv.each(func(o *client) {
			if !c.sameDomain(o) { // domainscope.go
				return
			}
			sb.WriteString(o.infoLine(now))
			sb.WriteByte('\n')
		})
		c.writeVerbatim(sb.String())
	case "SETINFO":
		c.setInfo(args[2], args[3])
	case "NO-EVICT", "NO-TOUCH":
		// Eviction and LRU are the upstream's business; accept the
		// setting so clients that send it keep working.
		switch strings.ToUpper(string(args[2])) {
		case "ON", "OFF":
			c.write(okReply)
		default:
			c.writeError("ERR syntax error")
		}
	case "HELP":
		b := redcon.AppendArray(c.out[:0], len(clientHelp))
		for _, l := range clientHelp {
			b = redcon.AppendString(b, l)
		}
		c.out = b
		c.write(b)
	case "TRACKING":
		c.clientTracking(st, args)
	case "CACHING":
		c.clientCaching(args)
	case "GETREDIR":
		c.clientGetRedir()
	case "TRACKINGINFO":
		c.clientTrackingInfo()
	case "REPLY":
		c.clientReply(args)
	case "UNBLOCK":
		c.clientUnblock(args)
	case "KILL", "PAUSE", "UNPAUSE":
		c.writeError("ERR keyway: CLIENT " + sub + " is not supported by the proxy")
	default:
		c.writeError("ERR unknown subcommand '" + answer.Truncate(string(args[1]), 128) + "'. Try CLIENT HELP.")
	}
	return true
}

// clientArity is Redis's arity of the CLIENT subcommands the proxy
// answers, the container name counted.
var clientArity = map[string]int{
	"ID": 2, "GETNAME": 2, "SETNAME": 3, "INFO": 2, "LIST": -2,
	"SETINFO": 4, "NO-EVICT": 3, "NO-TOUCH": 3, "HELP": 2,
	"TRACKING": -3, "CACHING": 3, "GETREDIR": 2, "TRACKINGINFO": 2, "REPLY": 3,
	"UNBLOCK": -3,
}

var clientHelp = []string{
	"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
	"GETNAME", "    Return the name of the current connection.",
	"ID", "    Return the ID of the current connection.",
	"INFO", "    Return information about the current client connection.",
	"LIST", "    Return information about client connections of this proxy.",
	"SETNAME <name>", "    Assign the name <name> to the current connection.",
	"SETINFO <LIB-NAME|LIB-VER> <value>", "    Record the client library's name or version.",
	"REPLY (ON|OFF|SKIP)", "    Control the replies sent to the current connection.",
	"TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]] [OPTIN] [OPTOUT] [NOLOOP]",
	"    Control server assisted client side caching.",
	"CACHING (YES|NO)", "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
	"GETREDIR", "    Return the client ID we are redirecting to when tracking is enabled.",
	"UNBLOCK <clientid> [TIMEOUT|ERROR]", "    Unblock the specified blocked client.",
	"TRACKINGINFO", "    Report tracking status for the current connection.",
	"HELP", "    Print this help.",
}

// clientReply answers CLIENT REPLY ON|OFF|SKIP as Redis does: OFF and
// SKIP are not answered, SKIP drops the next command's reply, OFF every
// reply until ON. The commands still run.
func (c *client) clientReply(args [][]byte) {
	switch strings.ToUpper(string(args[2])) {
	case "ON":
		c.replyOff, c.skipNext, c.muted = false, false, false
		c.write(okReply)
	case "OFF":
		c.replyOff, c.muted = true, true
	case "SKIP":
		if !c.replyOff {
			c.skipNext, c.muted = true, true
		}
	default:
		c.writeError("ERR syntax error")
	}
}

// setName validates and sets the connection name, answering the error
// itself; an empty name removes it, as in Redis.
func (c *client) setName(name []byte) bool {
	if !validName(name) {
		c.writeError("ERR Client names cannot contain spaces, newlines or special characters.")
		return false
	}
	c.mu.Lock()
	c.sess.Name = string(name)
	c.mu.Unlock()
	c.forgetDomain()
	return true
}

func validName(b []byte) bool {
	for _, ch := range b {
		if ch < '!' || ch > '~' {
			return false
		}
	}
	return true
}

func (c *client) setInfo(attr, value []byte) {
	if !validName(value) {
		c.writeError("ERR " + strings.ToUpper(string(attr)) + " cannot contain spaces, newlines or special characters.")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch strings.ToUpper(string(attr)) {
	case "LIB-NAME":
		c.libName = string(value)
	case "LIB-VER":
		c.libVer = string(value)
	default:
		c.writeError("ERR Unrecognized option '" + string(attr) + "'")
		return
	}
	c.write(okReply)
}

// infoLine is the connection in CLIENT LIST's format, with the fields the
// proxy knows and its own domain and listener at the end.
func (c *client) infoLine(now time.Time) string {
	sess, lib, ver := c.snapshot()
	laddr := ""
	if a := c.rc.NetConn().LocalAddr(); a != nil {
		laddr = a.String()
	}
	user := sess.User
	if user == "" {
		user = "default"
	}
	var b strings.Builder
	b.WriteString("id=" + strconv.FormatUint(sess.ID, 10))
	b.WriteString(" addr=" + sess.Addr)
	b.WriteString(" laddr=" + laddr)
	b.WriteString(" fd=-1 name=" + sess.Name)
	b.WriteString(" age=" + strconv.FormatInt(int64(now.Sub(c.created)/time.Second), 10))
	b.WriteString(" idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 obl=0 oll=0 omem=0 tot-mem=0 events=r")
	b.WriteString(" cmd=NULL")
	b.WriteString(" user=" + user)
	b.WriteString(" redir=-1 resp=" + strconv.Itoa(int(max(sess.Proto, 2))))
	b.WriteString(" lib-name=" + lib + " lib-ver=" + ver)
	b.WriteString(" domain=" + sess.Domain + " listener=" + sess.Listener)
	return b.String()
}

// clientUnblock answers CLIENT UNBLOCK id [TIMEOUT|ERROR] for a client of
// this proxy: its blocking command waits on a connection of its own, and
// Redis unblocks that connection as it would unblock the client.
func (c *client) clientUnblock(args [][]byte) {
	var mode []byte
	if len(args) > 4 {
		c.writeError("ERR syntax error")
		return
	}
	if len(args) == 4 {
		switch strings.ToUpper(string(args[3])) {
		case "TIMEOUT", "ERROR":
			mode = args[3]
		default:
			c.writeError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			return
		}
	}
	id, err := strconv.ParseUint(string(args[2]), 10, 64)
	if err != nil {
		c.writeError("ERR value is not an integer or out of range")
		return
	}
	x := c.srv.clientByID(id)
	if x == nil || !c.sameDomain(x) { // domainscope.go: as if there were no such client
		c.writeInt(0)
		return
	}
	d := x.blockedOn.Load()
	if d == nil {
		c.writeInt(0)
		return
	}
	c.write(d.Unblock(c.srv.ctx, mode))
}
