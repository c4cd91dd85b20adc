package server

import "keyway.dev/dataplane/server/push"

// startOutbox hands the socket to an outbox: replies buffered so far go
// out first, and from then on every write joins the outbox's queue. The
// idle timeout is off while it runs, as Redis never times out a
// subscribed client.
func (c *client) startOutbox() error {
	if c.box != nil {
		return nil
	}
	if err := c.dc.Flush(); err != nil {
		return err
	}
	c.pending = 0
	c.box = push.NewOutbox(c.rc.NetConn(), c.srv.cfg.Limits.MaxPubSubOutput)
	c.boxRef.Store(c.box)
	c.idleExempt(true)
	return nil
}

// stopOutbox gives the socket back to the client goroutine once nothing
// pushes to it any more: no subscription and no tracking that delivers
// to this connection.
func (c *client) stopOutbox() {
	if c.box == nil || c.sub != nil || c.tracker.Pushes() {
		return
	}
	c.boxRef.Store(nil)
	c.box.Stop()
	c.box = nil
	c.idleExempt(false)
}
