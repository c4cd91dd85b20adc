package render

import (
	"encoding/hex"
	"strings"

	"go.starlark.net/starlark"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinIdentity says how a connection finds its workload domain:
// identity(default_domain=None, users=[], client_names={}, certificates={},
// require_auth=False, redis_users=False). A policy has at most one.
func builtinIdentity(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	id := &keywayv1.Identity{}
	var users *starlark.List
	var names, certs *starlark.Dict
	if err := unpack(fn.Name(), args, kwargs,
		"default_domain?", &id.DefaultDomain, "users?", &users, "client_names?", &names,
		"certificates?", &certs, "require_auth?", &id.RequireAuth, "redis_users?", &id.RedisUsers); err != nil {
		return nil, err
	}
	if c.st.identity != "" {
		c.errorf("declared twice (first at %s); a policy has one identity", c.st.identity)
	}
	c.st.identity = c.source()
	if id.DefaultDomain != "" {
		c.domainRef("default_domain", id.DefaultDomain)
	}
	if users != nil {
		seen := map[string]bool{}
		for i := range users.Len() {
			u, ok := users.Index(i).(*object[*keywayv1.User])
			if !ok {
				return nil, c.typeErr("users", "a list of user(...)", users.Index(i))
			}
			if seen[u.msg.GetName()] {
				c.errorf("users: duplicate user %q", u.msg.GetName())
			}
			seen[u.msg.GetName()] = true
			id.Users = append(id.Users, clone(u.msg))
		}
	}
	var err error
	if id.ClientNames, err = c.nameRules("client_names", names); err != nil {
		return nil, err
	}
	if id.Certificates, err = c.nameRules("certificates", certs); err != nil {
		return nil, err
	}
	if id.RequireAuth && len(id.Users) == 0 {
		c.errorf("require_auth=True but no users= (nobody could authenticate)")
	}
	if id.RedisUsers && (len(id.Users) > 0 || id.RequireAuth) {
		c.errorf("redis_users=True lets Redis judge AUTH; it cannot be combined with users= or require_auth=True, which make the proxy the judge")
	}
	c.st.policy.Identity = id
	return starlark.None, nil
}

// nameRules reads a {name: domain} dict in the order written.
func (c *call) nameRules(arg string, d *starlark.Dict) ([]*keywayv1.NameRule, error) {
	if d == nil {
		return nil, nil
	}
	out := make([]*keywayv1.NameRule, 0, d.Len())
	for _, kv := range d.Items() {
		match, ok1 := starlark.AsString(kv[0])
		domain, ok2 := starlark.AsString(kv[1])
		if !ok1 || !ok2 {
			return nil, c.typeErr(arg, "a dict of strings {name: domain}", d)
		}
		if match == "" {
			c.errorf("%s: empty name", arg)
		}
		c.domainRef(arg, domain)
		out = append(out, &keywayv1.NameRule{Match: match, Domain: domain})
	}
	return out, nil
}

// domainRef records a domain name to resolve once every domain is known.
func (c *call) domainRef(arg, name string) {
	c.st.domainRefs = append(c.st.domainRefs, ref{name: name, pos: c.source(), what: c.name + ": " + arg})
}

// builtinUser is an AUTH user of identity(): user(name,
// password_sha256=[...], domain=None). Hashes are hex SHA-256, so the
// policy never holds a password.
func builtinUser(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	u := &keywayv1.User{}
	var hashes starlark.Value = starlark.None
	if err := unpack(fn.Name(), args, kwargs,
		"name", &u.Name, "password_sha256?", &hashes, "domain?", &u.Domain); err != nil {
		return nil, err
	}
	if u.Name == "" {
		c.errorf("user name is empty")
	}
	var err error
	if u.PasswordSha256, err = c.strs("password_sha256", hashes); err != nil {
		return nil, err
	}
	if len(u.PasswordSha256) == 0 {
		c.errorf("password_sha256= is required (hex SHA-256 of each accepted password)")
	}
	for i, h := range u.PasswordSha256 {
		h = strings.ToLower(h)
		if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
			c.errorf("password_sha256: %q is not a hex SHA-256 (64 hex digits)", h)
		}
		u.PasswordSha256[i] = h
	}
	if u.Domain != "" {
		c.domainRef("domain", u.Domain)
	}
	return &object[*keywayv1.User]{typ: "user", msg: u, pos: c.pos}, nil
}

// builtinListener describes a named proxy listener: listener(name,
// domain=None, cluster_emulation=False, virtual_nodes=3).
func builtinListener(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	l := &keywayv1.Listener{}
	var emulate bool
	vnodes := 3
	if err := unpack(fn.Name(), args, kwargs,
		"name", &l.Name, "domain?", &l.Domain, "cluster_emulation?", &emulate, "virtual_nodes?", &vnodes); err != nil {
		return nil, err
	}
	c.declare("listener", l.Name, c.st.listeners)
	if l.Domain != "" {
		c.domainRef("domain", l.Domain)
	}
	if emulate {
		if vnodes < 1 || vnodes > 16384 {
			c.errorf("virtual_nodes must be in 1..16384 (one slot each at least), got %d", vnodes)
		}
		l.ClusterEmulation = &keywayv1.ClusterEmulation{Enabled: true, VirtualNodes: c.count("virtual_nodes", vnodes, 0)}
	}
	c.st.policy.Listeners = append(c.st.policy.Listeners, l)
	return starlark.None, nil
}
