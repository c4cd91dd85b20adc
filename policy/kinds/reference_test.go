package kinds

import (
	"bytes"
	"io/fs"
	"os"
	"slices"
	"strings"
	"testing"
)

const referencePath = "../../docs/policy-language.md"

// The reference's engine kinds are assembled from the files here; an edit
// made in the reference itself, or a file changed without regenerating,
// fails until `go generate ./policy/kinds` runs.
func TestReferenceIsAssembled(t *testing.T) {
	doc, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Assemble(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(doc, want) {
		t.Fatalf("%s is not assembled from policy/kinds/*.md; edit those files and run `go generate ./policy/kinds`", referencePath)
	}
}

// Every kind has one section, and every section is a kind's.
func TestEveryKindHasASection(t *testing.T) {
	kinds := Kinds()
	for _, k := range kinds {
		sec, err := Doc(k)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		heading, _, _ := strings.Cut(sec, "\n")
		if !strings.HasPrefix(heading, "### ") || !strings.Contains(heading, "`"+k+"`") {
			t.Errorf("%s.md starts with %q; want a \"### \" heading naming `%s`", k, heading, k)
		}
		if !strings.Contains(sec, "```starlark\n") {
			t.Errorf("%s.md has no starlark example", k)
		}
	}
	files, err := fs.Glob(sections, "*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if k := strings.TrimSuffix(f, ".md"); !slices.Contains(kinds, k) {
			t.Errorf("%s is the section of no kind of keyway.v1.Engine", f)
		}
	}
}

func TestAssembleNeedsMarkers(t *testing.T) {
	if _, err := Assemble([]byte("# a reference without markers\n")); err == nil || !strings.Contains(err.Error(), "lacks the markers") {
		t.Fatalf("Assemble without markers: %v", err)
	}
}

func TestSlugAndWrap(t *testing.T) {
	if got := slug("`transform`, `encryption_key`"); got != "transform-encryption_key" {
		t.Errorf("slug = %q", got)
	}
	if got := slug("Upstreams as engines, and `upstream`"); got != "upstreams-as-engines-and-upstream" {
		t.Errorf("slug = %q", got)
	}
	got := wrap("- E: ", []string{"[a](#a)", "[bbbbbbbb](#b)", "[c](#c)"}, 20, "  ")
	if want := "- E: [a](#a),\n  [bbbbbbbb](#b),\n  [c](#c)"; got != want {
		t.Errorf("wrap = %q, want %q", got, want)
	}
}
