package server

import (
	"strconv"
	"strings"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/answer"
)

// clientCmd answers the CLIENT subcommands that describe or name this
// connection. Those that act on other connections or on the server are
// refused: the proxy's clients are not Redis's clients.
func (c *client) clientCmd(st *engine.State, args [][]byte) bool {
	sub := strings.ToUpper(string(args[1]))
	if msg := answer.ClientArity(sub, len(args)); msg != "" {
		c.writeError(msg)
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
		c.out = answer.AppendClientHelp(c.out[:0])
		c.write(c.out)
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
	if !answer.ValidName(name) {
		c.writeError("ERR Client names cannot contain spaces, newlines or special characters.")
		return false
	}
	c.mu.Lock()
	c.sess.Name = string(name)
	c.mu.Unlock()
	c.forgetDomain()
	return true
}

func (c *client) setInfo(attr, value []byte) {
	if !answer.ValidName(value) {
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

// infoLine is the connection in CLIENT LIST's format (answer.ClientLine).
func (c *client) infoLine(now time.Time) string {
	sess, lib, ver := c.snapshot()
	laddr := ""
	if a := c.rc.NetConn().LocalAddr(); a != nil {
		laddr = a.String()
	}
	return answer.ClientLine(sess, lib, ver, laddr, now.Sub(c.created))
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
