package render

import (
	"strings"

	"go.starlark.net/starlark"

	"keyway.dev/policy/commandnames"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinDomain declares a workload domain and its engine tree:
// domain(name, engine, allow_admin_commands = []).
func builtinDomain(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var name string
	var engine starlark.Value = starlark.None
	var admin starlark.Value = starlark.None
	if err := unpack(fn.Name(), args, kwargs, "name", &name, "engine?", &engine, "allow_admin_commands?", &admin); err != nil {
		return nil, err
	}
	root, err := c.child("engine", engine)
	if err != nil {
		return nil, err
	}
	if root == nil {
		c.errorf("domain %q has no engine (give an engine or an upstream as its second argument)", name)
	}
	allow, err := c.adminCommands("allow_admin_commands", admin)
	if err != nil {
		return nil, err
	}
	c.declare("domain", name, c.st.domains)
	c.st.policy.Domains = append(c.st.policy.Domains, &keywayv1.DomainPolicy{Name: name, Root: root, Source: c.source(), AllowAdminCommands: allow})
	return starlark.None, nil
}

// adminCommands reads the admin commands a domain allows, in the command
// table's spelling, so the proxy compares names exactly. A name that is
// not an admin command is an error rather than a no-op: the author
// believes it fences or opens something, and it does neither.
func (c *call) adminCommands(arg string, v starlark.Value) ([]string, error) {
	names, err := c.strs(arg, v)
	if err != nil {
		return nil, err
	}
	out := names[:0]
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "*" {
			out = append(out, n)
			continue
		}
		canon, err := commandnames.Canonical(strings.ReplaceAll(n, " ", "|"))
		if err != nil {
			c.errorf("%s: %v", arg, err)
			continue
		}
		if !commandnames.Admin(canon) {
			c.errorf("%s: %s is not an admin command; only server-mutating and relay commands need allowing (%s)", arg, canon, strings.Join(commandnames.AdminNames(), ", "))
			continue
		}
		out = append(out, canon)
	}
	return out, nil
}
