package server

import (
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/upstream"
)

// Logging in on Redis itself. Under identity(redis_users = True), and
// behind keyway-proxy --upstream where no policy says who a client is, the
// users are Redis's: AUTH and HELLO AUTH are judged by Redis, with its
// words, and a client logged in
// as a user other than default runs every command as that user, on
// connections of its own (the session tracking.go keeps, which opens one
// per node the client's commands reach and logs each in), and its
// transactions, blocking commands and subscriptions likewise. Shared
// connections stay the proxy's own, logged in as default.

// upstreamLogin logs the client in on Redis as user (legacy: AUTH
// password alone, the default user) and returns Redis's refusal, or "".
// A refused login leaves the client as it was, as Redis does.
func (c *client) upstreamLogin(st *engine.State, user, pass string, legacy bool) string {
	args := [][]byte{[]byte("AUTH"), []byte(pass)}
	if !legacy {
		args = [][]byte{[]byte("AUTH"), []byte(user), []byte(pass)}
	}
	t := c.tracker
	if t == nil {
		t = &tracking{c: c, conns: map[*upstream.Node]*tconn{}}
	}
	if len(t.conns) > 0 {
		// Already on connections of its own: log each in anew.
		for node, tc := range t.conns {
			reply, err := tc.do(args)
			switch {
			case err != nil:
				tc.discard()
				delete(t.conns, node)
			case isErrorReply(reply):
				return trimReply(reply)
			}
		}
	} else {
		prev := t.auth
		t.auth = args
		if err := t.validate(st); err != nil {
			t.auth = prev
			return err.Error()
		}
		if len(t.conns) == 0 {
			t.auth = prev
			return "ERR keyway: the policy sends AUTH to no upstream"
		}
	}
	if legacy || strings.EqualFold(user, "default") {
		// The default user is what shared connections run as.
		if !t.on {
			t.close()
			if c.tracker == t {
				c.tracker = nil
			}
			return ""
		}
	}
	t.auth = args
	c.tracker = t
	return ""
}

// loginArgs is the AUTH a dedicated connection of this client must run,
// nil when it runs as the proxy's own user.
func (c *client) loginArgs() [][]byte {
	if c.tracker != nil {
		return c.tracker.auth
	}
	return nil
}
