package frontend

// proto is the session's RESP version, 2 or 3.
func (c *client) proto() uint8 {
	if c.sess.Proto == 3 {
		return 3
	}
	return 2
}

// resp3 reports whether the client speaks RESP3.
func (c *client) resp3() bool { return c.sess.Proto == 3 }

// SetProto switches the session to RESP version proto, and the
// dedicated connection it holds with it (connstate.State.SetProto).
func (c *client) SetProto(proto uint8) bool {
	if proto == c.proto() {
		return true
	}
	return c.cs.SetProto(proto, func() {
		c.mu.Lock()
		c.sess.Proto = proto
		c.mu.Unlock()
	})
}
