package token_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/token"
	"keyway.dev/controlplane/auth"
	"keyway.dev/controlplane/etcdtest"
)

// startControl serves the real TokenService behind the real Authorizer,
// with tokens in an embedded etcd, on loopback.
func startControl(t *testing.T) string {
	t.Helper()
	tokens := auth.NewTokens(etcdtest.Start(t).Client(), "")
	a := auth.New(auth.Config{Mode: auth.Auto, Tokens: tokens})
	gs := grpc.NewServer(grpc.ChainUnaryInterceptor(a.Unary()))
	auth.NewService(tokens, nil).Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	return lis.Addr().String()
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs `keyway token ...` against addr with env.
func run(addr string, env map[string]string, args ...string) result {
	var out, errb bytes.Buffer
	a := &app.App{
		Stdout: &out,
		Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
		Now:    func() time.Time { return time.Now() },
	}
	r := &dispatch.Runner{
		Root:       &dispatch.Command{Name: "keyway", Sub: []*dispatch.Command{token.Command(a)}},
		Persistent: a.GlobalFlags,
		Help:       a.Stdout,
		Before:     a.Check,
	}
	err := r.Run(context.Background(), append([]string{"--addr", addr}, args...))
	if err != nil {
		errb.WriteString("error: " + err.Error() + "\n")
	}
	return result{code: dispatch.ExitCode(err), stdout: out.String(), stderr: errb.String()}
}

func TestTokenCommands(t *testing.T) {
	addr := startControl(t)
	first := run(addr, nil, "token", "create", "root", "--role", "admin")
	if first.code != 0 {
		t.Fatalf("create on an open control plane: %+v", first)
	}
	root := strings.TrimSpace(first.stdout)
	if !strings.HasPrefix(root, auth.SecretPrefix) || !strings.Contains(first.stderr, "shown only this once") {
		t.Fatalf("create printed %+v", first)
	}
	var created token.InfoJSON
	viewer := run(addr, map[string]string{"KEYWAY_TOKEN": root}, "token", "create", "dash", "--role", "viewer", "-o", "json")
	if err := json.Unmarshal([]byte(viewer.stdout), &created); err != nil || viewer.code != 0 {
		t.Fatalf("create -o json: %+v (%v)", viewer, err)
	}
	if created.Creator != "token:root" || created.Role != "viewer" || !strings.HasPrefix(created.Token, auth.SecretPrefix) {
		t.Fatalf("created %+v", created)
	}

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		code     int
		contains string
		hidden   []string
	}{
		{"no token once tokens exist", nil, []string{"token", "list"}, 1, "this API needs a token", nil},
		{"list by flag shows no secrets", nil, []string{"--token", root, "token", "list"}, 0, "dash", []string{root, created.Token}},
		{"list json shows no secrets", map[string]string{"KEYWAY_TOKEN": root}, []string{"token", "list", "-o", "json"}, 0, `"name": "root"`, []string{root, created.Token}},
		{"viewer cannot create", map[string]string{"KEYWAY_TOKEN": created.Token}, []string{"token", "create", "x", "--role", "viewer"}, 1, "needs the admin role", []string{created.Token}},
		{"role required", map[string]string{"KEYWAY_TOKEN": root}, []string{"token", "create", "x"}, 2, "a role is required", nil},
		{"bad role", map[string]string{"KEYWAY_TOKEN": root}, []string{"token", "create", "x", "--role", "root"}, 1, "unknown role", nil},
		{"last admin stays", map[string]string{"KEYWAY_TOKEN": root}, []string{"token", "revoke", "root"}, 1, "last admin token", nil},
		{"revoke", map[string]string{"KEYWAY_TOKEN": root}, []string{"token", "revoke", "dash"}, 0, "revoked token dash", nil},
		{"revoked token refused", map[string]string{"KEYWAY_TOKEN": created.Token}, []string{"token", "list"}, 1, "unknown or revoked", []string{created.Token}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(addr, tt.env, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout+r.stderr, tt.contains) {
				t.Fatalf("got %+v, want code %d and %q", r, tt.code, tt.contains)
			}
			for _, h := range tt.hidden {
				if strings.Contains(r.stdout+r.stderr, h) {
					t.Fatalf("output shows a secret: %+v", r)
				}
			}
		})
	}
}
