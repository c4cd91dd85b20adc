package answer

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Explain answers KEYWAY.EXPLAIN [DOMAIN name] command args... for the
// connection of sess: the path the command would take through a domain's
// tree, one step a line, without sending it anywhere. It appends the
// reply to b, or returns the error to write instead. The domain is the
// connection's own (own, asked only once a policy is there) unless
// DOMAIN names another; no Redis command is called DOMAIN, and commands
// a policy adds are all KEYWAY.*, so the keyword cannot hide a command.
// noPolicy is the error while st is nil.
//
// Explaining another domain shows that domain's policy (engine kinds,
// routes, upstream names), never data or credentials. When the policy
// requires AUTH, domains are tenants kept apart by their passwords, so a
// connection may explain only its own; without AUTH any client can reach
// any domain (by CLIENT SETNAME or by listener) and nothing is hidden by
// refusing.
func Explain(b []byte, st *engine.State, sess *engine.Session, own func(*engine.State) string, noPolicy string, args [][]byte) ([]byte, string) {
	args = args[1:]
	var named string
	if len(args) >= 2 && bytes.EqualFold(args[0], []byte("DOMAIN")) {
		named, args = string(args[1]), args[2:]
	}
	if len(args) == 0 {
		return b, ArityError("keyway.explain")
	}
	r := &engine.Request{Session: sess}
	r.Cmd.Args = args
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	if out, refused := resp.AppendRefusal(b, &r.Cmd); refused {
		return out, ""
	}
	if st == nil {
		return b, noPolicy
	}
	mine := own(st)
	domain := mine
	if named != "" {
		domain = named
	}
	if domain != mine && st.Proxy.GetIdentity().GetRequireAuth() {
		return b, fmt.Sprintf("NOPERM keyway: this connection may explain only its own workload domain %q", mine)
	}
	d := st.Domains[domain]
	if d == nil {
		if named != "" {
			return b, fmt.Sprintf("ERR keyway: no workload domain %q (domains: %s)", domain, strings.Join(domainNames(st), ", "))
		}
		return b, "ERR keyway: workload domain \"" + domain + "\" has no policy"
	}
	// The same stable or canary tree the connection's commands would take
	// in that domain: the bucket depends only on the connection.
	tree, canary := d.TreeFor(sess)
	x := engine.Explain(tree.Root, r)
	lines := strings.Split(strings.TrimSuffix(x.String(), "\n"), "\n")
	if named != "" {
		track := "stable"
		if canary {
			track = "canary"
		}
		lines = append([]string{fmt.Sprintf("domain %s (%s tree, policy %s)", domain, track, tree.Version)}, lines...)
	}
	b = resp.AppendArray(b, len(lines))
	for _, l := range lines {
		b = resp.AppendBulkString(b, l)
	}
	return b, ""
}

func domainNames(st *engine.State) []string {
	names := make([]string, 0, len(st.Domains))
	for n := range st.Domains {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
