package cluster

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"

	"keyway.dev/dataplane/redistest"
)

// TestSlotMatchesRedis compares Slot with CLUSTER KEYSLOT of a live
// cluster-mode redis-server, hash tag edge cases first, then random keys.
func TestSlotMatchesRedis(t *testing.T) {
	srv := redistest.Start(t, "cluster-enabled yes", "cluster-config-file nodes.conf",
		"cluster-port "+redistest.NewPort)
	keys := []string{
		"", "foo", "bar", "123456789", "{user1}.name", "{user1}.mail", "{}", "{}{x}",
		"a{b}c{d}", "{{a}}", "}{a}", "{a", "a}", "{a}}", "x{}y{z}", "\x00\xff{\x01}",
		"somewhat-longer-key:with:colons:0042",
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		b := make([]byte, r.IntN(24))
		for i := range b {
			b[i] = "ab{}:01"[r.IntN(7)]
		}
		keys = append(keys, string(b))
	}
	for _, k := range keys {
		t.Run(fmt.Sprintf("%q", k), func(t *testing.T) {
			want := srv.Do("CLUSTER", "KEYSLOT", k)
			if got := ":" + strconv.Itoa(Slot([]byte(k))); got != want {
				t.Fatalf("Slot(%q) = %s, redis says %s", k, got, want)
			}
		})
	}
}

// TestSlotHashTags pins the hash tag rule: keys with the same non-empty
// tag share a slot.
func TestSlotHashTags(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"{user1}.a", "{user1}.b", true},
		{"{user1}.a", "user1", true},
		{"x{user1}", "y{user1}z", true},
		{"{}.a", "{}.b", false}, // empty tag: the whole key is hashed
		{"a{b}{c}", "z{b}", true},
	} {
		t.Run(tc.a+" "+tc.b, func(t *testing.T) {
			if got := Slot([]byte(tc.a)) == Slot([]byte(tc.b)); got != tc.same {
				t.Fatalf("same slot = %v, want %v", got, tc.same)
			}
		})
	}
}
