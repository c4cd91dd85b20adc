package auth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keyway.dev/controlplane/auth"
	"keyway.dev/controlplane/etcdtest"
)

func TestTokensStoreOnlyHashes(t *testing.T) {
	cli := etcdtest.Start(t).Client()
	ctx := context.Background()
	tokens := auth.NewTokens(cli, "")
	info, secret, err := tokens.Create(ctx, "ci", auth.Author, "token:root")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, auth.SecretPrefix) || len(secret) < 40 {
		t.Fatalf("secret %q is not a long prefixed random string", secret)
	}
	if info.GetRole() != "author" || info.GetCreator() != "token:root" || info.GetCreated() == nil {
		t.Fatalf("info = %v", info)
	}
	resp, err := cli.Get(ctx, "/keyway/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 2 {
		t.Fatalf("%d keys stored, want 2 (by name and by hash)", len(resp.Kvs))
	}
	for _, kv := range resp.Kvs {
		if strings.Contains(string(kv.Key)+string(kv.Value), secret) {
			t.Fatalf("etcd key %s holds the secret", kv.Key)
		}
		if strings.Contains(string(kv.Key), "sha256/") && !strings.HasSuffix(string(kv.Key), auth.Hash(secret)) {
			t.Fatalf("hash key %s is not the secret's SHA-256", kv.Key)
		}
	}
}

func TestTokensLifecycle(t *testing.T) {
	cli := etcdtest.Start(t).Client()
	ctx := context.Background()
	tokens := auth.NewTokens(cli, "blue")
	other := auth.NewTokens(cli, "green")

	if some, err := tokens.Any(ctx); err != nil || some {
		t.Fatalf("Any on an empty fleet = %v, %v", some, err)
	}
	_, rootSecret, err := tokens.Create(ctx, "root", auth.Admin, "test")
	if err != nil {
		t.Fatal(err)
	}
	_, viewSecret, err := tokens.Create(ctx, "dash", auth.Viewer, "token:root")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"lookup finds by secret", func(t *testing.T) {
			info, err := tokens.Lookup(ctx, viewSecret)
			if err != nil || info.GetName() != "dash" || info.GetRole() != "viewer" {
				t.Fatalf("Lookup = %v, %v", info, err)
			}
		}},
		{"unknown secret", func(t *testing.T) {
			info, err := tokens.Lookup(ctx, auth.SecretPrefix+"nope")
			if err != nil || info != nil {
				t.Fatalf("Lookup = %v, %v; want nil, nil", info, err)
			}
		}},
		{"fleets are apart", func(t *testing.T) {
			info, err := other.Lookup(ctx, rootSecret)
			if err != nil || info != nil {
				t.Fatalf("another fleet's Lookup = %v, %v", info, err)
			}
		}},
		{"duplicate name", func(t *testing.T) {
			if _, _, err := tokens.Create(ctx, "dash", auth.Admin, "x"); !errors.Is(err, auth.ErrTokenExists) {
				t.Fatalf("err = %v, want ErrTokenExists", err)
			}
		}},
		{"bad name", func(t *testing.T) {
			if _, _, err := tokens.Create(ctx, "a/b", auth.Viewer, "x"); err == nil {
				t.Fatal("a name with a slash was accepted")
			}
		}},
		{"list sorted without secrets", func(t *testing.T) {
			list, err := tokens.List(ctx)
			if err != nil || len(list) != 2 || list[0].GetName() != "dash" || list[1].GetName() != "root" {
				t.Fatalf("List = %v, %v", list, err)
			}
		}},
		{"last admin stays", func(t *testing.T) {
			if _, err := tokens.Revoke(ctx, "root"); !errors.Is(err, auth.ErrLastAdmin) {
				t.Fatalf("err = %v, want ErrLastAdmin", err)
			}
		}},
		{"revoke", func(t *testing.T) {
			if _, err := tokens.Revoke(ctx, "dash"); err != nil {
				t.Fatal(err)
			}
			if info, err := tokens.Lookup(ctx, viewSecret); err != nil || info != nil {
				t.Fatalf("revoked token still looks up: %v, %v", info, err)
			}
			if _, err := tokens.Revoke(ctx, "dash"); !errors.Is(err, auth.ErrTokenNotFound) {
				t.Fatalf("second revoke err = %v, want ErrTokenNotFound", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

func TestBootstrap(t *testing.T) {
	cli := etcdtest.Start(t).Client()
	ctx := context.Background()
	tokens := auth.NewTokens(cli, "")
	path := filepath.Join(t.TempDir(), "admin-token")

	created, err := auth.Bootstrap(ctx, tokens, path)
	if err != nil || !created {
		t.Fatalf("first Bootstrap = %v, %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	info, err := tokens.Lookup(ctx, strings.TrimSpace(string(b)))
	if err != nil || info.GetRole() != "admin" || info.GetName() != auth.BootstrapName {
		t.Fatalf("the written token looks up as %v, %v", info, err)
	}
	again, err := auth.Bootstrap(ctx, tokens, filepath.Join(t.TempDir(), "second"))
	if err != nil || again {
		t.Fatalf("second Bootstrap = %v, %v; want no new token", again, err)
	}
}
