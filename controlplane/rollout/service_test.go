package rollout

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/controlplane/etcdtest"
	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// newService stores v1 (domains a, b) and v2 (a, b, c) with v1 active.
func newService(t *testing.T) (*Service, *recorder) {
	t.Helper()
	e := etcdtest.Start(t)
	vs := store.New(e.Client(), store.Config{})
	t.Cleanup(func() { _ = vs.Close() })
	for i, ds := range [][]string{{"a", "b"}, {"a", "b", "c"}} {
		pol := &keywayv1.Policy{}
		for _, d := range ds {
			pol.Domains = append(pol.Domains, &keywayv1.DomainPolicy{Name: d})
		}
		bundle := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte("# v")}}
		if _, err := vs.Push(context.Background(), store.Push{Bundle: bundle, Rendered: pol, Parent: uint64(i), NoActivate: i > 0}); err != nil {
			t.Fatal(err)
		}
	}
	rec := &recorder{}
	return NewService(NewStore(e.Client(), ""), vs, rec), rec
}

func TestServiceStartRefuses(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	cases := []struct {
		name string
		req  *keywayv1.StartRolloutRequest
		code codes.Code
		text string
	}{
		{"missing version", &keywayv1.StartRolloutRequest{Domain: "a", ToVersion: 9}, codes.NotFound, ""},
		{"domain only in the target", &keywayv1.StartRolloutRequest{Domain: "c", ToVersion: 2}, codes.FailedPrecondition, "active policy v1 has no domain"},
		{"domain not in the target", &keywayv1.StartRolloutRequest{Domain: "z", ToVersion: 2}, codes.FailedPrecondition, "v2 has no domain"},
		{"already there", &keywayv1.StartRolloutRequest{Domain: "a", ToVersion: 1}, codes.FailedPrecondition, "already runs v1"},
		{"bad steps", &keywayv1.StartRolloutRequest{Domain: "a", ToVersion: 2, Steps: []uint32{50}}, codes.InvalidArgument, "last step"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.StartRollout(ctx, c.req)
			if status.Code(err) != c.code || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("error %v, want %s containing %q", err, c.code, c.text)
			}
		})
	}
}

func TestServiceActions(t *testing.T) {
	svc, rec := newService(t)
	ctx := context.Background()
	start, err := svc.StartRollout(ctx, &keywayv1.StartRolloutRequest{Domain: "a", ToVersion: 2, Interval: durationpb.New(time.Hour), Author: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if r := start.GetRollout(); r.GetFromVersion() != 1 || r.GetPercent() != 1 || r.GetId() != "a-1" {
		t.Fatalf("started %v", r)
	}
	if _, err := svc.StartRollout(ctx, &keywayv1.StartRolloutRequest{Domain: "a", ToVersion: 2}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("second start: %v", err)
	}
	got, err := svc.GetRollout(ctx, &keywayv1.GetRolloutRequest{Domain: "a"})
	if err != nil || got.GetNextStep() == nil {
		t.Fatalf("get: %v, next step %v", err, got.GetNextStep())
	}
	if _, err := svc.PauseRollout(ctx, &keywayv1.PauseRolloutRequest{Domain: "a", Author: "bob"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.GetRollout(ctx, &keywayv1.GetRolloutRequest{Domain: "a"}); got.GetNextStep() != nil {
		t.Errorf("a paused rollout shows a next step")
	}
	if _, err := svc.ResumeRollout(ctx, &keywayv1.ResumeRolloutRequest{Domain: "a", Author: "bob"}); err != nil {
		t.Fatal(err)
	}
	p, err := svc.PromoteRollout(ctx, &keywayv1.PromoteRolloutRequest{Domain: "a", Author: "carol", Reason: "looks good"})
	if err != nil {
		t.Fatal(err)
	}
	if r := p.GetRollout(); r.GetState() != keywayv1.RolloutState_ROLLOUT_STATE_COMPLETED || r.GetReason() != "promoted by carol: looks good" {
		t.Errorf("promoted: %v", r)
	}
	if _, err := svc.AbortRollout(ctx, &keywayv1.AbortRolloutRequest{Domain: "a"}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("abort after completion: %v", err)
	}
	// The pin now makes v2 the domain's stable version.
	if _, err := svc.StartRollout(ctx, &keywayv1.StartRolloutRequest{Domain: "a", ToVersion: 2}); err == nil || !strings.Contains(err.Error(), "already runs v2") {
		t.Errorf("rollout to the pinned version: %v", err)
	}
	if _, err := svc.StartRollout(ctx, &keywayv1.StartRolloutRequest{Domain: "a", ToVersion: 1, Author: "dave"}); err != nil {
		t.Fatalf("rollout back to v1: %v", err)
	}
	ab, err := svc.AbortRollout(ctx, &keywayv1.AbortRolloutRequest{Domain: "a", Author: "dave", Reason: "changed my mind"})
	if err != nil {
		t.Fatal(err)
	}
	if ab.GetRollout().GetReason() != "aborted by dave: changed my mind" {
		t.Errorf("abort reason %q", ab.GetRollout().GetReason())
	}
	list, err := svc.ListRollouts(ctx, &keywayv1.ListRolloutsRequest{All: true})
	if err != nil || len(list.GetRollouts()) != 2 || len(list.GetPins()) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if got, want := rec.actions(), "rollout.start rollout.pause rollout.resume rollout.promote rollout.start rollout.abort"; got != want {
		t.Errorf("audit %q, want %q", got, want)
	}
}
