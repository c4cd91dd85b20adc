package buildinfo

import (
	"strings"
	"testing"
)

func TestGetDefaults(t *testing.T) {
	i := Get()
	if i.Version == "" || i.Go == "" {
		t.Fatalf("Get() = %+v, want a version and a Go release", i)
	}
	if !strings.HasPrefix(Line("keyway"), "keyway "+i.Version+" (commit ") {
		t.Fatalf("Line = %q", Line("keyway"))
	}
}

func TestGetStamped(t *testing.T) {
	defer func(v, c, d string) { version, commit, date = v, c, d }(version, commit, date)
	version, commit, date = "v1.2.3-4-gabcdef0-dirty", "abcdef0123456789", "2026-01-02T15:04:05Z"
	i := Get()
	if i.Version != version || i.Commit != commit || i.Date != date {
		t.Fatalf("Get() = %+v", i)
	}
	want := "v1.2.3-4-gabcdef0-dirty (commit abcdef0123456789, built 2026-01-02T15:04:05Z, " + i.Go + ")"
	if i.String() != want {
		t.Fatalf("String() = %q, want %q", i.String(), want)
	}
}
