package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
)

// docField is one line of a command's "JSON fields (-o json):" list in
// cli/README.md.
type docField struct {
	typ                string
	optional, nullable bool
}

// jsonDocs reads, for every command of cli/README.md's reference, the
// shapes of its -o json output as documented there.
func jsonDocs(t *testing.T) map[string][]map[string]docField {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(harness.RepoRoot(t), "cli", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string][]map[string]docField{}
	var cmd string
	in := false
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case strings.HasPrefix(line, "### keyway"):
			cmd, in = strings.TrimPrefix(line, "### "), false
		case line == "JSON fields (-o json):":
			in = true
			docs[cmd] = []map[string]docField{{}}
		case in && strings.TrimSpace(line) == "":
			in = false
		case in && strings.TrimSpace(line) == "-- or --":
			docs[cmd] = append(docs[cmd], map[string]docField{})
		case in:
			path, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
			rest = strings.TrimSpace(rest)
			f := docField{optional: strings.HasSuffix(rest, ", optional")}
			rest = strings.TrimSuffix(rest, ", optional")
			f.nullable = strings.HasSuffix(rest, " or null")
			f.typ = strings.TrimSuffix(rest, " or null")
			docs[cmd][len(docs[cmd])-1][path] = f
		}
	}
	return docs
}

