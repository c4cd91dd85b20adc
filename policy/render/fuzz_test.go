package render

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// FuzzRender feeds arbitrary Starlark to the renderer, seeded with the
// goldens and the example policies. Rendering must never panic or hang:
// every input either renders, deterministically, or fails with located
// Errors. Memory is the sandbox's job (controlplane/sandbox), not this
// target's.
func FuzzRender(f *testing.F) {
	var seeds []string
	for _, pattern := range []string{"testdata/*.star", "testdata/*/*.star", "../../policies/examples/*/*.star"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, m...)
	}
	if len(seeds) == 0 {
		f.Fatal("no seed policies found")
	}
	for _, path := range seeds {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	opts := Options{MaxSteps: 100_000, Timeout: time.Second, MaxSourceBytes: 64 << 10}
	f.Fuzz(func(t *testing.T, src []byte) {
		b := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": src}}
		p, err := Render(context.Background(), b, opts)
		if err != nil {
			var list Errors
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T %q is not a non-empty Errors", err, err)
			}
			for _, e := range list {
				if e.Msg == "" {
					t.Fatalf("an error has no message: %q", err)
				}
			}
			return
		}
		again, err := Render(context.Background(), b, opts)
		if err != nil {
			t.Fatalf("rendered once, then failed: %v", err)
		}
		m := proto.MarshalOptions{Deterministic: true}
		x, _ := m.Marshal(p)
		y, _ := m.Marshal(again)
		if !bytes.Equal(x, y) {
			t.Fatal("two renders of the same source differ")
		}
	})
}
