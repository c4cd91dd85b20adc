package identity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"testing"
	"time"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestAuthenticate(t *testing.T) {
	sum := sha256.Sum256([]byte("pw"))
	policy := &keywayv1.Identity{Users: []*keywayv1.User{{Name: "alice", PasswordSha256: []string{hex.EncodeToString(sum[:])}}}}
	redis := &keywayv1.Identity{RedisUsers: true}
	ctx := context.Background()
	for _, tc := range []struct {
		name            string
		id              *keywayv1.Identity
		user, pass      string
		legacy          bool
		redisSays, want string
		failed          uint64
	}{
		{"policy user", policy, "alice", "pw", false, "", "", 0},
		{"wrong password", policy, "alice", "nope", false, "", WrongPassReply, 1},
		{"unknown user", policy, "bob", "pw", false, "", WrongPassReply, 1},
		{"default without password", policy, "default", "pw", true, "", NoPasswordReply, 1},
		{"redis accepts", redis, "bob", "pw", false, "", "", 0},
		{"redis refuses", redis, "bob", "nope", false, "WRONGPASS from redis", "WRONGPASS from redis", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th := NewThrottle(Limits{}) // one failure is not delayed, only counted
			asked := false
			got := Authenticate(ctx, th, tc.id, "10.0.0.1:5000", tc.user, tc.pass, tc.legacy, func() string {
				asked = true
				return tc.redisSays
			})
			if got != tc.want {
				t.Errorf("Authenticate = %q, want %q", got, tc.want)
			}
			if asked != tc.id.GetRedisUsers() {
				t.Errorf("Redis asked: %v, want %v", asked, tc.id.GetRedisUsers())
			}
			if n := th.Stats(time.Now()).Failures; n != tc.failed {
				t.Errorf("failures counted: %d, want %d", n, tc.failed)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	pc := &keywayv1.ProxyConfig{Identity: &keywayv1.Identity{
		ClientNames: []*keywayv1.NameRule{{Match: "pay-", Domain: "payments"}},
	}}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var c Conn
	if !c.Undecided() {
		t.Fatal("a new connection has a decided domain")
	}
	if d, ok := c.Decide(pc, a, "main", "", "pay-1"); !ok || d != "payments" {
		t.Fatalf("Decide = %q, %v; want payments, true", d, ok)
	}
	if _, ok := c.Decide(pc, a, "main", "", "other"); ok {
		t.Error("decided again under the same config without Forget")
	}
	c.Forget()
	if d, ok := c.Decide(pc, a, "main", "", "other"); !ok || d == "payments" {
		t.Errorf("after Forget: Decide = %q, %v; want another domain, true", d, ok)
	}
	next := &keywayv1.ProxyConfig{Identity: pc.Identity}
	if _, ok := c.Decide(next, a, "main", "", "other"); !ok {
		t.Error("a new config did not decide again")
	}
}
