package server

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/server/answer"
)

// explain answers KEYWAY.EXPLAIN for the connection (answer.Explain).
func (c *client) explain(st *engine.State, args [][]byte) bool {
	out, msg := answer.Explain(c.out[:0], st, &c.sess, c.domainOf, errNoPolicy.Error(), args)
	c.out = out
	if msg != "" {
		c.writeError(msg)
		return true
	}
	c.write(out)
	return true
}
