package frontend

import (
	"testing"

	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestUpstreamLogin plays the same session directly against
// redis-server and through a proxy whose clients log in on Redis itself
// (identity(redis_users = True), as keyway-proxy --upstream): an ACL user's commands, transactions and
// blocking commands run as that user, refusals are Redis's words, a
// failed AUTH keeps the user, and RESET logs out.
func TestUpstreamLogin(t *testing.T) {
	r := redistest.Start(t)
	h := withPolicyIdentity(t, Config{Limits: DefaultLimits()}, &keywayv1.Identity{DefaultDomain: "default", RedisUsers: true},
		forward("main"), standalone("main", r))
	admin := dialRaw(t, r.Addr)
	if got := admin.cmd("ACL", "SETUSER", "bob", "on", ">123", "+@all", "-get", "-blpop", "~*"); got != "+OK\r\n" {
		t.Fatalf("ACL SETUSER = %q", got)
	}
	script := [][]string{
		{"AUTH", "bob", "wrong"},
		{"ACL", "WHOAMI"},
		{"AUTH", "bob", "123"},
		{"ACL", "WHOAMI"},
		{"SET", "k", "v"},
		{"GET", "k"},
		{"MULTI"},
		{"GET", "k"},
		{"EXEC"},
		{"MULTI"},
		{"SET", "k", "w"},
		{"ACL", "WHOAMI"},
		{"EXEC"},
		{"BLPOP", "list", "0.01"},
		{"AUTH", "bob", "wrong"},
		{"ACL", "WHOAMI"},
		{"HELLO", "3", "AUTH", "bob", "123"},
		{"ACL", "WHOAMI"},
		{"RESET"},
		{"ACL", "WHOAMI"},
		{"GET", "k"},
		{"AUTH", "nobody", "x"},
		{"AUTH", "x"},
	}
	direct, proxy := dialRaw(t, r.Addr), dialRaw(t, h.addr)
	for _, args := range script {
		want, got := direct.cmd(args...), proxy.cmd(args...)
		if args[0] == "HELLO" {
			continue // the connection id differs
		}
		if got != want {
			t.Fatalf("%v: proxy %q, redis %q", args, got, want)
		}
	}
}
