package server

import (
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Observer is told about every command the server answers and about the
// workload domain of every connection. *telemetry.Recorder implements it;
// the server does not import telemetry so that it stays testable alone.
//
// Methods are called on the connection's goroutine, after the replies of
// a run are final and before they are flushed, so they must not block.
type Observer interface {
	// Observe counts one answered command: its domain, rollout track
	// ("stable" or "canary"), canonical name (resp's Spec.Name or
	// "UNKNOWN"), the upstream that answered ("" when the proxy did), the
	// error kind of the reply, request and reply sizes in bytes, and the
	// time from reading its pipeline to answering it.
	Observe(domain, track, command, upstream string, kind engine.ErrorKind, reqBytes, replyBytes int, latency time.Duration)
	// ObserveKey offers the first key of a forwarded command; the
	// observer samples.
	ObserveKey(domain string, key []byte)
	// ConnOpened and ConnClosed bracket a connection's stay in a domain:
	// from accept (or the AUTH or SETNAME that moved it in) to close (or
	// the move out). Before any policy a connection is in domain "".
	ConnOpened(domain string)
	ConnClosed(domain string)
}

// nopObserver is the Observer of a server without telemetry.
type nopObserver struct{}

func (nopObserver) Observe(string, string, string, string, engine.ErrorKind, int, int, time.Duration) {
}
func (nopObserver) ObserveKey(string, []byte) {}
func (nopObserver) ConnOpened(string)         {}
func (nopObserver) ConnClosed(string)         {}

// Tracks are the rollout track labels.
const (
	TrackStable = "stable"
	TrackCanary = "canary"
)

// track is the session's rollout track label.
func (c *client) track() string {
	if c.sess.Canary {
		return TrackCanary
	}
	return TrackStable
}

// opened counts a newly accepted connection in the domain it would be
// placed in now, so an idle connection is counted where it belongs.
func (c *client) opened(st *engine.State) {
	if st != nil {
		c.domainOf(st)
	}
	c.counted = true
	c.srv.obs.ConnOpened(c.sess.Domain)
}

// moved counts a connection leaving domain from for domain to. It must be
// called before c.sess.Domain changes; before opened it does nothing.
func (c *client) moved(from, to string) {
	if !c.counted {
		return
	}
	c.srv.obs.ConnClosed(from)
	c.srv.obs.ConnOpened(to)
}

// gone counts a closed connection out of its domain.
func (c *client) gone() {
	if !c.counted {
		return
	}
	c.counted = false
	c.mu.Lock()
	d := c.sess.Domain
	c.mu.Unlock()
	c.srv.obs.ConnClosed(d)
}

// setSize records the request size of the i-th command of the run being
// built, index for index with c.reqs.
func (c *client) setSize(i, n int) {
	for i >= len(c.sizes) {
		c.sizes = append(c.sizes, 0)
	}
	c.sizes[i] = n
}

// observeRun counts a served run. Latency is measured once per run, from
// the moment its pipeline was read: per-request clocks would cost more
// than the counting, and requests of one run are answered together.
func (c *client) observeRun(run engine.Batch) {
	lat := time.Since(c.readAt)
	domain, track := c.sess.Domain, c.track()
	obs := c.srv.obs
	for i, r := range run {
		obs.Observe(domain, track, r.Cmd.Name(), r.Upstream, r.Kind(), c.sizes[i], len(r.Raw()), lat)
		if key := c.firstKey(&r.Cmd); key != nil {
			obs.ObserveKey(domain, key)
		}
	}
	c.traceRun(run, c.readAt.Add(lat)) // trace.go
}

// firstKey is the command's first key, or nil. Fixed positions are read
// directly; only movable-key commands pay for the key walk.
func (c *client) firstKey(cmd *resp.Command) []byte {
	s := cmd.Spec
	switch {
	case s == nil:
		return nil
	case s.Keys == nil:
		if s.FirstKey > 0 && s.Step > 0 && s.FirstKey < len(cmd.Args) {
			return cmd.Args[s.FirstKey]
		}
		return nil
	}
	c.keys = cmd.Keys(c.keys[:0])
	if len(c.keys) == 0 {
		return nil
	}
	return cmd.Args[c.keys[0]]
}

// observeOne counts a command the server answered outside an engine run
// (connection-local, refused before dispatch, or on a pinned connection):
// its reply is what was written since written was before. An error reply
// counts as kind, since who produced it depends on the path.
func (c *client) observeOne(args [][]byte, reqBytes int, before int64, upstream string, kind engine.ErrorKind) {
	k := engine.KindNone
	if c.written > before && c.lastError {
		k = kind
	}
	name := "UNKNOWN"
	if s := resp.Resolve(args); s != nil {
		name = s.Name
	}
	c.srv.obs.Observe(c.sess.Domain, c.track(), name, upstream, k, reqBytes, int(c.written-before), time.Since(c.readAt))
	c.traceOne(name, upstream, k) // trace.go
}
