// Package all registers every engine kind this proxy can build. It is an
// explicit list, like mcrouter's route map, rather than init()
// side effects, so tests can build registries of their own.
package all

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/bycommand"
	"keyway.dev/dataplane/engines/failover"
	"keyway.dev/dataplane/engines/flag"
	"keyway.dev/dataplane/engines/guard"
	"keyway.dev/dataplane/engines/keywaycmd"
	"keyway.dev/dataplane/engines/maxttl"
	"keyway.dev/dataplane/engines/mirror"
	"keyway.dev/dataplane/engines/nearcache"
	"keyway.dev/dataplane/engines/prefix"
	"keyway.dev/dataplane/engines/ratelimit"
	"keyway.dev/dataplane/engines/reject"
	"keyway.dev/dataplane/engines/route"
	"keyway.dev/dataplane/engines/split"
	"keyway.dev/dataplane/engines/transform"
	"keyway.dev/dataplane/engines/ttljitter"
	"keyway.dev/dataplane/engines/upstream"
)

// Registry returns a registry of every engine kind built so far, keyed by
// the oneof field names of keyway.v1.Engine.
func Registry() *engine.Registry {
	r := engine.NewRegistry()
	engine.Add(r, "upstream", upstream.Build)
	engine.Add(r, "route", route.Build)
	engine.Add(r, "reject", reject.Build)
	engine.Add(r, "guard", guard.Build)
	engine.Add(r, "ratelimit", ratelimit.Build)
	engine.Add(r, "prefix", prefix.Build)
	engine.Add(r, "ttl_jitter", ttljitter.Build)
	engine.Add(r, "commands", keywaycmd.Build)
	engine.Add(r, "by_command", bycommand.Build)
	engine.Add(r, "split", split.Build)
	engine.Add(r, "failover", failover.Build)
	engine.Add(r, "mirror", mirror.Build)
	engine.Add(r, "flag", flag.Build)
	engine.Add(r, "transform", transform.Build)
	engine.Add(r, "near_cache", nearcache.Build)
	engine.Add(r, "max_ttl", maxttl.Build)
	return r
}
