package integration

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
	"keyway.dev/proto/certtest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestAdminAPIAuthentication: a control plane bootstrapped with an admin
// token refuses anonymous calls, a viewer's push, and takes an author's.
func TestAdminAPIAuthentication(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	cp := harness.StartControlWith(t, harness.ControlOptions{Args: []string{"--bootstrap-token-file", tokenFile}})
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatalf("bootstrap token: %v", err)
	}
	admin := strings.TrimSpace(string(raw))

	mint := func(name, role string) string {
		t.Helper()
		r := harness.CLI(t, cp.Addr, "--token", admin, "token", "create", name, "--role", role)
		if r.Code != 0 {
			t.Fatalf("token create %s: exit %d: %s", name, r.Code, r.Stderr)
		}
		return strings.TrimSpace(r.Stdout)
	}
	viewer, author := mint("dash", "viewer"), mint("ci", "author")
	redis := redistest.Start(t)
	dir := harness.WritePolicy(t, map[string]string{"main.star": policyV1(redis.Addr, redis.Addr)})

	tests := []struct {
		name     string
		args     []string
		code     int
		contains string
	}{
		{"unauthenticated call refused", []string{"policy", "history"}, 1, "this API needs a token (keyway --token or KEYWAY_TOKEN)"},
		{"forged token refused", []string{"--token", "kwt_forged", "policy", "history"}, 1, "unknown or revoked"},
		{"viewer reads", []string{"--token", viewer, "fleet"}, 0, ""},
		{"viewer refused a push", []string{"--token", viewer, "policy", "push", dir, "-m", "as viewer"}, 1, "needs the author role"},
		{"author pushes", []string{"--token", author, "policy", "push", dir, "-m", "as author"}, 0, "v1"},
		{"author refused a token", []string{"--token", author, "token", "list"}, 1, "needs the admin role"},
		{"admin lists tokens", []string{"--token", admin, "token", "list"}, 0, "dash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := harness.CLI(t, cp.Addr, tt.args...)
			if r.Code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, tt.code, r.Stdout, r.Stderr)
			}
			harness.Contains(t, tt.name, r.Stdout+r.Stderr, tt.contains)
			for _, secret := range []string{admin, viewer, author} {
				if strings.Contains(r.Stdout+r.Stderr, secret) {
					t.Fatal("the CLI printed a token")
				}
			}
		})
	}
	if strings.Contains(cp.Log(), admin) || strings.Contains(cp.Log(), author) {
		t.Fatal("keyway-control logged a token")
	}
}

// TestProxyBoundToItsCertificate: with mTLS on, a proxy whose certificate
// names proxy-a cannot subscribe as proxy-b; proxy-a itself can.
func TestProxyBoundToItsCertificate(t *testing.T) {
	ca := certtest.NewCA(t, "keyway-fleet")
	srv := ca.Server(t, "keyway-control")
	cp := harness.StartControlWith(t, harness.ControlOptions{
		Args: []string{"--tls-cert", srv.CertFile, "--tls-key", srv.KeyFile, "--tls-client-ca", ca.CertFile},
		Dial: []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}))},
	})
	certA := ca.Client(t, "proxy-a")
	tlsFlags := []string{"--control-plane-ca", ca.CertFile, "--control-plane-cert", certA.CertFile, "--control-plane-key", certA.KeyFile}

	impostor := harness.StartProxy(t, "proxy-b", cp.Addr, tlsFlags...)
	harness.Eventually(t, 30*time.Second, "proxy-b logs its refusal", func() error {
		if log := impostor.Log(); !strings.Contains(log, "refused this proxy") || !strings.Contains(log, "PermissionDenied") {
			return fmt.Errorf("no refusal in the log yet")
		}
		return nil
	})
	honest := harness.StartProxy(t, "proxy-a", cp.Addr, tlsFlags...)
	harness.Eventually(t, 30*time.Second, "proxy-a in the fleet", func() error {
		ids, err := fleetIDs(cp)
		if err != nil {
			return err
		}
		if !strings.Contains(ids, "proxy-a") {
			return fmt.Errorf("fleet is %q", ids)
		}
		return nil
	})
	ids, err := fleetIDs(cp)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(ids, "proxy-b") {
		t.Fatalf("the fleet shows the impostor: %q", ids)
	}
	if strings.Contains(honest.Log(), "refused this proxy") {
		t.Fatalf("proxy-a was refused:\n%s", honest.Log())
	}
}

func fleetIDs(cp *harness.Control) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := cp.Fleet().ListNodes(ctx, &keywayv1.ListNodesRequest{})
	if err != nil {
		return "", err
	}
	var ids []string
	for _, n := range resp.GetNodes() {
		ids = append(ids, n.GetId())
	}
	return strings.Join(ids, ","), nil
}

// TestMemoryBombPolicyRefused: a policy that allocates gigabytes is
// refused by the render sandbox, and keyway-control's own memory stays
// put. The bound is a sanity limit far below what the bomb allocates.
func TestMemoryBombPolicyRefused(t *testing.T) {
	cp := harness.StartControl(t, "", "")
	bomb := `
parts = [("ab" * (1 << 28)) + str(i) for i in range(4)]
a = redis("a", address = "127.0.0.1:6379")
domain("default", a)
`
	bundle := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(bomb)}}
	before := vmRSS(t, cp.Pid())
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"validate", func(ctx context.Context) error {
			_, err := cp.Policies().Validate(ctx, &keywayv1.ValidateRequest{Bundle: bundle})
			return err
		}},
		{"push", func(ctx context.Context) error {
			_, err := cp.Policies().Push(ctx, &keywayv1.PushRequest{Bundle: bundle, Message: "bomb", Author: "mallory"})
			return err
		}},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := c.call(ctx)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "policy rendering exceeded its memory limit (256 MiB)") {
				t.Fatalf("err = %v, want the memory limit refusal", err)
			}
		})
	}
	const bound = 128 << 20
	if after := vmRSS(t, cp.Pid()); after > before+bound {
		t.Fatalf("keyway-control grew from %d MiB to %d MiB rendering a memory bomb", before>>20, after>>20)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := cp.Policies().ListVersions(ctx, &keywayv1.ListVersionsRequest{})
	if err != nil || len(resp.GetVersions()) != 0 {
		t.Fatalf("after the bomb: %v versions, err %v; want none stored and the API up", len(resp.GetVersions()), err)
	}
}

// vmRSS is a process's resident memory in bytes.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for pid %d", pid)
	return 0
}
