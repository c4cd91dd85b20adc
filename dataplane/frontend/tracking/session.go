package tracking

import (
	"bytes"
	"context"
	"strconv"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

var _ engine.Pin = (*Session)(nil)

// New returns a session that tracks nothing, for a client that logs in
// on Redis itself (Login).
func New(c Client, ctx context.Context) *Session {
	return &Session{c: c, ctx: ctx, conns: map[*upstream.Node]*tconn{}}
}

// On reads CLIENT TRACKING ON [options] (args is the whole command) into
// a new session for c, which keeps prev's login. target finds a client of
// the proxy by id for REDIRECT, nil when there is none. It returns the
// refusal to answer instead, in Redis's words, when the options are
// wrong; Redis itself judges the rest (Replace, Open).
func On(c Client, ctx context.Context, prev *Session, args [][]byte, target func(id uint64) Client) (*Session, string) {
	next := &Session{c: c, ctx: ctx, on: true, args: [][]byte{[]byte("CLIENT"), []byte("TRACKING"), []byte("ON")}}
	if prev != nil {
		next.auth = prev.auth
	}
	for i := 3; i < len(args); i++ {
		opt := strings.ToUpper(string(args[i]))
		switch {
		case opt == "REDIRECT" && i+1 < len(args):
			id, err := strconv.ParseUint(string(args[i+1]), 10, 64)
			if err != nil {
				return nil, "ERR value is not an integer or out of range"
			}
			next.redirect = id
			i++
			continue
		case opt == "PREFIX" && i+1 < len(args):
			next.prefixes = append(next.prefixes, string(args[i+1]))
			next.args = append(next.args, []byte("PREFIX"), bytes.Clone(args[i+1]))
			i++
			continue
		case opt == "BCAST":
			next.bcast = true
		case opt == "OPTIN":
			next.optin = true
		case opt == "OPTOUT":
			next.optout = true
		case opt == "NOLOOP":
			next.noloop = true
		}
		next.args = append(next.args, bytes.Clone(args[i]))
	}
	if next.redirect != 0 {
		if next.target = target(next.redirect); next.target == nil {
			return nil, "ERR The client ID you want redirect to does not exist"
		}
	}
	return next, ""
}

// Replace makes t the client's tracking in place of old (nil: none). It
// takes over old's connections when it can and sends them the new
// options, returning Redis's refusal; fresh is set when t starts without
// connections, and the caller opens the first (Open) so that Redis
// judges the options now, as it would answer CLIENT TRACKING.
func (t *Session) Replace(old *Session) (fresh bool, err error) {
	if old != nil && old.on && len(old.conns) > 0 && old.redirect == 0 && t.redirect != 0 {
		// A sink cannot be added to a connection already tracking;
		// start over, and tell the client its cache is void.
		old.Reopen()
		old = nil
	}
	if old == nil {
		t.conns = map[*upstream.Node]*tconn{}
		return true, nil
	}
	t.conns = old.conns
	for _, tc := range old.conns {
		tc.tr.Store(t)
	}
	if err := t.sendAll(); err != nil {
		for _, tc := range t.conns {
			tc.tr.Store(old)
		}
		return false, err
	}
	return false, nil
}

// Probe is the command whose route picks the node Open opens first: a
// keyless one (CLIENT TRACKING itself, or the login's AUTH).
func (t *Session) Probe() [][]byte {
	if t.args != nil {
		return t.args
	}
	return t.auth
}

// Open opens the connection on the node of up that keyless commands go
// to, with tracking on and logged in.
func (t *Session) Open(up engine.Upstream) error {
	node, err := nodeFor(t.ctx, up, nil)
	if err != nil {
		return err
	}
	_, err = t.conn(node, up.Name())
	return err
}

// Off ends tracking but keeps the connections of a session that logs in
// on Redis (LoginArgs), in a new session it returns.
func (t *Session) Off() *Session {
	off := &Session{c: t.c, ctx: t.ctx, auth: t.auth, conns: t.conns}
	for _, tc := range t.conns {
		tc.tr.Store(off)
	}
	for node, tc := range t.conns {
		if reply, err := tc.do([][]byte{[]byte("CLIENT"), []byte("TRACKING"), []byte("OFF")}); err != nil || resp.IsError(reply) {
			tc.discard()
			delete(off.conns, node)
		}
	}
	return off
}

// Login logs the session in on Redis with args (an AUTH): every
// connection it has at once, or, with none yet, the first, which open
// opens (it routes Probe and calls Open). It returns Redis's refusal, or
// "". A refused login leaves the session as it was, as Redis does.
func (t *Session) Login(args [][]byte, open func(*Session) error) string {
	if len(t.conns) > 0 {
		// Already on connections of its own: log each in anew.
		for node, tc := range t.conns {
			reply, err := tc.do(args)
			switch {
			case err != nil:
				tc.discard()
				delete(t.conns, node)
			case resp.IsError(reply):
				return resp.LineText(reply)
			}
		}
	} else {
		prev := t.auth
		t.auth = args
		if err := open(t); err != nil {
			t.auth = prev
			return err.Error()
		}
		if len(t.conns) == 0 {
			t.auth = prev
			return "ERR keyway: the policy sends AUTH to no upstream"
		}
	}
	t.auth = args
	return ""
}

// LoginArgs is the AUTH every dedicated connection of the client must
// run, nil when it runs as the proxy's own user.
func (t *Session) LoginArgs() [][]byte {
	if t == nil {
		return nil
	}
	return t.auth
}

// Caching applies CLIENT CACHING YES|NO to the next command, with Redis's
// rules; it returns the refusal, or "".
func (t *Session) Caching(arg []byte) string {
	switch strings.ToUpper(string(arg)) {
	case "YES":
		if !t.Tracks() || !t.optin {
			return "ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode."
		}
		t.caching = 'y'
	case "NO":
		if !t.Tracks() || !t.optout {
			return "ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode."
		}
		t.caching = 'n'
	default:
		return "ERR syntax error"
	}
	return ""
}

// Redirect is CLIENT GETREDIR's answer: the target's id, 0 when tracking
// without one, -1 when not tracking.
func (t *Session) Redirect() int64 {
	if !t.Tracks() {
		return -1
	}
	return int64(t.redirect)
}

// Info is CLIENT TRACKINGINFO's answer: the flags in Redis's order, the
// redirect (as Redirect) and the prefixes.
func (t *Session) Info() (flags []string, redirect int64, prefixes []string) {
	if !t.Tracks() {
		return []string{"off"}, -1, nil
	}
	flags = append(flags, "on")
	for _, f := range []struct {
		on   bool
		name string
	}{{t.bcast, "bcast"}, {t.optin, "optin"}, {t.optout, "optout"}, {t.caching == 'y', "caching-yes"}, {t.caching == 'n', "caching-no"}, {t.noloop, "noloop"}, {t.broken.Load(), "broken_redirect"}} {
		if f.on {
			flags = append(flags, f.name)
		}
	}
	return flags, int64(t.redirect), t.prefixes
}

// proto is the RESP version the client's connections speak.
func (t *Session) proto() uint8 {
	if t.c.RESP3() {
		return 3
	}
	return 2
}
