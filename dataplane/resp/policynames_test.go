package resp_test

import (
	"slices"
	"strings"
	"testing"

	"keyway.dev/dataplane/resp"
	"keyway.dev/policy/commandnames"
)

// The policy module checks names against a generated copy of this table;
// when this fails, run `go generate` in dataplane/resp (or just
// `go run ./internal/genpolicynames -out ../../policy/commandnames/names_gen.go`).
func TestPolicyNamesCopyIsCurrent(t *testing.T) {
	names, admin := resp.PolicyNames()
	if got := commandnames.Names(); !slices.Equal(got, names) {
		t.Errorf("policy/commandnames names drifted from the table: %d names there, %d here", len(got), len(names))
	}
	if got := commandnames.AdminLeaves(); !slices.Equal(got, admin) {
		t.Errorf("policy/commandnames admin list drifted: %v, table has %v", got, admin)
	}
}

// Both Canonicals answer alike, errors included, for every name in the
// table in both cases, and for names that are not there.
func TestPolicyCanonicalAgrees(t *testing.T) {
	names, _ := resp.PolicyNames()
	inputs := []string{"", "nosuch", "GET|x", "config|", "config|nosuch", "config|set|x", "|get"}
	for _, n := range names {
		inputs = append(inputs, n, strings.ToLower(n))
	}
	for _, in := range inputs {
		want, werr := resp.Canonical(in)
		got, gerr := commandnames.Canonical(in)
		if got != want || (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Errorf("Canonical(%q): policy %q, %v; resp %q, %v", in, got, gerr, want, werr)
		}
	}
}
