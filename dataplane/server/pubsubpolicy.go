package server

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/dedicated"
)

// subscribedRefusal asks the tree about a channel command a subscribed
// client sends, which goes straight to its subscribed connection rather
// than through the engines: the policy's refusal (a channel outside the
// domain's channel_prefixes, say) as the error to answer, or "". Only
// the first subscribing command took the tree's path; without this, the
// next SUBSCRIBE would reach any channel.
func (c *client) subscribedRefusal(st *engine.State, cmd *resp.Command) string {
	if st == nil || resp.KeyAccessOf(cmd) != resp.AccessChannels {
		return ""
	}
	tree := c.treeOf(st)
	if tree == nil {
		return ""
	}
	r := &engine.Request{Cmd: *cmd, Session: &c.sess}
	if _, err := dedicated.UpstreamFor(tree.Root, r); err != nil {
		return err.Error()
	}
	return ""
}

// refuseSubscribed answers a refused command of a subscribed client in
// its place among the replies: a marker first, so every frame Redis owes
// for the commands before it is queued ahead of the error.
func (c *client) refuseSubscribed(msg string) bool {
	r := c.sub
	if err := c.pin.Conn().Send(r.Marker()); err != nil {
		return c.lose(err)
	}
	subscribed, ok := r.Await()
	if !ok {
		return c.lose(c.box.Err())
	}
	c.writeError(msg)
	if !subscribed {
		c.unsubscribed()
	}
	return true
}
