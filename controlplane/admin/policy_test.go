package admin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

type cached struct{ v *keywayv1.PolicyVersion }

func (c cached) Active() *keywayv1.PolicyVersion { return c.v }

func fakeRender(_ context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
	src := string(b.GetFiles()["main.star"])
	if strings.HasPrefix(src, "bad") {
		return nil, errors.New("main.star:1:1: undefined: bad")
	}
	return &keywayv1.Policy{Domains: []*keywayv1.DomainPolicy{{Name: src}}}, nil
}

func TestEtcdDown(t *testing.T) {
	e, err := store.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(store.Config{Endpoints: e.Endpoints(), OpTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	b := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte("web")}}
	rec, err := st.Push(ctx, store.Push{Bundle: b, Rendered: &keywayv1.Policy{}})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPolicy(st, fakeRender, cached{rec}, nil)
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		call func() error
		code codes.Code
	}{
		{"push refused", func() error {
			_, err := p.Push(ctx, &keywayv1.PushRequest{Bundle: b, Parent: 1})
			return err
		}, codes.Unavailable},
		{"activate refused", func() error {
			_, err := p.Activate(ctx, &keywayv1.ActivateRequest{Version: 1})
			return err
		}, codes.Unavailable},
		{"render errors still reported", func() error {
			bad := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte("bad")}}
			_, err := p.Push(ctx, &keywayv1.PushRequest{Bundle: bad})
			return err
		}, codes.InvalidArgument},
		{"active version served from the cache", func() error {
			resp, err := p.GetVersion(ctx, &keywayv1.GetVersionRequest{})
			if err == nil && resp.GetVersion().GetVersion() != 1 {
				return errors.New("wrong version")
			}
			return err
		}, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if status.Code(err) != tt.code {
				t.Fatalf("code %v (%v), want %v", status.Code(err), err, tt.code)
			}
			if tt.code == codes.Unavailable && !strings.HasPrefix(status.Convert(err).Message(), "etcd unavailable: ") {
				t.Fatalf("message %q", status.Convert(err).Message())
			}
		})
	}
}
