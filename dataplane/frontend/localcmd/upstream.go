package localcmd

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
)

// command answers COMMAND with the upstream's own answer when the tree
// gives one, so client libraries that read it (redis-cli, cluster
// clients) see exactly what Redis would tell them: key specs, ACL
// categories, docs, and the commands of the server's version, byte for
// byte. When the policy or the upstream gives none, the proxy's command
// table answers, which is generated from redis-server's own reply; its
// key specs, ACL categories and docs come back empty.
func command(c Conn, st *engine.State, args [][]byte) bool {
	if st != nil && c.AskUpstream(st, args) {
		return true
	}
	b, refusal := answer.Command(c.Scratch(), args, resp3(c))
	if !refused(c, refusal) {
		c.Reply(b)
	}
	return true
}

// info answers INFO [section ...] with the upstream's INFO corrected by
// what the proxy knows (answer.Info).
func info(c Conn, st *engine.State, args [][]byte) bool {
	p := c.Proxy()
	p.Emulated = emulation(st, c) != nil
	p.RESP3 = resp3(c)
	p.Domain = c.Domain
	c.Reply(answer.Info(c.Scratch(), p, st, args, func() []byte { return c.UpstreamInfo(st, args) }))
	return true
}

// explain answers KEYWAY.EXPLAIN for the connection (answer.Explain).
func explain(c Conn, st *engine.State, args [][]byte) bool {
	out, msg := answer.Explain(c.Scratch(), st, c.Session(), c.Domain, answer.ErrNoPolicy.Error(), args)
	if !refused(c, msg) {
		c.Reply(out)
	}
	return true
}
