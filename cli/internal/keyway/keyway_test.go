package keyway_test

import (
	"strings"
	"testing"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/keyway"
)

// paths lists every command of the tree as typed, e.g. "keyway policy push".
func paths(t *testing.T) []string {
	t.Helper()
	var out []string
	keyway.Root(&app.App{}).Walk(func(path string, _ *dispatch.Command) { out = append(out, path) })
	if len(out) < 10 {
		t.Fatalf("the tree has only %v", out)
	}
	return out
}

func TestHelpForEveryCommand(t *testing.T) {
	for _, path := range paths(t) {
		words := strings.Fields(path)[1:]
		for _, spelling := range []string{"--help", "-h"} {
			t.Run(path+" "+spelling, func(t *testing.T) {
				r := clitest.Run(t, clitest.DeadAddr(t), append(words, spelling)...)
				if r.Code != 0 || r.Stderr != "" {
					t.Fatalf("exit %d, stderr %q", r.Code, r.Stderr)
				}
				for _, want := range []string{"Usage:\n  " + path, "Global flags:", "--addr address", "-o, --output format", "--timeout duration", "Examples:\n  keyway"} {
					if !strings.Contains(r.Stdout, want) {
						t.Errorf("help lacks %q:\n%s", want, r.Stdout)
					}
				}
			})
		}
	}
}

func TestGlobals(t *testing.T) {
	cp := clitest.Start(t)
	cp.Seed("one")
	for _, tc := range []struct {
		name   string
		addr   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "KEYWAY_ADDR is the default", addr: cp.Addr, args: []string{"policy", "history"}, stdout: "v1"},
		{name: "--addr beats KEYWAY_ADDR", addr: cp.Addr, args: []string{"--addr", "127.0.0.1:1", "policy", "history"}, code: 1, stderr: "cannot reach the control plane at 127.0.0.1:1"},
		{name: "--addr=value after the command", addr: "127.0.0.1:1", args: []string{"policy", "history", "--addr=" + cp.Addr}, stdout: "v1"},
		{name: "-o json before the command", addr: cp.Addr, args: []string{"-o", "json", "policy", "history"}, stdout: `"versions": [`},
		{name: "--output=json", addr: cp.Addr, args: []string{"policy", "history", "--output=json"}, stdout: `"head": 1`},
		{name: "bad output", addr: cp.Addr, args: []string{"policy", "history", "-o", "xml"}, code: 2, stderr: `unknown output format "xml" (want table, json or yaml)`},
		{name: "yaml", addr: cp.Addr, args: []string{"policy", "history", "-oyaml"}, stdout: "active: 1\nhead: 1\nversions:\n"},
		{name: "bad timeout", addr: cp.Addr, args: []string{"fleet", "--timeout", "0s"}, code: 2, stderr: "--timeout must be positive"},
		{name: "malformed timeout", addr: cp.Addr, args: []string{"fleet", "--timeout", "soon"}, code: 2, stderr: `invalid argument "soon" for "--timeout" flag`},
		{name: "no command", addr: cp.Addr, args: nil, code: 2, stderr: "keyway: missing command (one of: policy, fleet, top, explain, flag, rollout, audit, token, backup, version, config, completion)"},
		{name: "unknown command", addr: cp.Addr, args: []string{"polcy"}, code: 2, stderr: "error: unknown command \"polcy\" for \"keyway\"; did you mean \"policy\"?\nRun 'keyway --help' for usage.\n"},
		{name: "help word", addr: cp.Addr, args: []string{"help", "policy"}, stdout: "Commands:\n  validate"},
		{name: "version", addr: cp.Addr, args: []string{"version"}, stdout: "client: keyway v0.0.0-test (commit 0123456789abcdef, built 2026-01-02T15:04:05Z, go1.26)\nserver: keyway-control v9.9.9-server (commit fedcba9876543210, built 2026-02-03T04:05:06Z, go1.26) at " + cp.Addr + " (replica fake-0)\n"},
		{name: "version json", addr: cp.Addr, args: []string{"version", "-o", "json"}, stdout: `"version": "v0.0.0-test"`},
		{name: "version json server", addr: cp.Addr, args: []string{"version", "-o", "json"}, stdout: `"server": {` + "\n" + `    "version": "v9.9.9-server",`},
		{name: "version --client", addr: "127.0.0.1:1", args: []string{"version", "--client"}, stdout: "keyway v0.0.0-test (commit "},
		{name: "version, server unreachable", addr: "127.0.0.1:1", args: []string{"version"}, code: 1, stdout: "client: keyway v0.0.0-test", stderr: "cannot reach the control plane at 127.0.0.1:1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := clitest.Run(t, tc.addr, tc.args...)
			if r.Code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, tc.code, r.Stdout, r.Stderr)
			}
			if !strings.Contains(r.Stdout, tc.stdout) || !strings.Contains(r.Stderr, tc.stderr) {
				t.Errorf("stdout %q lacks %q or stderr %q lacks %q", r.Stdout, tc.stdout, r.Stderr, tc.stderr)
			}
		})
	}
}
