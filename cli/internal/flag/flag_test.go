package flag_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"keyway.dev/cli/internal/clitest"
	kflag "keyway.dev/cli/internal/flag"
	"keyway.dev/controlplane/server"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// startControl runs a real control plane in-process with a policy of
// domains a and b active.
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
	src := "a = redis(\"a\", address = \"127.0.0.1:1\")\ndomain(\"a\", a)\ndomain(\"b\", a)\nidentity(default_domain = \"a\")\n"
	b := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}
	if _, err := keywayv1.NewPolicyServiceClient(cc).Push(context.Background(), &keywayv1.PushRequest{Bundle: b, Message: "m", Author: "alice"}); err != nil {
		t.Fatal(err)
	}
	return srv.Addr().String()
}

func TestFlagCommands(t *testing.T) {
	addr := startControl(t)
	cases := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"no state", []string{"flag", "set", "f", "--domain", "a"}, 2, "exactly one of --on, --off or --percent"},
		{"two states", []string{"flag", "set", "f", "--domain", "a", "--on", "--percent", "3"}, 2, "exactly one of"},
		{"no domain", []string{"flag", "set", "f", "--on"}, 2, "--domain is required"},
		{"over 100", []string{"flag", "set", "f", "--domain", "a", "--percent", "101"}, 2, "over 100"},
		{"unknown domain", []string{"flag", "set", "f", "--domain", "zz", "--on"}, 1, "no domain \"zz\""},
		{"new", []string{"flag", "set", "new-cache", "--domain", "a", "--percent", "30"}, 0, "flag new-cache in a: 30% (new flag)"},
		{"change", []string{"flag", "set", "new-cache", "--domain", "a", "--on"}, 0, "flag new-cache in a: on (was 30%)"},
		{"other domain", []string{"flag", "set", "other", "--domain", "b", "--off"}, 0, "flag other in b: off (new flag)"},
		{"list one domain", []string{"flag", "list", "--domain", "a"}, 0, "a       new-cache  on     alice@host1"},
		{"delete", []string{"flag", "delete", "new-cache", "--domain", "a"}, 0, "deleted flag new-cache in a (was on)"},
		{"delete again", []string{"flag", "delete", "new-cache", "--domain", "a"}, 1, "not found"},
		{"audit", []string{"audit"}, 0, "flag.delete"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clitest.Run(t, addr, c.args...)
			if r.Code != c.code || !strings.Contains(r.Stdout+r.Stderr, c.out) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s%s", r.Code, c.code, c.out, r.Stdout, r.Stderr)
			}
		})
	}
	t.Run("json", func(t *testing.T) {
		r := clitest.Run(t, addr, "flag", "list", "-o", "json")
		var got kflag.ListJSON
		if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
			t.Fatalf("%v: %s", err, r.Stdout)
		}
		if len(got.Flags) != 1 || got.Flags[0].Domain != "b" || got.Flags[0].State != "off" {
			t.Errorf("json %+v", got)
		}
	})
}

// TestPercentHelpShowsNoSentinel: --percent has no default to show.
func TestPercentHelpShowsNoSentinel(t *testing.T) {
	r := clitest.Run(t, clitest.DeadAddr(t), "flag", "set", "--help")
	if r.Code != 0 || !strings.Contains(r.Stdout, "--percent share") || strings.Contains(r.Stdout, "default -1") {
		t.Errorf("flag set --help: exit %d\n%s", r.Code, r.Stdout)
	}
	for _, bad := range []string{"-1", "x", "101"} {
		r := clitest.Run(t, clitest.DeadAddr(t), "flag", "set", "f", "--domain", "d", "--percent", bad)
		if r.Code != 2 || !strings.Contains(r.Stderr, `for "--percent" flag`) {
			t.Errorf("--percent %s: exit %d, %q; want 2", bad, r.Code, r.Stderr)
		}
	}
}
