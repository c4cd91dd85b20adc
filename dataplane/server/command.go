package server

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/answer"
)

// command answers COMMAND with the upstream's own answer when the tree
// gives one, so client libraries that read it (redis-cli, cluster
// clients) see exactly what Redis would tell them. When the policy or the
// upstream gives none, the proxy's command table answers, which is
// generated from redis-server's own reply; its key specs, ACL categories
// and docs come back empty.
func (c *client) command(st *engine.State, args [][]byte) bool {
	if st != nil && c.commandUpstream(st, args) {
		return true
	}
	b, refusal := answer.Command(c.out[:0], args, c.resp3())
	if refusal != "" {
		c.writeError(refusal)
		return true
	}
	c.out = b
	c.write(b)
	return true
}

// commandUpstream asks the upstream for COMMAND through the tree, so the
// answer is Redis's own, byte for byte (key specs, ACL categories, docs,
// and the commands of the server's version). It returns false when the
// policy or the upstream did not answer, and the proxy's table answers.
func (c *client) commandUpstream(st *engine.State, args [][]byte) bool {
	return c.askUpstream(st, args)
}

// askUpstream serves a command the proxy could answer itself through the
// tree instead, so the client gets what Redis says, and writes the reply;
// false when the policy sends it nowhere, the client has not
// authenticated, or no upstream answered, and the caller answers.
func (c *client) askUpstream(st *engine.State, args [][]byte) bool {
	if st == nil || (st.Proxy.GetIdentity().GetRequireAuth() && !c.authed) {
		return false
	}
	r := &engine.Request{Session: &c.sess}
	r.Cmd.Args = args
	r.Cmd.Spec = resp.Resolve(args)
	if r.Cmd.Spec == nil {
		return false
	}
	c.serveOne(st, r)
	raw := r.Raw()
	if r.Kind() == engine.KindRefused || r.Kind() == engine.KindProxy || r.Kind() == engine.KindTimeout || len(raw) == 0 {
		return false
	}
	c.write(raw)
	return true
}
