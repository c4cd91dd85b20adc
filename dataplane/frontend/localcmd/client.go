package localcmd

import (
	"strconv"
	"strings"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/resp"
)

// client answers the CLIENT subcommands that describe or name this
// connection. Those that act on other connections or on the server are
// refused: the proxy's clients are not Redis's clients.
func client(c Conn, st *engine.State, args [][]byte) bool {
	sub := strings.ToUpper(string(args[1]))
	if refused(c, answer.ClientArity(sub, len(args))) {
		return true
	}
	switch sub {
	case "ID":
		writeInt(c, int64(c.Session().ID))
	case "GETNAME":
		if name := c.Session().Name; name == "" {
			c.Reply(resp.AppendNull(c.Scratch(), resp3(c)))
		} else {
			writeBulk(c, []byte(name))
		}
	case "SETNAME":
		if setName(c, args[2]) {
			c.Write(okReply)
		}
	case "INFO":
		writeVerbatim(c, c.Line(time.Now())+"\n")
	case "LIST":
		writeVerbatim(c, c.List(time.Now()))
	case "SETINFO":
		setInfo(c, args[2], args[3])
	case "NO-EVICT", "NO-TOUCH":
		// Eviction and LRU are the upstream's business; accept the
		// setting so clients that send it keep working.
		switch strings.ToUpper(string(args[2])) {
		case "ON", "OFF":
			c.Write(okReply)
		default:
			c.WriteError("ERR syntax error")
		}
	case "HELP":
		c.Reply(answer.AppendClientHelp(c.Scratch()))
	case "TRACKING":
		c.Tracking(st, args)
	case "CACHING":
		if !refused(c, c.Tracker().Caching(args[2])) {
			c.Write(okReply)
		}
	case "GETREDIR":
		// The target's id, 0 when tracking without one, -1 when not
		// tracking.
		writeInt(c, c.Tracker().Redirect())
	case "TRACKINGINFO":
		trackingInfo(c)
	case "REPLY":
		reply(c, args)
	case "UNBLOCK":
		unblock(c, args)
	case "KILL", "PAUSE", "UNPAUSE":
		c.WriteError("ERR keyway: CLIENT " + sub + " is not supported by the proxy")
	default:
		c.WriteError("ERR unknown subcommand '" + answer.Truncate(string(args[1]), 128) + "'. Try CLIENT HELP.")
	}
	return true
}

// reply answers CLIENT REPLY ON|OFF|SKIP as Redis does: OFF and SKIP are
// not answered, SKIP drops the next command's reply, OFF every reply
// until ON. The commands still run.
func reply(c Conn, args [][]byte) {
	switch strings.ToUpper(string(args[2])) {
	case "ON":
		c.SetReplies(RepliesOn)
		c.Write(okReply)
	case "OFF":
		c.SetReplies(RepliesOff)
	case "SKIP":
		c.SetReplies(RepliesSkip)
	default:
		c.WriteError("ERR syntax error")
	}
}

func setInfo(c Conn, attr, value []byte) {
	if !answer.ValidName(value) {
		c.WriteError("ERR " + strings.ToUpper(string(attr)) + " cannot contain spaces, newlines or special characters.")
		return
	}
	switch strings.ToUpper(string(attr)) {
	case "LIB-NAME":
		c.SetLib(false, string(value))
	case "LIB-VER":
		c.SetLib(true, string(value))
	default:
		c.WriteError("ERR Unrecognized option '" + string(attr) + "'")
		return
	}
	c.Write(okReply)
}

// unblock answers CLIENT UNBLOCK id [TIMEOUT|ERROR] for a client of this
// proxy: its blocking command waits on a connection of its own, and
// Redis unblocks that connection as it would unblock the client.
func unblock(c Conn, args [][]byte) {
	var mode []byte
	if len(args) > 4 {
		c.WriteError("ERR syntax error")
		return
	}
	if len(args) == 4 {
		switch strings.ToUpper(string(args[3])) {
		case "TIMEOUT", "ERROR":
			mode = args[3]
		default:
			c.WriteError("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			return
		}
	}
	id, err := strconv.ParseUint(string(args[2]), 10, 64)
	if err != nil {
		c.WriteError("ERR value is not an integer or out of range")
		return
	}
	if b := c.Unblock(id, mode); b != nil {
		c.Write(b)
		return
	}
	writeInt(c, 0)
}

// trackingInfo answers CLIENT TRACKINGINFO in Redis's shape.
func trackingInfo(c Conn) {
	flags, redirect, prefixes := c.Tracker().Info()
	resp3 := resp3(c)
	b := resp.AppendMap(c.Scratch(), 3, resp3)
	b = resp.AppendBulkString(b, "flags")
	b = resp.AppendSet(b, len(flags), resp3)
	for _, f := range flags {
		b = resp.AppendBulkString(b, f)
	}
	b = resp.AppendBulkString(b, "redirect")
	b = resp.AppendInt(b, redirect)
	b = resp.AppendBulkString(b, "prefixes")
	b = resp.AppendArray(b, len(prefixes))
	for _, p := range prefixes {
		b = resp.AppendBulkString(b, p)
	}
	c.Reply(b)
}
