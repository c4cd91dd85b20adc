package admin

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestDiffBundle(t *testing.T) {
	e, err := store.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	st := store.New(e.Client(), store.Config{})
	defer st.Close()
	ctx := context.Background()
	p := NewPolicy(st, fakeRender, nil, nil)
	bundle := func(src string) *keywayv1.Bundle {
		return &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}
	}
	if _, err := p.Diff(ctx, &keywayv1.DiffRequest{Bundle: bundle("api")}); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("bundle diff with nothing active: %v, want FailedPrecondition", err)
	}
	if _, err := p.Push(ctx, &keywayv1.PushRequest{Bundle: bundle("web")}); err != nil {
		t.Fatal(err)
	}
	resp, err := p.Diff(ctx, &keywayv1.DiffRequest{Bundle: bundle("api")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetFrom() != 1 || !strings.Contains(resp.GetSources(), "-web") || !strings.Contains(resp.GetSources(), "+api") ||
		!strings.Contains(resp.GetSources(), "local") || !strings.Contains(resp.GetRendered(), `"api"`) || !strings.Contains(resp.GetRendered(), "+++ local/rendered") {
		t.Errorf("diff v1 against a bundle = %+v", resp)
	}
	same, err := p.Diff(ctx, &keywayv1.DiffRequest{From: 1, Bundle: bundle("web")})
	if err != nil || same.GetSources() != "" || same.GetRendered() != "" {
		t.Errorf("diff of an identical bundle = %+v, %v; want empty", same, err)
	}
	if _, err := p.Diff(ctx, &keywayv1.DiffRequest{From: 1, Bundle: bundle("bad")}); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "main.star:1:1") {
		t.Errorf("bundle that does not render: %v", err)
	}
	if _, err := p.Diff(ctx, &keywayv1.DiffRequest{From: 9, Bundle: bundle("api")}); status.Code(err) != codes.NotFound {
		t.Errorf("from a missing version: %v", err)
	}
}
