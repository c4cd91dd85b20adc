// Package client connects the keyway CLI to the control plane's admin gRPC
// API and turns gRPC failures into sentences an operator can act on.
package client

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Conn is one connection to a control plane.
type Conn struct {
	// Addr is the address dialled, repeated in error messages.
	Addr     string
	Policy   keywayv1.PolicyServiceClient
	Fleet    keywayv1.FleetServiceClient
	Flags    keywayv1.FlagServiceClient
	Rollouts keywayv1.RolloutServiceClient
	Audit    keywayv1.AuditServiceClient
	Tokens   keywayv1.TokenServiceClient
	Server   keywayv1.ServerServiceClient
	Backup   keywayv1.BackupServiceClient
	cc       *grpc.ClientConn
}

// Dial prepares a connection to addr. It does not block: grpc connects on
// the first call, so an unreachable control plane surfaces there as
// Unavailable, which Explain words for the operator. opts (TLS, a token)
// come after the plaintext default and so override it.
func Dial(addr string, opts ...grpc.DialOption) (*Conn, error) {
	cc, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("connect to the control plane at %s: %w", addr, err)
	}
	return &Conn{
		Addr:     addr,
		Policy:   keywayv1.NewPolicyServiceClient(cc),
		Fleet:    keywayv1.NewFleetServiceClient(cc),
		Flags:    keywayv1.NewFlagServiceClient(cc),
		Rollouts: keywayv1.NewRolloutServiceClient(cc),
		Audit:    keywayv1.NewAuditServiceClient(cc),
		Tokens:   keywayv1.NewTokenServiceClient(cc),
		Server:   keywayv1.NewServerServiceClient(cc),
		Backup:   keywayv1.NewBackupServiceClient(cc),
		cc:       cc,
	}, nil
}

// Close releases the connection.
func (c *Conn) Close() error {
	return c.cc.Close()
}
