package render

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// examplesDir holds the example policies newcomers read first.
const examplesDir = "../../policies/examples"

// TestExamples renders every bundle under policies/examples, so an
// example can never show something the language refuses.
func TestExamples(t *testing.T) {
	entries, err := os.ReadDir(examplesDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		n++
		t.Run(e.Name(), func(t *testing.T) {
			b, err := LoadBundle(filepath.Join(examplesDir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			p, err := Render(context.Background(), b, Options{})
			if err != nil {
				t.Fatalf("render:\n%v", err)
			}
			if len(p.GetTests()) == 0 {
				t.Errorf("example declares no test(...) cases")
			}
		})
	}
	if n == 0 {
		t.Fatal("no examples found")
	}
}
