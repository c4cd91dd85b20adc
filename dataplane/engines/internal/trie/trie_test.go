package trie

import (
	"fmt"
	"strings"
	"testing"
)

func TestLongest(t *testing.T) {
	prefixes := []string{"user:", "user:admin:", "u", "session:", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "z"}
	tr, err := New(prefixes)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key  string
		want string // "" for no match
	}{
		{"user:1", "user:"},
		{"user:admin:7", "user:admin:"},
		{"user:admin", "user:"},
		{"us", "u"},
		{"u", "u"},
		{"session:x", "session:"},
		{"sess", ""},
		{"", ""},
		{"zz", "z"},
		{"j", "j"},
		{"k", ""},
		{"\xff", ""},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got := ""
			if i := tr.Longest([]byte(tt.key)); i >= 0 {
				got = prefixes[i]
			}
			if got != tt.want {
				t.Errorf("Longest(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// TestAgainstScan checks the trie against the obvious linear scan on
// many keys, wide nodes included.
func TestAgainstScan(t *testing.T) {
	var prefixes []string
	for i := range 200 {
		prefixes = append(prefixes, fmt.Sprintf("%c%d", 'a'+i%26, i/26))
	}
	tr, err := New(prefixes)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2000 {
		key := fmt.Sprintf("%c%d:%d", 'a'+i%27, i%11, i)
		want, wantLen := -1, -1
		for j, p := range prefixes {
			if strings.HasPrefix(key, p) && len(p) > wantLen {
				want, wantLen = j, len(p)
			}
		}
		if got := tr.Longest([]byte(key)); got != want {
			t.Fatalf("Longest(%q) = %d, want %d", key, got, want)
		}
	}
}

func TestEmptyPrefixAndDuplicates(t *testing.T) {
	tr, err := New([]string{"", "a"})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.Longest([]byte("xyz")); got != 0 {
		t.Errorf("empty prefix should match every key, got %d", got)
	}
	if _, err := New([]string{"a", "b", "a"}); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Errorf("duplicate prefix: err = %v", err)
	}
	if e, _ := New(nil); !e.Empty() {
		t.Error("trie of nothing is not Empty")
	}
}

func BenchmarkLongest(b *testing.B) {
	tr, _ := New([]string{"user:", "user:admin:", "session:", "cache:", "feed:", "lock:"})
	key := []byte("user:admin:12345678")
	b.ReportAllocs()
	for b.Loop() {
		if tr.Longest(key) != 1 {
			b.Fatal("wrong match")
		}
	}
}
