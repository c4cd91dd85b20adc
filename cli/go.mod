module keyway.dev/cli

go 1.26.0

replace (
	keyway.dev/controlplane => ../controlplane
	keyway.dev/dataplane => ../dataplane
	keyway.dev/proto => ../proto
)
