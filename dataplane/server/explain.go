package server

import (
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// explain answers KEYWAY.EXPLAIN command args...: the path the command
// would take through this connection's tree, one step a line, without
// sending it anywhere.
func (c *client) explain(st *engine.State, args [][]byte) bool {
	r := &engine.Request{Session: &c.sess}
	r.Cmd.Args = args[1:]
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	if out, refused := resp.AppendRefusal(c.out[:0], &r.Cmd); refused {
		c.out = out
		c.write(out)
		return true
	}
	if st == nil {
		c.writeError(errNoPolicy.Error())
		return true
	}
	tree := c.treeOf(st)
	if tree == nil {
		c.writeError("ERR keyway: workload domain \"" + c.sess.Domain + "\" has no policy")
		return true
	}
	x := engine.Explain(tree.Root, r)
	lines := strings.Split(strings.TrimSuffix(x.String(), "\n"), "\n")
	b := resp.AppendArray(c.out[:0], len(lines))
	for _, l := range lines {
		b = resp.AppendBulkString(b, l)
	}
	c.out = b
	c.write(b)
	return true
}
