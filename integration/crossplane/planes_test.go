package crossplane_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The house rules these tests hold (issue 15):
//
//   - No package of the control plane, tests included, depends on a package
//     of the data plane, and the other way round.
//   - keyway.dev/policy (render, snapshot, sandbox) depends on neither
//     plane: it sits below both.
//   - keyway-proxy links Starlark only through keyway.dev/policy (for
//     --policy): every package of its build that imports go.starlark.net
//     is in keyway.dev/policy or go.starlark.net itself.
//   - Neither plane's go.mod requires the other.

// pkg is what `go list -json` says of one package.
type pkg struct {
	ImportPath string
	Imports    []string
	Error      *struct{ Err string }
}

// root is the repository, found from this file.
func root(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate this test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// deps lists patterns' packages and everything they import, in module
// dir; withTests adds the packages' tests and what those import.
func deps(t *testing.T, dir string, withTests bool, patterns ...string) []pkg {
	t.Helper()
	args := []string{"list", "-deps", "-e", "-json=ImportPath,Imports,Error"}
	if withTests {
		args = append(args, "-test")
	}
	cmd := exec.Command("go", append(args, patterns...)...)
	cmd.Dir = filepath.Join(root(t), dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list in %s: %v\n%s", dir, err, stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list in %s: decode: %v", dir, err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatalf("go list in %s listed nothing", dir)
	}
	return pkgs
}

// under reports whether path is module or a package in it. Test variants
// ("p [p.test]") count as p.
func under(path, module string) bool {
	path, _, _ = strings.Cut(path, " ")
	return path == module || strings.HasPrefix(path, module+"/")
}

func TestPlanesDoNotImportEachOther(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ module, forbidden string }{
		{"controlplane", "keyway.dev/dataplane"},
		{"dataplane", "keyway.dev/controlplane"},
		{"policy", "keyway.dev/controlplane"},
		{"policy", "keyway.dev/dataplane"},
		{"proto", "keyway.dev/controlplane"},
		{"proto", "keyway.dev/dataplane"},
		{"proto", "keyway.dev/policy"},
	} {
		t.Run(tt.module+" without "+tt.forbidden, func(t *testing.T) {
			for _, p := range deps(t, tt.module, true, "./...") {
				if under(p.ImportPath, tt.forbidden) {
					t.Errorf("%s (or its tests) depends on %s", tt.module, p.ImportPath)
				}
			}
		})
	}
}

func TestProxyLinksStarlarkOnlyThroughPolicy(t *testing.T) {
	t.Parallel()
	pkgs := deps(t, "dataplane", false, "./cmd/keyway-proxy")
	var starlark bool
	for _, p := range pkgs {
		if under(p.ImportPath, "keyway.dev/controlplane") {
			t.Errorf("keyway-proxy links %s", p.ImportPath)
		}
		if under(p.ImportPath, "go.starlark.net") {
			starlark = true
			continue
		}
		if under(p.ImportPath, "keyway.dev/policy") {
			continue
		}
		if i := slices.IndexFunc(p.Imports, func(s string) bool { return under(s, "go.starlark.net") }); i >= 0 {
			t.Errorf("%s imports %s: keyway-proxy may reach Starlark only through keyway.dev/policy", p.ImportPath, p.Imports[i])
		}
	}
	// --policy renders in the proxy, so Starlark is linked; if it ever is
	// not, this rule needs restating rather than passing vacuously.
	if !starlark {
		t.Error("keyway-proxy no longer links go.starlark.net; restate this rule")
	}
}

func TestControlDoesNotLinkTheDataPlane(t *testing.T) {
	t.Parallel()
	for _, p := range deps(t, "controlplane", false, "./cmd/keyway-control") {
		if under(p.ImportPath, "keyway.dev/dataplane") {
			t.Errorf("keyway-control links %s", p.ImportPath)
		}
	}
}

func TestGoModsDoNotRequireTheOtherPlane(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ module, forbidden string }{
		{"controlplane", "keyway.dev/dataplane"},
		{"dataplane", "keyway.dev/controlplane"},
		{"policy", "keyway.dev/controlplane"},
		{"policy", "keyway.dev/dataplane"},
	} {
		cmd := exec.Command("go", "mod", "edit", "-json")
		cmd.Dir = filepath.Join(root(t), tt.module)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go mod edit -json in %s: %v", tt.module, err)
		}
		var mod struct {
			Require []struct{ Path string }
			Replace []struct{ Old struct{ Path string } }
		}
		if err := json.Unmarshal(out, &mod); err != nil {
			t.Fatalf("%s/go.mod: %v", tt.module, err)
		}
		for _, r := range mod.Require {
			if r.Path == tt.forbidden {
				t.Errorf("%s/go.mod requires %s", tt.module, r.Path)
			}
		}
		for _, r := range mod.Replace {
			if r.Old.Path == tt.forbidden {
				t.Errorf("%s/go.mod replaces %s", tt.module, r.Old.Path)
			}
		}
	}
}
