package kinds

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestNearCache(t *testing.T) {
	leaf := func(replicas bool) *keywayv1.Engine {
		return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main", ReadFromReplicas: replicas}}}
	}
	ok := func() *keywayv1.NearCache { return &keywayv1.NearCache{Next: leaf(false), MaxBytes: 1 << 20} }
	if errs := NearCache(ok()); len(errs) != 0 {
		t.Fatalf("a valid near cache refused: %v", errs)
	}
	for _, tc := range []struct {
		name string
		edit func(*keywayv1.NearCache)
		want string
	}{
		{"no next", func(n *keywayv1.NearCache) { n.Next = nil }, "next must be an upstream"},
		{"replicas", func(n *keywayv1.NearCache) { n.Next = leaf(true) }, "next reads from replicas"},
		{"no budget", func(n *keywayv1.NearCache) { n.MaxBytes = 0 }, "max_bytes must be positive"},
		{"huge budget", func(n *keywayv1.NearCache) { n.MaxBytes = 1 << 41 }, "above 1 TiB"},
		{"entry above budget", func(n *keywayv1.NearCache) { n.MaxEntryBytes = 2 << 20 }, "max_entry_bytes 2097152 is above max_bytes 1048576"},
		{"empty prefix", func(n *keywayv1.NearCache) { n.Prefixes = []string{""} }, "an empty prefix"},
		{"overlap", func(n *keywayv1.NearCache) { n.Prefixes = []string{"user:", "user:1"} }, `"user:" and "user:1" overlap`},
		{"command", func(n *keywayv1.NearCache) { n.Commands = []string{"SET"} }, "SET cannot be answered"},
		{"twice", func(n *keywayv1.NearCache) { n.Commands = []string{"get", "GET"} }, "GET is listed twice"},
		{"max_age", func(n *keywayv1.NearCache) { n.MaxAge = durationpb.New(-time.Second) }, "max_age must be positive"},
		{"admit_window", func(n *keywayv1.NearCache) { n.AdmitWindow = durationpb.New(0) }, "admit_window must be positive"},
		{"admit without window", func(n *keywayv1.NearCache) { n.AdmitReads = 3 }, "admit_reads 3 needs admit_window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := ok()
			tc.edit(n)
			errs := NearCache(n)
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tc.want) {
				t.Errorf("errors %v, want one containing %q", errs, tc.want)
			}
		})
	}
	if got := NearCacheEntryBytes(ok()); got != 1<<14 {
		t.Errorf("default max_entry_bytes %d, want max_bytes / 64", got)
	}
}
