package render

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// renderable lists every bundle that must render: golden success cases
// and the examples.
func renderable(t testing.TB) map[string]*keywayv1.Bundle {
	t.Helper()
	out := map[string]*keywayv1.Bundle{}
	for _, dir := range []string{"testdata", examplesDir} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, "err_") || (!e.IsDir() && !strings.HasSuffix(name, ".star")) {
				continue
			}
			b, err := LoadBundle(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			out[dir+"/"+name] = b
		}
	}
	return out
}

// TestDeterministic renders each bundle twice and requires equal
// policies and byte-identical deterministic marshals: the control plane
// hashes that encoding into the version proxies compare.
func TestDeterministic(t *testing.T) {
	for name, b := range renderable(t) {
		t.Run(name, func(t *testing.T) {
			var enc [2][]byte
			var pols [2]*keywayv1.Policy
			for i := range 2 {
				// A fresh copy each time, so map order of Files differs.
				p, err := Render(context.Background(), proto.Clone(b).(*keywayv1.Bundle), Options{})
				if err != nil {
					t.Fatal(err)
				}
				pols[i] = p
				enc[i], err = proto.MarshalOptions{Deterministic: true}.Marshal(p)
				if err != nil {
					t.Fatal(err)
				}
			}
			if !proto.Equal(pols[0], pols[1]) {
				t.Error("two renders differ")
			}
			if !bytes.Equal(enc[0], enc[1]) {
				t.Error("deterministic marshals differ")
			}
		})
	}
}

// TestConcurrent renders from several goroutines; run with -race.
func TestConcurrent(t *testing.T) {
	b, err := LoadBundle(filepath.Join(examplesDir, "tenants"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Render(context.Background(), b, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			got, err := Render(context.Background(), b, Options{})
			if err == nil && !proto.Equal(got, want) {
				err = errors.New("concurrent render differs")
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestLoadBundle(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ok/main.star", "x = 1\n")
	write("ok/lib/a.star", "a = 1\n")
	write("ok/README.md", "not starlark\n")
	write("ok/.hidden/h.star", "h = 1\n")
	write("nomain/lib.star", "x = 1\n")
	write("big/main.star", strings.Repeat("#", DefaultMaxSourceBytes+1))
	write("single.star", "y = 2\n")

	tests := []struct {
		name    string
		path    string
		entry   string
		files   []string
		wantErr string
	}{
		{name: "directory", path: "ok", entry: "main.star", files: []string{"lib/a.star", "main.star"}},
		{name: "single file", path: "single.star", entry: "single.star", files: []string{"single.star"}},
		{name: "no main.star", path: "nomain", wantErr: "has no main.star"},
		{name: "too big", path: "big", wantErr: "over the 1048576-byte limit"},
		{name: "single too big", path: "big/main.star", wantErr: "over the 1048576-byte limit"},
		{name: "missing", path: "nope", wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := LoadBundle(filepath.Join(dir, tt.path))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.GetEntry() != tt.entry {
				t.Errorf("entry = %q, want %q", b.GetEntry(), tt.entry)
			}
			got := slices.Sorted(maps.Keys(b.GetFiles()))
			if !slices.Equal(got, tt.files) {
				t.Errorf("files = %v, want %v", got, tt.files)
			}
		})
	}
}

// TestBundleChecks covers bundles built in memory, as the control plane
// receives them over the API.
func TestBundleChecks(t *testing.T) {
	ok := []byte(`domain("default", redis("main", "127.0.0.1:6401"))`)
	tests := []struct {
		name   string
		bundle *keywayv1.Bundle
		want   string
	}{
		{"nil", nil, "bundle has no files"},
		{"no entry", &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"other.star": ok}}, `bundle entry "main.star" is not one of its files`},
		{"parent path", &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": ok, "../x.star": ok}}, `bundle file "../x.star": want a relative slash path`},
		{"absolute path", &keywayv1.Bundle{Entry: "/main.star", Files: map[string][]byte{"/main.star": ok}}, `bundle file "/main.star": want a relative slash path`},
		{"unclean path", &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": ok, "lib//a.star": ok}}, `bundle file "lib//a.star"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Render(context.Background(), tt.bundle, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			var list Errors
			if !errors.As(err, &list) {
				t.Errorf("error is %T, want Errors", err)
			}
		})
	}
}

// TestCancelled stops a render whose caller gave up.
func TestCancelled(t *testing.T) {
	b := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(
		"def spin():\n    for i in range(1 << 60): pass\n\nspin()\n")}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Render(ctx, b, Options{MaxSteps: 1 << 62})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want an *Error", err, err)
	}
	if e.Msg != "render cancelled: context canceled" || !strings.HasPrefix(e.Pos, "main.star:") {
		t.Errorf("err = %q at %q", e.Msg, e.Pos)
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"with position", &Error{Pos: "main.star:3:7", Msg: "boom"}, "main.star:3:7: boom"},
		{"without position", &Error{Msg: "bundle has no files"}, "bundle has no files"},
		{"list", Errors{{Pos: "a.star:1:1", Msg: "one"}, {Pos: "a.star:2:1", Msg: "two"}}, "a.star:1:1: one\na.star:2:1: two"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
	var e *Error
	if !errors.As(Errors{{Pos: "x:1:1", Msg: "first"}}, &e) || e.Msg != "first" {
		t.Errorf("errors.As did not find the first *Error")
	}
}

func TestDefaults(t *testing.T) {
	got := Options{}.withDefaults()
	want := Options{MaxSteps: DefaultMaxSteps, Timeout: DefaultTimeout, MaxSourceBytes: DefaultMaxSourceBytes}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	set := Options{MaxSteps: 7, Timeout: 3, MaxSourceBytes: 9}
	if got := set.withDefaults(); got != set {
		t.Errorf("set options changed: %+v", got)
	}
}

// BenchmarkRender measures a whole render of the tenants example, what a
// push or a local validate pays.
func BenchmarkRender(b *testing.B) {
	bundle, err := LoadBundle(filepath.Join(examplesDir, "tenants"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(context.Background(), bundle, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
