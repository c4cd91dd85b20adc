// Package clitest runs keyway commands in-process against a fake control
// plane: a real gRPC server on 127.0.0.1:0 whose PolicyService and
// FleetService keep versions and nodes in memory.
package clitest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keyway.dev/controlplane/admin"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Epoch is the fake clock: versions are created at Epoch minus an hour
// per version before the newest, and commands run at Epoch.
var Epoch = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// Server is a fake keyway-control admin API.
type Server struct {
	keywayv1.UnimplementedPolicyServiceServer
	keywayv1.UnimplementedFleetServiceServer

	// Addr is the host:port the server listens on.
	Addr string

	mu       sync.Mutex
	versions []*keywayv1.PolicyVersion // versions[i] is v(i+1)
	active   uint64
	nodes    []*keywayv1.Node
	pushes   []*keywayv1.PushRequest
	acts     []*keywayv1.ActivateRequest
	render   Renderer
}

// Start serves a fake control plane until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("clitest: listen: %v", err)
	}
	s := &Server{Addr: lis.Addr().String()}
	gs := grpc.NewServer()
	keywayv1.RegisterPolicyServiceServer(gs, s)
	keywayv1.RegisterFleetServiceServer(gs, s)
	keywayv1.RegisterServerServiceServer(gs, serverInfo{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	t.Cleanup(func() {
		gs.Stop()
		<-done
	})
	return s
}

// Seed stores versions with the given messages as v1, v2, ... by author
// "alice@host1" and activates the last one.
func (s *Server) Seed(messages ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range messages {
		files := map[string][]byte{"main.star": []byte("upstream a\ndomain default\n# " + m + "\n")}
		pol, _ := s.render.Render(context.Background(), &keywayv1.Bundle{Entry: "main.star", Files: files})
		s.store(&keywayv1.Bundle{Entry: "main.star", Files: files}, pol, "alice@host1", m, uint64(len(s.versions)))
	}
	s.active = uint64(len(s.versions))
	// Re-date so the newest version is an hour old, the one before two.
	for i, v := range s.versions {
		v.Created = timestamppb.New(Epoch.Add(-time.Duration(len(s.versions)-i) * time.Hour))
	}
}

// SetNodes replaces the fleet.
func (s *Server) SetNodes(nodes ...*keywayv1.Node) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes = nodes
}

// Pushes returns the push requests received so far.
func (s *Server) Pushes() []*keywayv1.PushRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*keywayv1.PushRequest(nil), s.pushes...)
}

// Activations returns the activate requests received so far.
func (s *Server) Activations() []*keywayv1.ActivateRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*keywayv1.ActivateRequest(nil), s.acts...)
}

func (s *Server) store(b *keywayv1.Bundle, pol *keywayv1.Policy, author, msg string, parent uint64) *keywayv1.PolicyVersion {
	n := uint64(len(s.versions) + 1)
	v := &keywayv1.PolicyVersion{
		Version: n, Parent: parent, Author: author, Message: msg,
		Created: timestamppb.New(Epoch), Bundle: b, Rendered: pol,
		Digest: strings.Repeat(fmt.Sprintf("%04x", n*0x1111), 16),
	}
	s.versions = append(s.versions, v)
	return v
}

func (s *Server) head() uint64 { return uint64(len(s.versions)) }

func (s *Server) info(v *keywayv1.PolicyVersion) *keywayv1.PolicyVersionInfo {
	var domains []string
	for _, d := range v.GetRendered().GetDomains() {
		domains = append(domains, d.GetName())
	}
	return &keywayv1.PolicyVersionInfo{
		Version: v.GetVersion(), Parent: v.GetParent(), Author: v.GetAuthor(), Message: v.GetMessage(),
		Created: v.GetCreated(), Digest: v.GetDigest(), Active: v.GetVersion() == s.active, Domains: domains,
	}
}

func (s *Server) get(n uint64) (*keywayv1.PolicyVersion, error) {
	if n == 0 || n > s.head() {
		return nil, status.Errorf(codes.NotFound, "v%d: not found", n)
	}
	return s.versions[n-1], nil
}

// Validate renders with the same fake renderer the CLI uses locally.
func (s *Server) Validate(ctx context.Context, req *keywayv1.ValidateRequest) (*keywayv1.ValidateResponse, error) {
	pol, err := s.render.Render(ctx, req.GetBundle())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if _, bad := req.GetBundle().GetFiles()["remote-only-error.star"]; bad {
		return nil, status.Error(codes.InvalidArgument, "remote-only-error.star:1:1: refused by the control plane")
	}
	return &keywayv1.ValidateResponse{Rendered: pol}, nil
}

