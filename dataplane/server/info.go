package server

import (
	"bytes"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/answer"
)

// info answers INFO [section ...] with the upstream's INFO corrected by
// what the proxy knows (answer.Info).
func (c *client) info(st *engine.State, args [][]byte) bool {
	s := c.srv
	p := answer.Proxy{
		RedisVersion: s.cfg.RedisVersion,
		Version:      s.cfg.Version,
		NodeID:       s.cfg.NodeID,
		Start:        s.start,
		Clients:      s.nclients.Load(),
		Blocked:      s.blocked.Load(),
		MaxClients:   s.cfg.Limits.MaxClients,
		Emulated:     c.emulation(st) != nil,
		RESP3:        c.resp3(),
		Domain:       c.domainOf,
	}
	c.out = answer.Info(c.out[:0], p, st, args, func() []byte { return c.upstreamInfo(st, args) })
	c.write(c.out)
	return true
}

// upstreamInfo sends the client's INFO through its domain's tree and
// returns the reply, or nil when there is none to use.
func (c *client) upstreamInfo(st *engine.State, args [][]byte) []byte {
	if st == nil {
		return nil
	}
	r := &engine.Request{Session: &c.sess}
	for _, a := range args {
		r.Cmd.Args = append(r.Cmd.Args, bytes.Clone(a))
	}
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	c.serveRun(st, engine.Batch{r})
	if !r.Done() || r.Err() != nil || resp.IsError(r.Raw()) {
		return nil
	}
	return r.Raw()
}
