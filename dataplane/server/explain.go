package server

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// explain answers KEYWAY.EXPLAIN [DOMAIN name] command args...: the path
// the command would take through a domain's tree, one step a line,
// without sending it anywhere. The domain is the connection's own unless
// DOMAIN names another; no Redis command is called DOMAIN, and commands
// a policy adds are all KEYWAY.*, so the keyword cannot hide a command.
//
// Explaining another domain shows that domain's policy (engine kinds,
// routes, upstream names), never data or credentials. When the policy
// requires AUTH, domains are tenants kept apart by their passwords, so a
// connection may explain only its own; without AUTH any client can reach
// any domain (by CLIENT SETNAME or by listener) and nothing is hidden by
// refusing.
func (c *client) explain(st *engine.State, args [][]byte) bool {
	args = args[1:]
	var named string
	if len(args) >= 2 && bytes.EqualFold(args[0], []byte("DOMAIN")) {
		named, args = string(args[1]), args[2:]
	}
	if len(args) == 0 {
		c.writeError("ERR wrong number of arguments for 'keyway.explain' command")
		return true
	}
	r := &engine.Request{Session: &c.sess}
	r.Cmd.Args = args
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
	own := c.domainOf(st)
	domain := own
	if named != "" {
		domain = named
	}
	if domain != own && st.Proxy.GetIdentity().GetRequireAuth() {
		c.writeError(fmt.Sprintf("NOPERM keyway: this connection may explain only its own workload domain %q", own))
		return true
	}
	d := st.Domains[domain]
	if d == nil {
		if named != "" {
			c.writeError(fmt.Sprintf("ERR keyway: no workload domain %q (domains: %s)", domain, strings.Join(domainNames(st), ", ")))
		} else {
			c.writeError("ERR keyway: workload domain \"" + domain + "\" has no policy")
		}
		return true
	}
	// The same stable or canary tree the connection's commands would take
	// in that domain: the bucket depends only on the connection.
	tree, canary := d.TreeFor(&c.sess)
	x := engine.Explain(tree.Root, r)
	lines := strings.Split(strings.TrimSuffix(x.String(), "\n"), "\n")
	if named != "" {
		track := "stable"
		if canary {
			track = "canary"
		}
		lines = append([]string{fmt.Sprintf("domain %s (%s tree, policy %s)", domain, track, tree.Version)}, lines...)
	}
	b := resp.AppendArray(c.out[:0], len(lines))
	for _, l := range lines {
		b = resp.AppendBulkString(b, l)
	}
	c.out = b
	c.write(b)
	return true
}

func domainNames(st *engine.State) []string {
	names := make([]string, 0, len(st.Domains))
	for n := range st.Domains {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
