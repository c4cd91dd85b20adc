// Package all registers every engine kind this proxy can build. It is an
// explicit list, like mcrouter's route map, rather than init()
// side effects, so tests can build registries of their own.
package all

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/reject"
	"keyway.dev/dataplane/engines/route"
	"keyway.dev/dataplane/engines/upstream"
)

// Registry returns a registry of every engine kind built so far, keyed by
// the oneof field names of keyway.v1.Engine.
func Registry() *engine.Registry {
	r := engine.NewRegistry()
	engine.Add(r, "upstream", upstream.Build)
	engine.Add(r, "route", route.Build)
	engine.Add(r, "reject", reject.Build)
	return r
}
