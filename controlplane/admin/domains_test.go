package admin

import (
	"context"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	"keyway.dev/controlplane/rollout"
	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// renderDomains renders "web,api" as a policy declaring domains web and api.
func renderDomains(_ context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
	p := &keywayv1.Policy{}
	for _, name := range strings.Split(strings.Fields(string(b.GetFiles()["main.star"]))[0], ",") {
		p.Domains = append(p.Domains, &keywayv1.DomainPolicy{Name: name})
	}
	return p, nil
}

// TestDomainVersions: after a rollout of web to v2 completes, ListVersions,
// GetVersion and ListNodes say web runs v2 and api v1; during a rollout
// they show its canary; activating a version releases the pin.
func TestDomainVersions(t *testing.T) {
	e, err := store.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	st := store.New(e.Client(), store.Config{})
	defer st.Close()
	ctx := context.Background()
	p := NewPolicy(st, renderDomains, nil, nil)
	fleet := NewFleet(nodes{}, st)
	push := func(src string, parent uint64, noActivate bool) {
		t.Helper()
		b := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}
		if _, err := p.Push(ctx, &keywayv1.PushRequest{Bundle: b, Message: src, Parent: parent, NoActivate: noActivate}); err != nil {
			t.Fatal(err)
		}
	}
	push("web,api one", 0, false)
	push("web,api two", 1, true)
	svc := rollout.NewService(rollout.NewStore(st.Client(), st.Fleet()), st, nil)

	check := func(what string, want []*keywayv1.DomainVersion, effective map[uint64][]string) {
		t.Helper()
		h, err := p.ListVersions(ctx, &keywayv1.ListVersionsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, h.GetDomains(), protocmp.Transform()); d != "" {
			t.Errorf("%s: ListVersions domains (-want +got):\n%s", what, d)
		}
		n, err := fleet.ListNodes(ctx, &keywayv1.ListNodesRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, n.GetDomains(), protocmp.Transform()); d != "" {
			t.Errorf("%s: ListNodes domains (-want +got):\n%s", what, d)
		}
		for _, v := range h.GetVersions() {
			if got := v.GetEffectiveDomains(); !slices.Equal(got, effective[v.GetVersion()]) {
				t.Errorf("%s: history v%d effective domains %v, want %v", what, v.GetVersion(), got, effective[v.GetVersion()])
			}
			g, err := p.GetVersion(ctx, &keywayv1.GetVersionRequest{Version: v.GetVersion()})
			if err != nil {
				t.Fatal(err)
			}
			if got := g.GetEffectiveDomains(); !slices.Equal(got, effective[v.GetVersion()]) {
				t.Errorf("%s: show v%d effective domains %v, want %v", what, v.GetVersion(), got, effective[v.GetVersion()])
			}
		}
	}
	check("before", []*keywayv1.DomainVersion{{Domain: "api", Version: 1}, {Domain: "web", Version: 1}},
		map[uint64][]string{1: {"api", "web"}})

	started, err := svc.StartRollout(ctx, &keywayv1.StartRolloutRequest{Domain: "web", ToVersion: 2, Steps: []uint32{10, 100}})
	if err != nil {
		t.Fatal(err)
	}
	id := started.GetRollout().GetId()
	check("rolling out", []*keywayv1.DomainVersion{
		{Domain: "api", Version: 1},
		{Domain: "web", Version: 1, RolloutId: id, CanaryVersion: 2, CanaryPercent: 10},
	}, map[uint64][]string{1: {"api", "web"}})

	if _, err := svc.PromoteRollout(ctx, &keywayv1.PromoteRolloutRequest{Domain: "web"}); err != nil {
		t.Fatal(err)
	}
	check("completed", []*keywayv1.DomainVersion{
		{Domain: "api", Version: 1},
		{Domain: "web", Version: 2, Pinned: true, RolloutId: id},
	}, map[uint64][]string{1: {"api"}, 2: {"web"}})

	if _, err := p.Activate(ctx, &keywayv1.ActivateRequest{Version: 2}); err != nil {
		t.Fatal(err)
	}
	check("pin released by an activation", []*keywayv1.DomainVersion{{Domain: "api", Version: 2}, {Domain: "web", Version: 2}},
		map[uint64][]string{2: {"api", "web"}})
}

// nodes is an empty fleet.
type nodes struct{}

func (nodes) Nodes() []*keywayv1.Node { return nil }

// TestIdenticalPush: pushing the head's bundle again stores nothing and
// says which version already has it.
func TestIdenticalPush(t *testing.T) {
	e, err := store.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	st := store.New(e.Client(), store.Config{})
	defer st.Close()
	ctx := context.Background()
	p := NewPolicy(st, renderDomains, nil, nil)
	push := func(src string, parent uint64) error {
		b := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}
		_, err := p.Push(ctx, &keywayv1.PushRequest{Bundle: b, Message: src, Parent: parent})
		return err
	}
	if err := push("web one", 0); err != nil {
		t.Fatal(err)
	}
	err = push("web one", 1)
	if status.Code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), "no change since v1") {
		t.Fatalf("identical push: %v, want AlreadyExists and \"no change since v1\"", err)
	}
	if err := push("web two", 1); err != nil {
		t.Fatalf("changed push: %v", err)
	}
	h, err := p.ListVersions(ctx, &keywayv1.ListVersionsRequest{})
	if err != nil || h.GetHead() != 2 || len(h.GetVersions()) != 2 {
		t.Fatalf("history after the pushes: head v%d, %d versions, %v; want v2 and 2", h.GetHead(), len(h.GetVersions()), err)
	}
}
