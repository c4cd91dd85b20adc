package render

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// docPath is the language reference; its examples are executable.
const docPath = "../../docs/policy-language.md"

// TestDocExamples renders every ```starlark block of the reference as a
// complete one-file policy, so the documentation cannot go stale. Output
// and error samples use other fence languages.
func TestDocExamples(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := starlarkBlocks(string(data))
	if len(blocks) < 20 {
		t.Fatalf("found %d starlark blocks in %s, want one per builtin", len(blocks), docPath)
	}
	for _, blk := range blocks {
		t.Run(fmt.Sprintf("line%d", blk.line), func(t *testing.T) {
			b := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(blk.src)}}
			if _, err := Render(context.Background(), b, Options{}); err != nil {
				t.Errorf("%s:%d: block does not render:\n%v", docPath, blk.line, err)
			}
		})
	}
}

// TestDocCoversBuiltins requires a section for every builtin.
func TestDocCoversBuiltins(t *testing.T) {
	data, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	for name := range builtins {
		if !strings.Contains(string(data), "\n"+name+"(") {
			t.Errorf("%s has no signature line for %s(...)", docPath, name)
		}
	}
}

type block struct {
	line int
	src  string
}

// starlarkBlocks returns the bodies of ```starlark fences with the line
// each starts on.
func starlarkBlocks(doc string) []block {
	var out []block
	var cur *strings.Builder
	start := 0
	for i, line := range strings.Split(doc, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(line) == "```starlark":
			cur, start = &strings.Builder{}, i+2
		case cur != nil && strings.TrimSpace(line) == "```":
			out = append(out, block{line: start, src: cur.String()})
			cur = nil
		case cur != nil:
			cur.WriteString(line)
			cur.WriteByte('\n')
		}
	}
	return out
}
