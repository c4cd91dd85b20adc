package policytest

import (
	"context"
	"os"
	"strings"
	"testing"

	"keyway.dev/policy/render"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestReferenceExamplesPass runs the test(...) cases of every starlark
// example in the language reference through the proxy's engines, so an
// example that claims a command is refused or reaches an upstream is
// held to it (render's doc test only renders them).
func TestReferenceExamplesPass(t *testing.T) {
	data, err := os.ReadFile("../../docs/policy-language.md")
	if err != nil {
		t.Fatal(err)
	}
	ran := 0
	for i, src := range starlarkBlocks(string(data)) {
		b := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}
		pol, err := render.Render(context.Background(), b, render.Options{})
		if err != nil {
			continue // render's TestDocExamples reports it
		}
		for _, r := range Run(context.Background(), pol) {
			ran++
			if !r.Pass {
				t.Errorf("example %d, case %q (%s): %+v", i+1, r.Name, r.Source, r)
			}
		}
	}
	if ran == 0 {
		t.Fatal("no example of the reference has a test(...) case")
	}
}

// starlarkBlocks returns the bodies of the ```starlark fences of doc.
func starlarkBlocks(doc string) []string {
	var out []string
	var cur *strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```starlark":
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line)
			cur.WriteByte('\n')
		}
	}
	return out
}
