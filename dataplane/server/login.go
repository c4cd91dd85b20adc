package server

import (
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/server/tracking"
)

// Logging in on Redis itself. Under identity(redis_users = True), and
// behind keyway-proxy --upstream where no policy says who a client is, the
// users are Redis's: AUTH and HELLO AUTH are judged by Redis, with its
// words, and a client logged in
// as a user other than default runs every command as that user, on
// connections of its own (the tracking.Session it keeps, which opens one
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
		t = tracking.New(tracked{c}, c.srv.ctx)
	}
	if refusal := t.Login(args, func(t *tracking.Session) error { return c.openTracking(t, st) }); refusal != "" {
		return refusal
	}
	if legacy || strings.EqualFold(user, "default") {
		// The default user is what shared connections run as.
		if !t.Tracks() {
			t.Close()
			if c.tracker == t {
				c.tracker = nil
			}
			return ""
		}
	}
	c.tracker = t
	return ""
}

// loginArgs is the AUTH a dedicated connection of this client must run,
// nil when it runs as the proxy's own user.
func (c *client) loginArgs() [][]byte { return c.tracker.LoginArgs() }
