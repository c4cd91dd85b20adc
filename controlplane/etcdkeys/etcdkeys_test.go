package etcdkeys

import (
	"strings"
	"testing"
)

func TestLayout(t *testing.T) {
	f := For("prod")
	for got, want := range map[string]string{
		f.Base():                   "/keyway/prod/",
		f.Head():                   "/keyway/prod/head",
		f.Active():                 "/keyway/prod/active",
		f.Version(42):              "/keyway/prod/versions/00000000000000000042",
		f.Status("proxy-1"):        "/keyway/prod/status/proxy-1",
		f.Rollout("default", 3):    "/keyway/prod/domains/default/rollouts/0000000003",
		f.Pin("default"):           "/keyway/prod/domains/default/pin",
		f.Flags():                  "/keyway/prod/flags/",
		f.TokensByName():           "/keyway/prod/tokens/name/",
		f.TokensByHash():           "/keyway/prod/tokens/sha256/",
		f.Audit():                  "/keyway/prod/audit/",
		f.RolloutLeader():          "/keyway/prod/rollout-leader",
		f.TelemetryRun("a/b", 255): "/keyway/prod/telemetry/replicas/a_b/ff/",
	} {
		if got != want {
			t.Errorf("key %q; want %q", got, want)
		}
	}
	if For("").Base() != "/keyway/default/" {
		t.Fatalf("the empty fleet is %q; want the default fleet", For("").Base())
	}
}

// TestVersionsSortNumerically guards the zero padding: etcd lists keys in
// byte order, and "10" must come after "9".
func TestVersionsSortNumerically(t *testing.T) {
	f := For("")
	if !(f.Version(9) < f.Version(10)) || !(f.Rollout("d", 9) < f.Rollout("d", 10)) {
		t.Fatal("numbered keys do not sort in numeric order")
	}
}

// TestFleetsDoNotOverlap guards the trailing slash: a fleet named "a"
// must not see the keys of a fleet named "ab" through a prefix read.
func TestFleetsDoNotOverlap(t *testing.T) {
	if strings.HasPrefix(For("ab").Head(), For("a").Base()) {
		t.Fatal("fleet a's prefix holds fleet ab's keys")
	}
	if strings.HasPrefix(For("x").Pin("ab"), For("x").Rollouts("a")) {
		t.Fatal("domain a's rollouts prefix holds domain ab's pin")
	}
}
