package policy_test

import (
	"strings"
	"testing"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/policy"
)

func TestHistory(t *testing.T) {
	cp := clitest.Start(t)
	cp.Seed("first", "second: a message long enough that the table has to cut it somewhere before the end\nand a second line", "third")
	check{args: []string{"policy", "rollback", "v2"}}.run(t, cp.Addr)

	t.Run("table", func(t *testing.T) {
		r := check{args: []string{"policy", "history"}}.run(t, cp.Addr)
		want := []string{
			"VERSION  ACTIVE  AUTHOR       AGE  DIGEST        MESSAGE",
			"v3               alice@host1  1h   333333333333  third",
			"v2       *       alice@host1  2h   222222222222  second: a message long enough that the table has to cut it…",
			"v1               alice@host1  3h   111111111111  first",
		}
		if got := strings.Split(strings.TrimRight(r.Stdout, "\n"), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("history:\n%s\nwant:\n%s", r.Stdout, strings.Join(want, "\n"))
		}
	})
	t.Run("limit", func(t *testing.T) {
		r := check{args: []string{"policy", "history", "--limit", "1"}}.run(t, cp.Addr)
		if n := strings.Count(r.Stdout, "\n"); n != 2 || !contains(r.Stdout, "v3") {
			t.Errorf("--limit 1:\n%s", r.Stdout)
		}
	})
	t.Run("json", func(t *testing.T) {
		r := check{args: []string{"policy", "history", "-o", "json"}}.run(t, cp.Addr)
		h := decode[policy.HistoryJSON](t, r.Stdout)
		if h.Active != 2 || h.Head != 3 || len(h.Versions) != 3 {
			t.Fatalf("history json = %+v", h)
		}
		v := h.Versions[1]
		if v.Version != 2 || !v.Active || v.Created != "2026-03-04T10:00:00Z" || !strings.HasSuffix(v.Message, "second line") || len(v.Digest) != 64 {
			t.Errorf("v2 = %+v", v)
		}
	})
	t.Run("empty", func(t *testing.T) {
		check{args: []string{"policy", "history"}, stdout: []string{"no versions yet"}}.run(t, clitest.Start(t).Addr)
	})
	t.Run("arguments are refused", func(t *testing.T) {
		check{args: []string{"policy", "history", "v1"}, code: 2, stderr: []string{"takes no arguments"}}.run(t, cp.Addr)
	})
}
