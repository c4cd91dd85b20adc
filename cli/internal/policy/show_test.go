package policy_test

import (
	"testing"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/policy"
)

func TestShow(t *testing.T) {
	cp := clitest.Start(t)
	cp.Seed("first", "second")
	for _, c := range []check{
		{
			name: "active by default",
			args: []string{"policy", "show"},
			stdout: []string{
				"version:  v2 (active)\nparent:   v1\nauthor:   alice@host1\ncreated:  2026-03-04T11:00:00Z (1h ago)\n",
				"domains:  default\nruns in:  default\nentry:    main.star\nmessage:  second\n",
				"\n==> main.star <==\nupstream a\ndomain default\n# second\n",
			},
		},
		{name: "v1", args: []string{"policy", "show", "v1"}, stdout: []string{"version:  v1\n", "parent:   -\n", "# first"}},
		{name: "plain number", args: []string{"policy", "show", "1"}, stdout: []string{"version:  v1\n"}},
		{name: "rendered as prototext", args: []string{"policy", "show", "v2", "--rendered"}, stdout: []string{"==> rendered <==", `name:`, `"default"`}},
		{name: "missing version", args: []string{"policy", "show", "v7"}, code: 1, stderr: []string{"error: no version v7\n"}},
		{name: "bad version", args: []string{"policy", "show", "seven"}, code: 2, stderr: []string{`bad version "seven": want v3 or 3`}},
		{name: "too many", args: []string{"policy", "show", "1", "2"}, code: 2, stderr: []string{"takes 0 to 1 arguments, got 2"}},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, cp.Addr) })
	}
	t.Run("json with rendered", func(t *testing.T) {
		r := check{args: []string{"policy", "show", "v1", "--rendered", "-o", "json"}}.run(t, cp.Addr)
		s := decode[policy.ShowJSON](t, r.Stdout)
		if s.Version != 1 || s.Active || s.Entry != "main.star" || !contains(s.Sources["main.star"], "# first") {
			t.Errorf("show json = %+v", s)
		}
		if !contains(string(s.Rendered), `"domains"`) {
			t.Errorf("rendered = %s", s.Rendered)
		}
	})
	t.Run("no active version", func(t *testing.T) {
		check{args: []string{"policy", "show"}, code: 1, stderr: []string{"no active version"}}.run(t, clitest.Start(t).Addr)
	})
}

func TestDiff(t *testing.T) {
	cp := clitest.Start(t)
	cp.Seed("first", "second")
	for _, c := range []check{
		{
			name: "sources then rendered",
			args: []string{"policy", "diff", "v1", "2"},
			stdout: []string{"==> sources: v1 -> v2 <==\n--- v1/main.star\n+++ v2/main.star\n-old\n+new\n\n" +
				"==> rendered: v1 -> v2 <==\n--- v1\n+++ v2\n-rendered old\n+rendered new\n"},
		},
		{name: "identical", args: []string{"policy", "diff", "v2", "v2"}, stdout: []string{"v2 and v2 are identical"}},
		{name: "missing", args: []string{"policy", "diff", "v1", "v9"}, code: 1, stderr: []string{"error: no version v9\n"}},
		{name: "missing first", args: []string{"policy", "diff", "v19", "v1"}, code: 1, stderr: []string{"error: no version v19\n"}},
		{name: "one version", args: []string{"policy", "diff", "v1"}, code: 2, stderr: []string{"give two versions, or a policy PATH"}},
		{name: "no argument", args: []string{"policy", "diff"}, code: 2, stderr: []string{"takes 1 to 2 arguments, got 0"}},
		{name: "bad second", args: []string{"policy", "diff", "v1", "x"}, code: 2, stderr: []string{`"x" is neither a version nor a policy path`}},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, cp.Addr) })
	}
	t.Run("json", func(t *testing.T) {
		r := check{args: []string{"policy", "diff", "1", "2", "-o", "json"}}.run(t, cp.Addr)
		d := decode[policy.DiffJSON](t, r.Stdout)
		if d.From != 1 || d.To != 2 || !contains(d.Sources, "+new") || !contains(d.Rendered, "+rendered new") {
			t.Errorf("diff json = %+v", d)
		}
	})
}

func TestRollback(t *testing.T) {
	cp := clitest.Start(t)
	cp.Seed("first", "second", "third")
	check{args: []string{"policy", "rollback", "v1", "--reason", "v3 broke checkout"}, stdout: []string{"active: v1 (was v3)\n"}}.run(t, cp.Addr)
	a := cp.Activations()
	if len(a) != 1 || a[0].GetVersion() != 1 || a[0].GetReason() != "v3 broke checkout" || a[0].GetAuthor() != "alice@host1" {
		t.Fatalf("activate requests = %v", a)
	}
	r := check{args: []string{"policy", "rollback", "3", "-o", "json"}}.run(t, cp.Addr)
	if j := decode[policy.RollbackJSON](t, r.Stdout); j.Active.Version != 3 || !j.Active.Active || j.Previous != 1 {
		t.Errorf("rollback json = %+v", j)
	}
	check{args: []string{"policy", "rollback", "v7"}, code: 1, stderr: []string{"error: no version v7\n"}}.run(t, cp.Addr)
	check{args: []string{"policy", "rollback"}, code: 2, stderr: []string{"takes 1 argument(s), got 0"}}.run(t, cp.Addr)
}
