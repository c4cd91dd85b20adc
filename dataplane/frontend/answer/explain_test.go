package answer

import (
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
)

func TestExplainRefusals(t *testing.T) {
	own := func(*engine.State) string { return "default" }
	empty := engine.NewState(nil, nil, "v1")
	for _, tc := range []struct {
		name string
		st   *engine.State
		args string
		want string
	}{
		{"no command", empty, "KEYWAY.EXPLAIN", "ERR wrong number of arguments for 'keyway.explain' command"},
		{"DOMAIN without a command", empty, "KEYWAY.EXPLAIN DOMAIN other", "ERR wrong number of arguments for 'keyway.explain' command"},
		{"no policy yet", nil, "KEYWAY.EXPLAIN GET k", "TRYAGAIN no policy"},
		{"own domain without a tree", empty, "KEYWAY.EXPLAIN GET k", `ERR keyway: workload domain "default" has no policy`},
		{"unknown domain named", empty, "KEYWAY.EXPLAIN DOMAIN other GET k", `ERR keyway: no workload domain "other"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, msg := Explain(nil, tc.st, &engine.Session{}, own, "TRYAGAIN no policy", words(tc.args))
			if len(out) != 0 || !strings.HasPrefix(msg, tc.want) {
				t.Fatalf("Explain = %q, %q; want the error %q", out, msg, tc.want)
			}
		})
	}
	out, msg := Explain(nil, empty, &engine.Session{}, own, "", words("KEYWAY.EXPLAIN GET"))
	if msg != "" || !strings.HasPrefix(string(out), "-ERR wrong number of arguments for 'get'") {
		t.Fatalf("Explain of a command short of its arguments = %q, %q; want Redis's refusal", out, msg)
	}
}
