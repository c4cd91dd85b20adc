package admin

import (
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	lines := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			b.WriteString(strings.Repeat("x", i%3) + string(rune('a'+i%26)) + "\n")
		}
		return b.String()
	}
	tests := []struct {
		name string
		a, b string
		want string
	}{
		{name: "equal", a: "a\nb\n", b: "a\nb\n", want: ""},
		{name: "both empty", a: "", b: "", want: ""},
		{name: "from empty", a: "", b: "a\nb\n", want: "--- A\n+++ B\n@@ -0,0 +1,2 @@\n+a\n+b\n"},
		{name: "to empty", a: "a\n", b: "", want: "--- A\n+++ B\n@@ -1,1 +0,0 @@\n-a\n"},
		{name: "change in middle", a: "1\n2\n3\n4\n5\n6\n7\n8\n9\n", b: "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			want: "--- A\n+++ B\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
		{name: "insert keeps alignment", a: "a\nb\nc\n", b: "a\nnew\nb\nc\n",
			want: "--- A\n+++ B\n@@ -1,3 +1,4 @@\n a\n+new\n b\n c\n"},
		{name: "two distant changes make two hunks", a: "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", b: "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve\n",
			want: "--- A\n+++ B\n@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+twelve\n"},
		{name: "close changes share a hunk", a: "1\n2\n3\n4\n5\n6\n7\n8\n", b: "one\n2\n3\n4\n5\n6\n7\neight\n",
			want: "--- A\n+++ B\n@@ -1,8 +1,8 @@\n-1\n+one\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+eight\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unifiedDiff("A", "B", tt.a, tt.b); got != tt.want {
				t.Fatalf("diff:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
	// Applying the edit script to a yields b.
	a, b := lines(200), strings.Replace(lines(210), "xxb", "changed", 3)
	var rebuilt []string
	for _, e := range lineEdits(splitLines(a), splitLines(b)) {
		if e.op != '-' {
			rebuilt = append(rebuilt, e.line)
		}
	}
	if strings.Join(rebuilt, "\n")+"\n" != b {
		t.Fatal("edit script does not rebuild b")
	}
}
