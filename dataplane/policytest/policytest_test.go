package policytest

import (
	"context"
	"strings"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func fwd(name string) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name}}}
}

func standalone(name string) *keywayv1.Upstream {
	return &keywayv1.Upstream{Name: name, Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}
}

func testPolicy(tests ...*keywayv1.PolicyTest) *keywayv1.Policy {
	route := &keywayv1.Engine{Kind: &keywayv1.Engine_Route{Route: &keywayv1.Route{
		Routes:  []*keywayv1.PrefixRoute{{Prefix: "session:", Engine: fwd("sessions")}},
		Default: fwd("main"),
	}}}
	guarded := &keywayv1.Engine{Source: "main.star:3:9", Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{
		DenyCommands: []string{"FLUSHALL"}, Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Commands{Commands: &keywayv1.Commands{
			Locks: fwd("main"), LockPrefix: "l:", Next: route,
		}}},
	}}}
	return &keywayv1.Policy{
		Upstreams: []*keywayv1.Upstream{standalone("main"), standalone("sessions")},
		Domains: []*keywayv1.DomainPolicy{
			{Name: "web", Root: guarded},
			{Name: "broken", Root: &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "nope"}}}},
			{Name: "tenant", Root: &keywayv1.Engine{Kind: &keywayv1.Engine_Prefix{Prefix: &keywayv1.Prefix{Prefix: "t:", Next: route}}}},
		},
		Tests: tests,
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		tc       *keywayv1.PolicyTest
		pass     bool
		upstream string
		reason   []string // substrings of the reason
	}{
		{&keywayv1.PolicyTest{Name: "route", Domain: "web", Command: []string{"GET", "session:1"}, ExpectUpstream: "sessions"}, true, "sessions", nil},
		{&keywayv1.PolicyTest{Name: "default", Domain: "web", Command: []string{"set", "k", "v"}, ExpectUpstream: "main"}, true, "main", nil},
		{&keywayv1.PolicyTest{Name: "refused", Domain: "web", Command: []string{"FLUSHALL"}, ExpectError: "deny_commands"}, true, "", nil},
		{&keywayv1.PolicyTest{Name: "lock", Domain: "web", Command: []string{"KEYWAY.LOCK", "job", "1000"}, ExpectUpstream: "main"}, true, "main", nil},
		{&keywayv1.PolicyTest{Name: "arity", Domain: "web", Command: []string{"GET"}, ExpectError: "wrong number of arguments"}, true, "", nil},
		{&keywayv1.PolicyTest{Name: "prefix then route", Domain: "tenant", Command: []string{"GET", "x"}, ExpectUpstream: "main"}, true, "main", nil},
		{&keywayv1.PolicyTest{Name: "wrong upstream", Source: "main.star:9:5", Domain: "web", Command: []string{"GET", "session:1"}, ExpectUpstream: "main"},
			false, "sessions", []string{`expected the command to reach upstream "main", but it reached "sessions"`, "path:\n  1. guard (main.star:3:9): allowed", "upstream sessions"}},
		{&keywayv1.PolicyTest{Name: "refused, not routed", Domain: "web", Command: []string{"FLUSHALL"}, ExpectUpstream: "main"},
			false, "", []string{`but it was refused: ERR keyway: command FLUSHALL is in domain "web"'s deny_commands`}},
		{&keywayv1.PolicyTest{Name: "not refused", Domain: "web", Command: []string{"GET", "a"}, ExpectError: "refused"},
			false, "main", []string{`expected an error containing "refused", but the command reached upstream "main"`}},
		{&keywayv1.PolicyTest{Name: "other error", Domain: "web", Command: []string{"FLUSHALL"}, ExpectError: "quota"},
			false, "", []string{`but the error was: ERR keyway: command FLUSHALL`}},
		{&keywayv1.PolicyTest{Name: "unknown domain", Domain: "nope", Command: []string{"GET", "a"}, ExpectUpstream: "main"},
			false, "", []string{`domain "nope" is not declared by the policy`}},
		{&keywayv1.PolicyTest{Name: "broken domain", Domain: "broken", Command: []string{"GET", "a"}, ExpectUpstream: "main"},
			false, "", []string{`domain "broken" does not build: root.upstream: unknown upstream "nope"`}},
		{&keywayv1.PolicyTest{Name: "prefixed on the way", Domain: "tenant", Command: []string{"SET", "x", "v"}, ExpectCommand: []string{"SET", "t:x", "v"}}, true, "main", nil},
		{&keywayv1.PolicyTest{Name: "prefixed, to main", Domain: "tenant", Command: []string{"GET", "x"}, ExpectUpstream: "main", ExpectCommand: []string{"GET", "t:x"}}, true, "main", nil},
		{&keywayv1.PolicyTest{Name: "sent otherwise", Domain: "tenant", Command: []string{"GET", "x"}, ExpectCommand: []string{"GET", "x"}},
			false, "main", []string{`expected the upstream to receive ["GET", "x"], but it received ["GET", "t:x"]`}},
		{&keywayv1.PolicyTest{Name: "right command, wrong upstream", Domain: "tenant", Command: []string{"GET", "x"}, ExpectUpstream: "sessions", ExpectCommand: []string{"GET", "t:x"}},
			false, "main", []string{`expected the command to reach upstream "sessions", but it reached "main"`}},
		{&keywayv1.PolicyTest{Name: "refused, not sent", Domain: "web", Command: []string{"FLUSHALL"}, ExpectCommand: []string{"FLUSHALL"}},
			false, "", []string{`expected the upstream to receive ["FLUSHALL"], but the command was refused: ERR keyway: command FLUSHALL`}},
		{&keywayv1.PolicyTest{Name: "both kinds of expectation", Domain: "web", Command: []string{"GET", "a"}, ExpectCommand: []string{"GET", "a"}, ExpectError: "x"},
			false, "main", []string{"both that the command reaches an upstream and an error"}},
		{&keywayv1.PolicyTest{Name: "no expectation", Domain: "web", Command: []string{"GET", "a"}},
			false, "main", []string{"names no expectation"}},
	}
	var cases []*keywayv1.PolicyTest
	for _, tt := range tests {
		cases = append(cases, tt.tc)
	}
	results := Run(context.Background(), testPolicy(cases...))
	if len(results) != len(tests) {
		t.Fatalf("%d results for %d cases", len(results), len(tests))
	}
	for i, tt := range tests {
		res := results[i]
		t.Run(tt.tc.GetName(), func(t *testing.T) {
			if res.Name != tt.tc.GetName() || res.Source != tt.tc.GetSource() || res.Domain != tt.tc.GetDomain() {
				t.Errorf("result names %q %q %q", res.Name, res.Source, res.Domain)
			}
			if res.Pass != tt.pass || res.Upstream != tt.upstream {
				t.Errorf("pass %v upstream %q, want %v %q; reason:\n%s", res.Pass, res.Upstream, tt.pass, tt.upstream, res.Reason)
			}
			if tt.pass && res.Reason != "" {
				t.Errorf("a passing case has a reason: %s", res.Reason)
			}
			for _, w := range tt.reason {
				if !strings.Contains(res.Reason, w) {
					t.Errorf("reason lacks %q:\n%s", w, res.Reason)
				}
			}
		})
	}
}
