package frontend

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/observe"
)

// The connection's telemetry (observe.Conn), with the session's domain
// and rollout track filled in.

// track is the session's rollout track label.
func (c *client) track() string { return observe.Track(c.sess.Canary) }

// opened counts a newly accepted connection in the domain it would be
// placed in now, so an idle connection is counted where it belongs.
func (c *client) opened(st *engine.State) {
	if st != nil {
		c.domainOf(st)
	}
	c.meter.Opened(c.sess.Domain)
}

// moved counts a connection leaving domain from for domain to. It must be
// called before c.sess.Domain changes; before opened it does nothing.
func (c *client) moved(from, to string) { c.meter.Moved(from, to) }

// gone counts a closed connection out of its domain.
func (c *client) gone() {
	c.mu.Lock()
	d := c.sess.Domain
	c.mu.Unlock()
	c.meter.Gone(d)
}

// observeRun counts a served run.
func (c *client) observeRun(run engine.Batch) { c.meter.Run(run, c.sess.Domain, c.track()) }

// observeOne counts a command the server answered outside an engine run
// (connection-local, refused before dispatch, or on a pinned connection):
// its reply is what was written since written was before. An error reply
// counts as kind, since who produced it depends on the path.
func (c *client) observeOne(args [][]byte, reqBytes int, before int64, upstream string, kind engine.ErrorKind) {
	k := engine.KindNone
	if c.written > before && c.lastError {
		k = kind
	}
	c.meter.One(args, c.sess.Domain, c.track(), upstream, k, reqBytes, int(c.written-before))
}