// conform checks a decoded -o json output against one documented shape:
// every field present is documented with its type, every documented
// field that is not optional is present where its parent is.
func conform(shape map[string]docField, v any) error {
	var errs []string
	var walk func(path string, v any, f docField)
	children := func(prefix string) []string {
		var out []string
		for p := range shape {
			rest, ok := strings.CutPrefix(p, prefix)
			if ok && rest != "" && !strings.ContainsAny(rest, ".[") {
				out = append(out, p)
			}
		}
		sort.Strings(out)
		return out
	}
	object := func(path string, obj map[string]any) {
		prefix := path + "."
		if path == "" {
			prefix = ""
		}
		for k, e := range obj {
			p := prefix + k
			f, ok := shape[p]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s is not documented", p))
				continue
			}
			walk(p, e, f)
		}
		for _, p := range children(prefix) {
			if _, ok := obj[strings.TrimPrefix(p, prefix)]; !ok && !shape[p].optional {
				errs = append(errs, fmt.Sprintf("%s is documented but missing", p))
			}
		}
	}
	scalar := func(path, typ string, v any) {
		ok := false
		switch typ {
		case "string":
			_, ok = v.(string)
		case "number":
			_, ok = v.(float64)
		case "boolean":
			_, ok = v.(bool)
		default:
			ok = true
		}
		if !ok {
			errs = append(errs, fmt.Sprintf("%s is %T, documented as %s", path, v, typ))
		}
	}
	walk = func(path string, v any, f docField) {
		if v == nil {
			if !f.nullable {
				errs = append(errs, fmt.Sprintf("%s is null, documented as %s", path, f.typ))
			}
			return
		}
		switch {
		case f.typ == "object":
			obj, ok := v.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s is %T, documented as an object", path, v))
				return
			}
			if _, isMap := shape[path+".*"]; isMap {
				for k, e := range obj {
					walk(path+".*", e, shape[path+".*"])
					_ = k
				}
				return
			}
			object(path, obj)
		case strings.HasPrefix(f.typ, "object of "):
			obj, ok := v.(map[string]any)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s is %T, documented as %s", path, v, f.typ))
				return
			}
			for k, e := range obj {
				scalar(path+"."+k, strings.TrimPrefix(f.typ, "object of "), e)
			}
		case f.typ == "array" || strings.HasPrefix(f.typ, "array of "):
			arr, ok := v.([]any)
			if !ok {
				errs = append(errs, fmt.Sprintf("%s is %T, documented as %s", path, v, f.typ))
				return
			}
			for _, e := range arr {
				if elem, ok := strings.CutPrefix(f.typ, "array of "); ok {
					scalar(path+"[]", elem, e)
				} else if obj, ok := e.(map[string]any); ok {
					object(path+"[]", obj)
				} else {
					errs = append(errs, fmt.Sprintf("%s[] is %T, documented as an object", path, e))
				}
			}
		default:
			scalar(path, f.typ, v)
		}
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("output is %T, not an object", v)
	}
	object("", obj)
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// TestEveryCommandJSONAsDocumented runs every command with -o json and
// decodes its output against the fields cli/README.md documents for it.
func TestEveryCommandJSONAsDocumented(t *testing.T) {
	docs := jsonDocs(t)
	r := redistest.Start(t)
	cp := harness.StartControl(t, "", "")
	pol := func(note string) string {
		return strings.ReplaceAll(cliPolicy(note), "127.0.0.1:6401", r.Addr)
	}
	v1 := harness.WritePolicy(t, map[string]string{"main.star": pol("v1")})
	v2 := harness.WritePolicy(t, map[string]string{"main.star": pol("v2")})
	var token string
	checked := map[string]int{}
	var env []string // set: run keyway with exactly this environment
	run := func(path string, args ...string) map[string]any {
		t.Helper()
		// Global flags first: explain's command follows "--".
		full := []string{"-o", "json"}
		if token != "" {
			full = append(full, "--token", token)
		}
		full = append(full, args...)
		var res harness.CLIResult
		if env != nil {
			res = keyway(t, env, full...)
		} else {
			res = harness.CLI(t, cp.Addr, full...)
		}
		if res.Code != 0 {
			t.Fatalf("keyway %s: exit %d\n%s%s", strings.Join(full, " "), res.Code, res.Stdout, res.Stderr)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(res.Stdout), &v); err != nil {
			t.Fatalf("keyway %s: not JSON: %v\n%s", strings.Join(full, " "), err, res.Stdout)
		}
		shapes := docs[path]
		if len(shapes) == 0 {
			t.Fatalf("cli/README.md documents no JSON fields for %s", path)
		}
		var why []string
		for i, s := range shapes {
			err := conform(s, v)
			if err == nil {
				checked[path]++
				return v
			}
			why = append(why, fmt.Sprintf("shape %d: %v", i+1, err))
		}
		t.Errorf("keyway %s -o json does not match the documented fields:\n%s\n%s", strings.Join(args, " "), strings.Join(why, "\n"), res.Stdout)
		return v
	}

	run("keyway policy validate", "policy", "validate", v1)
	run("keyway policy test", "policy", "test", v1)
	run("keyway policy push", "policy", "push", v1, "-m", "first")
	run("keyway policy push", "policy", "push", v1, "-m", "again")
	run("keyway policy push", "policy", "push", v2, "-m", "second", "--no-activate")
	run("keyway policy history", "policy", "history")
	run("keyway policy show", "policy", "show", "v2")
	run("keyway policy diff", "policy", "diff", "v1", "v2")
	run("keyway policy diff", "policy", "diff", "v2", v1)
	run("keyway policy diff", "policy", "diff", v2)
	p := harness.StartProxy(t, "proxy-json", cp.Addr)
	harness.Eventually(t, 20*time.Second, "the proxy reports", func() error {
		f := run("keyway fleet", "fleet")
		if nodes, _ := f["nodes"].([]any); len(nodes) == 0 {
			return fmt.Errorf("no nodes yet")
		}
		return nil
	})
	harness.Eventually(t, 20*time.Second, "the proxy applied v1", func() error {
		res := harness.CLI(t, cp.Addr, "explain", "--proxy", p.Addr, "-o", "json", "--", "GET", "k")
		if res.Code != 0 {
			return fmt.Errorf("explain: exit %d %s", res.Code, res.Stderr)
		}
		return nil
	})
	run("keyway explain", "explain", "--proxy", p.Addr, "--", "GET", "k")
	run("keyway top", "top", "--once")
	run("keyway flag set", "flag", "set", "exp", "--domain", "default", "--percent", "30")
	run("keyway flag list", "flag", "list")
	run("keyway flag delete", "flag", "delete", "exp", "--domain", "default")
	run("keyway rollout status", "rollout", "status", "--domain", "default")
	run("keyway rollout start", "rollout", "start", "--domain", "default", "--to", "v2", "--steps", "50,100", "--interval", "1h")
	run("keyway rollout status", "rollout", "status")
	run("keyway rollout status", "rollout", "status", "--domain", "default")
	run("keyway rollout pause", "rollout", "pause", "--domain", "default")
	run("keyway rollout resume", "rollout", "resume", "--domain", "default")
	run("keyway rollout abort", "rollout", "abort", "--domain", "default")
	run("keyway rollout start", "rollout", "start", "--domain", "default", "--to", "v2", "--steps", "50,100", "--interval", "1h")
	run("keyway rollout promote", "rollout", "promote", "--domain", "default")
	run("keyway rollout status", "rollout", "status", "--all")
	run("keyway policy rollback", "policy", "rollback", "v1")
	run("keyway audit", "audit")
	run("keyway version", "version")
	created := run("keyway token create", "token", "create", "ci", "--role", "admin")
	token, _ = created["token"].(string)
	run("keyway token create", "token", "create", "reader", "--role", "viewer")
	run("keyway token list", "token", "list")
	run("keyway token revoke", "token", "revoke", "reader")
	backup := filepath.Join(t.TempDir(), "backup.json")
	run("keyway backup export", "backup", "export", backup)

	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte("contexts:\n  here:\n    address: "+cp.Addr+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env, token = []string{"KEYWAY_CONFIG=" + cfg}, ""
	run("keyway config use-context", "config", "use-context", "here")
	run("keyway config current-context", "config", "current-context")
	run("keyway config get-contexts", "config", "get-contexts")

	// An import needs a fleet without versions: a second control plane.
	fresh := harness.StartControl(t, "", "")
	cfg = filepath.Join(t.TempDir(), "fresh.yaml")
	if err := os.WriteFile(cfg, []byte("address: "+fresh.Addr+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env = []string{"KEYWAY_CONFIG=" + cfg}
	run("keyway backup import", "backup", "import", backup)

	for path := range docs {
		if checked[path] == 0 {
			t.Errorf("%s documents JSON fields but this test does not check its output", path)
		}
	}
}

// TestConformCatchesDrift: the checker refuses an undocumented field, a
// missing one, a wrong type and an unexpected null.
func TestConformCatchesDrift(t *testing.T) {
	shape := map[string]docField{
		"n": {typ: "number"}, "s": {typ: "string", optional: true},
		"l": {typ: "array"}, "l[].x": {typ: "boolean"}, "m": {typ: "object of number"},
	}
	good := map[string]any{"n": 1.0, "l": []any{map[string]any{"x": true}}, "m": map[string]any{"a": 2.0}}
	if err := conform(shape, good); err != nil {
		t.Fatalf("good output refused: %v", err)
	}
	for name, bad := range map[string]map[string]any{
		"undocumented": {"n": 1.0, "l": []any{}, "m": map[string]any{}, "extra": 1.0},
		"missing":      {"l": []any{}, "m": map[string]any{}},
		"string count": {"n": "1", "l": []any{}, "m": map[string]any{}},
		"nested type":  {"n": 1.0, "l": []any{map[string]any{"x": "yes"}}, "m": map[string]any{}},
		"map value":    {"n": 1.0, "l": []any{}, "m": map[string]any{"a": "2"}},
		"null":         {"n": nil, "l": []any{}, "m": map[string]any{}},
	} {
		if err := conform(shape, bad); err == nil {
			t.Errorf("%s: accepted %v", name, bad)
		}
	}
}
