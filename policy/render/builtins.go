package render

import "go.starlark.net/starlark"

// builtin is the signature of every constructor.
type builtin = func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)

// builtins is the whole policy language besides Starlark's universe. The
// engine constructors are named after the oneof fields of keywayv1.Engine,
// which are also the proxy's registered kind names.
var builtins = func() starlark.StringDict {
	fns := map[string]builtin{
		// upstreams and their parts
		"redis":         builtinRedis,
		"redis_cluster": builtinRedisCluster,
		"tls":           builtinTLS,
		"credentials":   builtinCredentials,
		"env":           builtinEnv,
		"file":          builtinFile,
		"pool":          builtinPool,
		// domains and engines
		"domain":         builtinDomain,
		"upstream":       builtinUpstream,
		"route":          builtinRoute,
		"reject":         builtinReject,
		"by_command":     builtinByCommand,
		"split":          builtinSplit,
		"failover":       builtinFailover,
		"mirror":         builtinMirror,
		"guard":          builtinGuard,
		"ratelimit":      builtinRateLimit,
		"prefix":         builtinPrefix,
		"ttl_jitter":     builtinTTLJitter,
		"max_ttl":        builtinMaxTTL,
		"near_cache":     builtinNearCache,
		"flag":           builtinFlag,
		"transform":      builtinTransform,
		"encryption_key": builtinEncryptionKey,
		"commands":       builtinCommands,
		// identity and tests
		"identity": builtinIdentity,
		"user":     builtinUser,
		"listener": builtinListener,
		"test":     builtinTest,
	}
	d := make(starlark.StringDict, len(fns))
	for name, fn := range fns {
		d[name] = starlark.NewBuiltin(name, fn)
	}
	d.Freeze()
	return d
}()
