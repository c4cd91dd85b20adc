package server_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/server"
	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func bundle(src string) *keywayv1.Bundle {
	return &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}
}

const (
	policyV1  = "main = redis(\"main\", \"127.0.0.1:6401\")\ndomain(\"web\", main)\nidentity(default_domain = \"web\")\n"
	policyV2  = "main = redis(\"main\", \"127.0.0.1:6401\")\ndomain(\"web\", main)\ndomain(\"api\", main)\nidentity(default_domain = \"web\")\n"
	policyBad = "main = redis(\"main\", \"127.0.0.1:6401\")\ndomain(\"web\", mian)\n"
)

// start runs a control plane with embedded etcd on a loopback port.
func start(t *testing.T) *grpc.ClientConn {
	t.Helper()
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	cc, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return cc
}

func code(err error) codes.Code { return status.Code(err) }

func TestAdminEndToEnd(t *testing.T) {
	cc := start(t)
	pol := keywayv1.NewPolicyServiceClient(cc)
	ctx := context.Background()

	t.Run("validate", func(t *testing.T) {
		tests := []struct {
			name    string
			src     string
			code    codes.Code
			wantErr *regexp.Regexp
		}{
			{name: "good", src: policyV2, code: codes.OK},
			{name: "undefined name", src: policyBad, code: codes.InvalidArgument, wantErr: regexp.MustCompile(`^main\.star:2:\d+: .*mian`)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, err := pol.Validate(ctx, &keywayv1.ValidateRequest{Bundle: bundle(tt.src)})
				if code(err) != tt.code {
					t.Fatalf("code %v (%v), want %v", code(err), err, tt.code)
				}
				if tt.wantErr != nil && !tt.wantErr.MatchString(status.Convert(err).Message()) {
					t.Fatalf("message %q does not match %s", status.Convert(err).Message(), tt.wantErr)
				}
				if err == nil && len(resp.GetRendered().GetDomains()) != 2 {
					t.Fatalf("rendered %v", resp.GetRendered())
				}
			})
		}
	})

	// Pushes in order; each row depends on the ones before.
	pushes := []struct {
		name    string
		req     *keywayv1.PushRequest
		code    codes.Code
		msg     string
		version uint64
	}{
		{name: "render error stores nothing", req: &keywayv1.PushRequest{Bundle: bundle(policyBad)}, code: codes.InvalidArgument, msg: "main.star:2:"},
		{name: "empty bundle", req: &keywayv1.PushRequest{}, code: codes.InvalidArgument, msg: "bundle is required"},
		{name: "first", req: &keywayv1.PushRequest{Bundle: bundle(policyV1), Author: "ann", Message: "one"}, version: 1},
		{name: "stale parent", req: &keywayv1.PushRequest{Bundle: bundle(policyV2), Parent: 0}, code: codes.Aborted, msg: "conflict: the head is v1"},
		{name: "second", req: &keywayv1.PushRequest{Bundle: bundle(policyV2), Author: "bob", Message: "two", Parent: 1}, version: 2},
	}
	for _, tt := range pushes {
		t.Run("push "+tt.name, func(t *testing.T) {
			resp, err := pol.Push(ctx, tt.req)
			if code(err) != tt.code {
				t.Fatalf("code %v (%v), want %v", code(err), err, tt.code)
			}
			if !strings.Contains(status.Convert(err).Message(), tt.msg) {
				t.Fatalf("message %q lacks %q", status.Convert(err).Message(), tt.msg)
			}
			if err == nil && (resp.GetVersion().GetVersion() != tt.version || !resp.GetVersion().GetActive()) {
				t.Fatalf("pushed %v, want active v%d", resp.GetVersion(), tt.version)
			}
		})
	}

	list, err := pol.ListVersions(ctx, &keywayv1.ListVersionsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.GetVersions()) != 2 || list.GetHead() != 2 || list.GetActive() != 2 {
		t.Fatalf("list: %d versions, head v%d, active v%d; want 2, v2, v2", len(list.GetVersions()), list.GetHead(), list.GetActive())
	}
	if v := list.GetVersions()[0]; v.GetVersion() != 2 || v.GetAuthor() != "bob" || strings.Join(v.GetDomains(), ",") != "api,web" {
		t.Fatalf("newest entry %v", v)
	}

	gets := []struct {
		name    string
		version uint64
		code    codes.Code
		want    uint64
		active  bool
	}{
		{name: "active", version: 0, want: 2, active: true},
		{name: "older", version: 1, want: 1},
		{name: "unknown", version: 9, code: codes.NotFound},
	}
	for _, tt := range gets {
		t.Run("get "+tt.name, func(t *testing.T) {
			resp, err := pol.GetVersion(ctx, &keywayv1.GetVersionRequest{Version: tt.version})
			if code(err) != tt.code {
				t.Fatalf("code %v (%v), want %v", code(err), err, tt.code)
			}
			if err == nil && (resp.GetVersion().GetVersion() != tt.want || resp.GetActive() != tt.active || resp.GetVersion().GetBundle() == nil) {
				t.Fatalf("got v%d active=%v, want v%d active=%v", resp.GetVersion().GetVersion(), resp.GetActive(), tt.want, tt.active)
			}
		})
	}

	diff, err := pol.Diff(ctx, &keywayv1.DiffRequest{From: 1, To: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(diff.GetSources(), "--- v1/main.star\n+++ v2/main.star\n") || !strings.Contains(diff.GetSources(), "\n+domain(\"api\", main)\n") {
		t.Fatalf("sources diff:\n%s", diff.GetSources())
	}
	if !strings.Contains(diff.GetRendered(), "+++ v2/rendered") || !strings.Contains(diff.GetRendered(), "\"api\"") {
		t.Fatalf("rendered diff:\n%s", diff.GetRendered())
	}
	if _, err := pol.Diff(ctx, &keywayv1.DiffRequest{From: 1, To: 7}); code(err) != codes.NotFound {
		t.Fatalf("diff to v7: %v, want NotFound", err)
	}

	// A proxy subscribes and follows a rollback.
	stream, err := discovery.NewAggregatedDiscoveryServiceClient(cc).StreamAggregatedResources(ctx)
	if err != nil {
		t.Fatal(err)
	}
	send := func(r *discovery.DiscoveryRequest) {
		r.Node, r.TypeUrl = &core.Node{Id: "proxy-1", Cluster: "keyway"}, snapshot.DomainType
		if err := stream.Send(r); err != nil {
			t.Fatal(err)
		}
	}
	send(&discovery.DiscoveryRequest{})
	// The publisher follows etcd's watch, so a proxy that subscribes right
	// after a push may first get the version before it; each is ACKed and
	// v2 must follow.
	first, err := stream.Recv()
	for i := 0; err == nil && !strings.HasPrefix(first.GetVersionInfo(), "v2-") && i < 3; i++ {
		if !strings.HasPrefix(first.GetVersionInfo(), "v1-") {
			t.Fatalf("response %v before v2, want only v1", first)
		}
		send(&discovery.DiscoveryRequest{VersionInfo: first.GetVersionInfo(), ResponseNonce: first.GetNonce()})
		first, err = stream.Recv()
	}
	if err != nil || !strings.HasPrefix(first.GetVersionInfo(), "v2-") || len(first.GetResources()) != 2 {
		t.Fatalf("first response %v, %v; want v2 with 2 domains", first, err)
	}
	send(&discovery.DiscoveryRequest{VersionInfo: first.GetVersionInfo(), ResponseNonce: first.GetNonce()})

	act, err := pol.Activate(ctx, &keywayv1.ActivateRequest{Version: 1, Author: "ann", Reason: "rollback"})
	if err != nil || act.GetPrevious() != 2 || act.GetVersion().GetVersion() != 1 {
		t.Fatalf("activate v1: %v, %v", act, err)
	}
	if _, err := pol.Activate(ctx, &keywayv1.ActivateRequest{Version: 5}); code(err) != codes.NotFound {
		t.Fatalf("activate v5: %v, want NotFound", err)
	}
	rolled, err := stream.Recv()
	if err != nil || !strings.HasPrefix(rolled.GetVersionInfo(), "v1-") || len(rolled.GetResources()) != 1 {
		t.Fatalf("after rollback %v, %v; want v1 with 1 domain", rolled, err)
	}
	send(&discovery.DiscoveryRequest{VersionInfo: rolled.GetVersionInfo(), ResponseNonce: rolled.GetNonce()})

	fleet := keywayv1.NewFleetServiceClient(cc)
	deadline := time.Now().Add(10 * time.Second)
	for {
		nodes, err := fleet.ListNodes(ctx, &keywayv1.ListNodesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if len(nodes.GetNodes()) == 1 && nodes.GetNodes()[0].GetPolicyVersion() == "v1" {
			if n := nodes.GetNodes()[0]; n.GetId() != "proxy-1" || !n.GetConnected() {
				t.Fatalf("node %v", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fleet never showed proxy-1 on v1: %v", nodes)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestListenError(t *testing.T) {
	_, err := server.New(server.Config{Listen: "256.0.0.1:1", DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "listen on 256.0.0.1:1") {
		t.Fatalf("err = %v, want a listen error", err)
	}
}
