package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/cli/internal/client"
)

func TestExplain(t *testing.T) {
	const addr = "127.0.0.1:7700"
	plain := errors.New("load bundle: stat x: no such file or directory")
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"not grpc", plain, plain.Error()},
		{"unavailable", status.Error(codes.Unavailable, "connection refused"),
			"cannot reach the control plane at 127.0.0.1:7700: connection refused (is keyway-control running? start one with `make demo`)"},
		{"unavailable, grpc's dial text trimmed", status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:7700: connect: connection refused"`),
			"cannot reach the control plane at 127.0.0.1:7700: dial tcp 127.0.0.1:7700: connect: connection refused (is keyway-control running? start one with `make demo`)"},
		{"conflict", status.Error(codes.Aborted, "head is v3, not v2"),
			"conflict: head is v3, not v2 (run `keyway policy history`, then push again, or pass --force)"},
		{"conflict worded by the control plane", status.Error(codes.Aborted, "conflict: the head is v3, the push was based on v2; pull, re-check and push again"),
			"conflict: the head is v3, the push was based on v2; pull, re-check and push again"},
		{"invalid argument keeps the position", status.Error(codes.InvalidArgument, "main.star:3:5: undefined: clustr"),
			"main.star:3:5: undefined: clustr"},
		{"not found", status.Error(codes.NotFound, "no version v7"), "no version v7"},
		{"deadline", status.Error(codes.DeadlineExceeded, "context deadline exceeded"),
			"the control plane at 127.0.0.1:7700 did not answer in time (raise --timeout?): context deadline exceeded"},
		{"local deadline", fmt.Errorf("wait: %w", context.DeadlineExceeded),
			"the control plane at 127.0.0.1:7700 did not answer in time (raise --timeout?)"},
		{"permission", status.Error(codes.PermissionDenied, "role reader may not push"), "permission denied: role reader may not push"},
		{"unimplemented", status.Error(codes.Unimplemented, "unknown service"),
			"the control plane at 127.0.0.1:7700 does not support this command (is it older than this keyway?): unknown service"},
		{"internal", status.Error(codes.Internal, "etcd: boom"), "control plane error (internal): etcd: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := client.Explain(tc.err, addr)
			if tc.want == "" {
				if got != nil {
					t.Fatalf("Explain(nil) = %v", got)
				}
				return
			}
			if got == nil || got.Error() != tc.want {
				t.Fatalf("Explain = %v\nwant      %s", got, tc.want)
			}
			if strings.Contains(got.Error(), "rpc error") {
				t.Errorf("gRPC noise leaked: %s", got)
			}
		})
	}
}

func TestExplainTypes(t *testing.T) {
	var c *client.Conflict
	if !errors.As(client.Explain(status.Error(codes.Aborted, "x"), "a"), &c) || c.Msg != "x" {
		t.Errorf("Aborted is not a *Conflict")
	}
	var nf *client.NotFound
	if !errors.As(client.Explain(status.Error(codes.NotFound, "y"), "a"), &nf) || nf.Msg != "y" {
		t.Errorf("NotFound is not a *NotFound")
	}
}
