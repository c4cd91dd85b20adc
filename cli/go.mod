module keyway.dev/cli

go 1.26.0

replace (
	keyway.dev/controlplane => ../controlplane
	keyway.dev/dataplane => ../dataplane
	keyway.dev/proto => ../proto
)

require (
	google.golang.org/grpc v1.85.0
	google.golang.org/protobuf v1.36.12
	keyway.dev/controlplane v0.0.0
	keyway.dev/proto v0.0.0
)

require (
	golang.org/x/net v0.61.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20260817212433-ac3dfec99bb1 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
	keyway.dev/dataplane v0.0.0 // indirect
)
