package rollout_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/rollout"
	"keyway.dev/controlplane/server"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

const policy = `
a = redis("a", address = "127.0.0.1:1")
domain("a", a)
domain("b", a)
identity(default_domain = "a")
`

// startControl runs a real control plane in-process with v1 active and v2
// stored, both with domains a and b.
func startControl(t *testing.T) string {
	t.Helper()
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("control plane: %v", err)
		}
	})
	cc, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	pc := keywayv1.NewPolicyServiceClient(cc)
	for i, msg := range []string{"first", "second"} {
		b := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(policy + "# " + msg + "\n")}}
		if _, err := pc.Push(context.Background(), &keywayv1.PushRequest{Bundle: b, Message: msg, Author: "alice", Parent: uint64(i), NoActivate: i > 0}); err != nil {
			t.Fatal(err)
		}
	}
	return srv.Addr().String()
}

func TestRolloutCommands(t *testing.T) {
	addr := startControl(t)
	run := func(args ...string) clitest.Result {
		t.Helper()
		return clitest.Run(t, addr, args...)
	}
	cases := []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"start needs a domain", []string{"rollout", "start", "--to", "v2"}, 2, []string{"--domain and --to are required"}},
		{"bad steps", []string{"rollout", "start", "--domain", "a", "--to", "v2", "--steps", "1,x"}, 2, []string{"bad --steps"}},
		{"start", []string{"rollout", "start", "--domain", "a", "--to", "v2", "--steps", "10,100", "--interval", "1h", "--max-p99", "20ms"},
			0, []string{"rollout:   a-1", "versions:  v1 → v2", "state:     running", "step:      1 of 2 ([10%] 100%)", "p99 ≤ 20ms"}},
		{"second start refused", []string{"rollout", "start", "--domain", "a", "--to", "v2"}, 1, []string{"unfinished rollout"}},
		{"status shows the next step", []string{"rollout", "status", "--domain", "a"}, 0, []string{"next step: in ", "canary:    10% of connections"}},
		{"pause", []string{"rollout", "pause", "--domain", "a"}, 0, []string{"state:     paused"}},
		{"abort records why", []string{"rollout", "abort", "--domain", "a", "--reason", "dashboards red"}, 0,
			[]string{"state:     aborted", "reason:    aborted by alice@host1: dashboards red"}},
		{"list", []string{"rollout", "status"}, 0, []string{"a-1", "v1→v2", "aborted"}},
		{"audit", []string{"audit", "--limit", "3"}, 0, []string{"rollout.abort", "rollout.pause", "rollout.start"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(c.args...)
			if r.Code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, c.code, r.Stdout, r.Stderr)
			}
			for _, want := range c.out {
				if !strings.Contains(r.Stdout+r.Stderr, want) {
					t.Errorf("output lacks %q:\n%s%s", want, r.Stdout, r.Stderr)
				}
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		r := run("rollout", "status", "--domain", "a", "-o", "json")
		var got rollout.RolloutJSON
		if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
			t.Fatalf("%v: %s", err, r.Stdout)
		}
		if got.State != "aborted" || got.To != "v2" || got.Percent != 10 || got.Interval != time.Hour.String() {
			t.Errorf("json %+v", got)
		}
	})
}
