module keyway.dev/integration

go 1.26.0

require (
	keyway.dev/controlplane v0.0.0
	keyway.dev/dataplane v0.0.0
	keyway.dev/proto v0.0.0
)

replace (
	keyway.dev/controlplane => ../controlplane
	keyway.dev/dataplane => ../dataplane
	keyway.dev/proto => ../proto
)
