package frontend

import (
	"fmt"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func explainRoots() map[string]engine.Engine {
	return map[string]engine.Engine{
		"default": &engine.Labeled{Kind: "upstream", Label: "cache", Engine: &leaf{name: "cache"}},
		"web":     &engine.Labeled{Kind: "upstream", Label: "webcache", Engine: &leaf{name: "webcache"}},
	}
}

func bulkLines(lines ...string) string {
	s := fmt.Sprintf("*%d\r\n", len(lines))
	for _, l := range lines {
		s += fmt.Sprintf("$%d\r\n%s\r\n", len(l), l)
	}
	return s
}

func TestExplainAnotherDomain(t *testing.T) {
	h := startServer(t, DefaultLimits())
	install(h.cur, "v1", explainRoots(), nil)
	c := dialRaw(t, h.addr)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"KEYWAY.EXPLAIN", "SET", "k", "v"}, bulkLines(`1. upstream "cache": upstream cache`)},
		{[]string{"KEYWAY.EXPLAIN", "domain", "web", "SET", "k", "v"},
			bulkLines("domain web (stable tree, policy v1)", `1. upstream "webcache": upstream webcache`)},
		{[]string{"KEYWAY.EXPLAIN", "DOMAIN", "default", "GET", "k"},
			bulkLines("domain default (stable tree, policy v1)", `1. upstream "cache": upstream cache`)},
		{[]string{"KEYWAY.EXPLAIN", "DOMAIN", "nope", "GET", "k"}, "-ERR keyway: no workload domain \"nope\" (domains: default, web)\r\n"},
		{[]string{"KEYWAY.EXPLAIN", "DOMAIN", "web"}, "-ERR wrong number of arguments for 'keyway.explain' command\r\n"},
	}
	for _, s := range steps {
		if got := c.cmd(s.args...); got != s.want {
			t.Fatalf("%v: got %q, want %q", s.args, got, s.want)
		}
	}
}

func TestExplainOtherDomainNeedsNoAuthPolicy(t *testing.T) {
	// With AUTH required, domains are tenants: a connection explains its
	// own domain only.
	h := startServer(t, DefaultLimits())
	install(h.cur, "v1", explainRoots(), &keywayv1.ProxyConfig{
		Identity: &keywayv1.Identity{DefaultDomain: "default", RequireAuth: true,
			Users: []*keywayv1.User{{Name: "u", PasswordSha256: []string{sha("p")}}}},
	})
	c := dialRaw(t, h.addr)
	if got := c.cmd("KEYWAY.EXPLAIN", "DOMAIN", "web", "GET", "k"); got != "-NOAUTH Authentication required.\r\n" {
		t.Fatalf("before AUTH: %q", got)
	}
	if got := c.cmd("AUTH", "u", "p"); got != "+OK\r\n" {
		t.Fatalf("AUTH: %q", got)
	}
	if got := c.cmd("KEYWAY.EXPLAIN", "DOMAIN", "web", "GET", "k"); !strings.HasPrefix(got, "-NOPERM keyway: this connection may explain only its own workload domain \"default\"") {
		t.Fatalf("other domain: %q", got)
	}
	if got := c.cmd("KEYWAY.EXPLAIN", "DOMAIN", "default", "GET", "k"); got != bulkLines("domain default (stable tree, policy v1)", `1. upstream "cache": upstream cache`) {
		t.Fatalf("own domain: %q", got)
	}
}