// Push stores a version if its parent is the head (or force is set).
func (s *Server) Push(ctx context.Context, req *keywayv1.PushRequest) (*keywayv1.PushResponse, error) {
	pol, err := s.render.Render(ctx, req.GetBundle())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pushes = append(s.pushes, proto.Clone(req).(*keywayv1.PushRequest))
	if !req.GetForce() && req.GetParent() != s.head() {
		return nil, status.Errorf(codes.Aborted, "head is v%d, not v%d: someone pushed first", s.head(), req.GetParent())
	}
	v := s.store(req.GetBundle(), pol, req.GetAuthor(), req.GetMessage(), s.head())
	if !req.GetNoActivate() {
		s.active = v.GetVersion()
	}
	return &keywayv1.PushResponse{Version: s.info(v)}, nil
}

// ListVersions lists newest first, up to limit.
func (s *Server) ListVersions(_ context.Context, req *keywayv1.ListVersionsRequest) (*keywayv1.ListVersionsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := &keywayv1.ListVersionsResponse{Active: s.active, Head: s.head()}
	for i := len(s.versions) - 1; i >= 0; i-- {
		if req.GetLimit() > 0 && len(resp.Versions) == int(req.GetLimit()) {
			break
		}
		resp.Versions = append(resp.Versions, s.info(s.versions[i]))
	}
	return resp, nil
}

// GetVersion returns one version with its sources; 0 is the active one.
func (s *Server) GetVersion(_ context.Context, req *keywayv1.GetVersionRequest) (*keywayv1.GetVersionResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := req.GetVersion()
	if n == 0 {
		n = s.active
	}
	v, err := s.get(n)
	if err != nil {
		return nil, err
	}
	resp := &keywayv1.GetVersionResponse{Version: v, Active: n == s.active}
	if resp.Active {
		// No pins in the fake: the active version runs in all its domains.
		for _, d := range v.GetRendered().GetDomains() {
			resp.EffectiveDomains = append(resp.EffectiveDomains, d.GetName())
		}
	}
	return resp, nil
}

// Diff answers with canned text naming both versions, enough to check the
// CLI prints both sections in order.
func (s *Server) Diff(_ context.Context, req *keywayv1.DiffRequest) (*keywayv1.DiffResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if req.GetBundle() != nil {
		from := req.GetFrom()
		if from == 0 {
			from = s.active
		}
		if _, err := s.get(from); err != nil {
			return nil, err
		}
		return &keywayv1.DiffResponse{
			From:     from,
			Sources:  fmt.Sprintf("--- v%d/main.star\n+++ local/main.star\n-old\n+%s", from, string(req.GetBundle().GetFiles()["main.star"])),
			Rendered: fmt.Sprintf("--- v%d/rendered\n+++ local/rendered\n-rendered old\n+rendered new\n", from),
		}, nil
	}
	for _, n := range []uint64{req.GetFrom(), req.GetTo()} {
		if _, err := s.get(n); err != nil {
			return nil, err
		}
	}
	if req.GetFrom() == req.GetTo() {
		return &keywayv1.DiffResponse{}, nil
	}
	return &keywayv1.DiffResponse{
		Sources:  fmt.Sprintf("--- v%d/main.star\n+++ v%d/main.star\n-old\n+new\n", req.GetFrom(), req.GetTo()),
		Rendered: fmt.Sprintf("--- v%d\n+++ v%d\n-rendered old\n+rendered new\n", req.GetFrom(), req.GetTo()),
	}, nil
}

// Activate makes a stored version active.
func (s *Server) Activate(_ context.Context, req *keywayv1.ActivateRequest) (*keywayv1.ActivateResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acts = append(s.acts, proto.Clone(req).(*keywayv1.ActivateRequest))
	v, err := s.get(req.GetVersion())
	if err != nil {
		return nil, err
	}
	prev := s.active
	s.active = v.GetVersion()
	return &keywayv1.ActivateResponse{Version: s.info(v), Previous: prev}, nil
}

// ListNodes returns the fleet set with SetNodes, paged and filtered by
// the control plane's own code.
func (s *Server) ListNodes(ctx context.Context, req *keywayv1.ListNodesRequest) (*keywayv1.ListNodesResponse, error) {
	s.mu.Lock()
	nodes := make(nodeList, len(s.nodes))
	for i, n := range s.nodes {
		nodes[i] = proto.Clone(n).(*keywayv1.Node)
	}
	s.mu.Unlock()
	return admin.NewFleet(nodes, nil).ListNodes(ctx, req)
}

// nodeList is an admin.NodeLister of fixed nodes.
type nodeList []*keywayv1.Node

func (l nodeList) Nodes() []*keywayv1.Node {
	out := slices.Clone(l)
	slices.SortFunc(out, func(a, b *keywayv1.Node) int { return strings.Compare(a.GetId(), b.GetId()) })
	return out
}
