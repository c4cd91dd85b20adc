package render

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// paramRenames are the constructor parameters that deliberately differ
// from their message's field names, constructor name -> message field,
// each with its reason. Every other parameter is named as its field, so
// a field renamed or added in engine.proto fails TestEveryKindIsComplete
// until the constructor follows.
var paramRenames = map[string]map[string]string{
	// The leaf names an upstream object, not an upstream's name string.
	"upstream": {"target": "name"},
	// flag(name, ...) reads as English; the message's field is the flag.
	"flag": {"name": "flag"},
	// Coalescing is on by default; the proto field is its opt-out so
	// that the zero value means the default.
	"near_cache": {"coalescing": "no_coalescing"},
}

// commonParams are taken by every engine constructor and are no field of
// the kind's message (label names the Engine wrapper).
var commonParams = []string{"label"}

// TestEveryKindIsComplete walks the Engine oneof and fails when a kind
// lacks a Starlark constructor, when the constructor's parameters and the
// message's fields disagree, when no golden renders it, or when the
// language reference has no section with an example that renders it and
// carries test(...) cases (the example is rendered here and by
// TestDocExamples; its cases run through the proxy's engines in
// dataplane/policytest's TestReferenceExamplesPass). The proxy's half, a
// builder for every kind, is dataplane/engines/all's
// TestEveryKindIsBuiltOrListed.
func TestEveryKindIsComplete(t *testing.T) {
	params := map[string][]string{}
	sawParams = func(fn string, p []string) { params[fn] = p }
	t.Cleanup(func() { sawParams = nil })

	goldens := goldenKinds(t)
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	fields := (&keywayv1.Engine{}).ProtoReflect().Descriptor().Oneofs().ByName("kind").Fields()
	for i := range fields.Len() {
		kind := fields.Get(i)
		name := string(kind.Name())
		t.Run(name, func(t *testing.T) {
			if _, ok := builtins[name]; !ok {
				t.Fatalf("no Starlark constructor %s(...) in builtins.go", name)
			}
			// Calling with no arguments fails, after unpack named them.
			src := name + "()\n"
			_, _ = Render(context.Background(), &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}, Options{})
			checkParams(t, name, params[name], kind.Message())
			if !goldens[name] {
				t.Errorf("no golden in testdata/*.textpb renders a %s engine", name)
			}
			checkDocumented(t, string(doc), name)
		})
	}
}

func checkParams(t *testing.T, name string, params []string, msg protoreflect.MessageDescriptor) {
	t.Helper()
	if len(params) == 0 {
		t.Errorf("%s(...) does not unpack its arguments with unpack(); its parameters cannot be checked", name)
		return
	}
	var want []string
	for i := range msg.Fields().Len() {
		want = append(want, string(msg.Fields().Get(i).Name()))
	}
	var got []string
	for _, p := range params {
		if slices.Contains(commonParams, p) {
			continue
		}
		if f, ok := paramRenames[name][p]; ok {
			p = f
		}
		got = append(got, p)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("%s(...) takes %v (renames applied), %s has fields %v; name each parameter as its field or list it in paramRenames with the reason",
			name, got, msg.FullName(), want)
	}
}

// backticked finds the `names` of a heading.
var backticked = regexp.MustCompile("`([a-z_]+)`")

// checkDocumented wants a section of the reference whose heading names
// the kind and holding a ```starlark example that renders to a policy
// using it, with at least one test(...) case.
func checkDocumented(t *testing.T, doc, name string) {
	t.Helper()
	var section strings.Builder
	in := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### ") {
			in = false
			for _, m := range backticked.FindAllStringSubmatch(line, -1) {
				if m[1] == name {
					in = true
				}
			}
		}
		if in {
			section.WriteString(line)
			section.WriteByte('\n')
		}
	}
	if section.Len() == 0 {
		t.Errorf("%s has no section headed with `%s`", docPath, name)
		return
	}
	for _, blk := range starlarkBlocks(section.String()) {
		b := &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(blk.src)}}
		pol, err := Render(context.Background(), b, Options{})
		if err == nil && usesKind(pol, name) && len(pol.GetTests()) > 0 {
			return
		}
	}
	t.Errorf("the `%s` section of %s has no starlark example that renders a %s engine and carries test(...) cases "+
		"(dataplane/policytest's TestReferenceExamplesPass runs them through the engines)", name, docPath, name)
}

// goldenKinds reads every golden policy and reports the engine kinds it
// holds.
func goldenKinds(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("testdata/*.textpb")
	if err != nil || len(files) == 0 {
		t.Fatalf("no goldens: %v", err)
	}
	out := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var pol keywayv1.Policy
		if err := prototext.Unmarshal(data, &pol); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		eachEngine(pol.ProtoReflect(), func(kind string) { out[kind] = true })
	}
	return out
}

func usesKind(pol proto.Message, kind string) bool {
	found := false
	eachEngine(pol.ProtoReflect(), func(k string) { found = found || k == kind })
	return found
}

// eachEngine calls fn with the kind of every Engine under m.
func eachEngine(m protoreflect.Message, fn func(kind string)) {
	if m.Descriptor().FullName() == "keyway.v1.Engine" {
		if f := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind")); f != nil {
			fn(string(f.Name()))
		}
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				eachEngine(mv.Message(), fn)
				return true
			})
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				eachEngine(v.List().Get(i).Message(), fn)
			}
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			eachEngine(v.Message(), fn)
		}
		return true
	})
}
