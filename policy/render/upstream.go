package render

import (
	"go.starlark.net/starlark"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinRedis declares a standalone Redis server:
// redis(name, address, tls=None, credentials=None, pool=None).
func builtinRedis(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var name, address string
	var tls, creds, pool starlark.Value = starlark.None, starlark.None, starlark.None
	if err := unpack(fn.Name(), args, kwargs,
		"name", &name, "address", &address, "tls?", &tls, "credentials?", &creds, "pool?", &pool); err != nil {
		return nil, err
	}
	c.address("address", address)
	u := &keywayv1.Upstream{Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: address}}}
	return c.declareUpstream(name, u, tls, creds, pool)
}

// builtinRedisCluster declares a Redis Cluster found from its seeds:
// redis_cluster(name, seeds, read_from_replicas=False,
// refresh_interval="30s", allow_keyspace_commands=False, tls=None,
// credentials=None, pool=None).
func builtinRedisCluster(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var name string
	var seedsV starlark.Value
	var replicas, keyspace bool
	var refresh, tls, creds, pool starlark.Value = starlark.None, starlark.None, starlark.None, starlark.None
	if err := unpack(fn.Name(), args, kwargs,
		"name", &name, "seeds", &seedsV, "read_from_replicas?", &replicas,
		"refresh_interval?", &refresh, "allow_keyspace_commands?", &keyspace,
		"tls?", &tls, "credentials?", &creds, "pool?", &pool); err != nil {
		return nil, err
	}
	seeds, err := c.strs("seeds", seedsV)
	if err != nil {
		return nil, err
	}
	if len(seeds) == 0 {
		c.errorf("seeds: give at least one host:port")
	}
	for _, s := range seeds {
		c.address("seeds", s)
	}
	interval, err := c.duration("refresh_interval", refresh, "30s")
	if err != nil {
		return nil, err
	}
	u := &keywayv1.Upstream{Kind: &keywayv1.Upstream_Cluster{Cluster: &keywayv1.Cluster{
		Seeds:                 seeds,
		ReadFromReplicas:      replicas,
		RefreshInterval:       interval,
		AllowKeyspaceCommands: keyspace,
	}}}
	return c.declareUpstream(name, u, tls, creds, pool)
}

// declareUpstream fills the parts every upstream kind shares and adds it
// to the policy.
func (c *call) declareUpstream(name string, u *keywayv1.Upstream, tls, creds, pool starlark.Value) (starlark.Value, error) {
	u.Name = name
	u.Source = c.source()
	switch v := tls.(type) {
	case starlark.NoneType:
	case starlark.Bool:
		if v {
			u.Tls = &keywayv1.UpstreamTLS{Enabled: true}
		}
	case *object[*keywayv1.UpstreamTLS]:
		u.Tls = clone(v.msg)
	default:
		return nil, c.typeErr("tls", "tls(...) or True", tls)
	}
	switch v := creds.(type) {
	case starlark.NoneType:
	case *object[*keywayv1.Credentials]:
		u.Credentials = clone(v.msg)
	default:
		return nil, c.typeErr("credentials", "credentials(...)", creds)
	}
	switch v := pool.(type) {
	case starlark.NoneType:
	case *object[*keywayv1.Pool]:
		u.Pool = clone(v.msg)
	default:
		return nil, c.typeErr("pool", "pool(...)", pool)
	}
	c.declare("upstream", name, c.st.upstreams)
	c.st.policy.Upstreams = append(c.st.policy.Upstreams, u)
	return &upstreamValue{msg: u}, nil
}

// declare records a named declaration, reporting empty and duplicate
// names.
func (c *call) declare(kind, name string, seen map[string]string) {
	if name == "" {
		c.errorf("%s name is empty", kind)
		return
	}
	if first, ok := seen[name]; ok {
		c.errorf("duplicate %s %q (first declared at %s)", kind, name, first)
		return
	}
	seen[name] = c.source()
}
