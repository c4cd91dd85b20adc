package main

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"keyway.dev/dataplane/xdsclient"
)

// controlPlaneCredentials secures the ADS subscription and the telemetry
// stream alike: TLS (with this proxy's client certificate when given)
// once any --control-plane-ca/cert/key flag is set, else plaintext.
func controlPlaneCredentials(cfg config) (grpc.DialOption, error) {
	f := cfg.controlPlaneTLS
	if f.CA == "" && f.Cert == "" && f.Key == "" {
		return grpc.WithTransportCredentials(insecure.NewCredentials()), nil
	}
	opt, err := xdsclient.TLSDialOption(f)
	if err != nil {
		return nil, fmt.Errorf("--control-plane-ca/--control-plane-cert/--control-plane-key: %w", err)
	}
	return opt, nil
}
