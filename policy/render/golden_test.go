package render

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.textpb and *.err from the current output")

// TestGolden renders every testdata case: <case>.star (a one-file bundle)
// or <case>/ (a directory bundle with main.star). Cases named err_* must
// fail with exactly the text in <case>.err; the others must render to
// <case>.textpb. An entry file may start with a "# render: key=value"
// line setting Options (max_steps, timeout, max_source_bytes).
func TestGolden(t *testing.T) {
	entries, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".star")
		if e.IsDir() {
			name, ok = e.Name(), true
		}
		if !ok {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) { runGolden(t, name, filepath.Join("testdata", e.Name())) })
	}
	if n == 0 {
		t.Fatal("no golden cases in testdata")
	}
}

func runGolden(t *testing.T, name, path string) {
	b, err := LoadBundle(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := caseOptions(t, b.GetFiles()[b.GetEntry()])
	got, err := Render(context.Background(), b, opts)
	wantErr := strings.HasPrefix(name, "err_")
	base := filepath.Join("testdata", name)
	if wantErr {
		if err == nil {
			t.Fatalf("rendered, want an error")
		}
		if *update {
			writeFile(t, base+".err", []byte(err.Error()+"\n"))
			return
		}
		want, rerr := os.ReadFile(base + ".err")
		if rerr != nil {
			t.Fatal(rerr)
		}
		if diff := cmp.Diff(strings.TrimSpace(string(want)), err.Error()); diff != "" {
			t.Errorf("error mismatch (-want +got):\n%s", diff)
		}
		return
	}
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	if *update && !sameAsFile(base+".textpb", got) {
		out, merr := prototext.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(got)
		if merr != nil {
			t.Fatal(merr)
		}
		writeFile(t, base+".textpb", out)
		return
	}
	if *update {
		return
	}
	data, err := os.ReadFile(base + ".textpb")
	if err != nil {
		t.Fatal(err)
	}
	want := &keywayv1.Policy{}
	if err := prototext.Unmarshal(data, want); err != nil {
		t.Fatalf("parse %s.textpb: %v", base, err)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("policy mismatch (-want +got):\n%s", diff)
	}
}

// caseOptions reads the optional "# render: k=v ..." first line.
func caseOptions(t *testing.T, src []byte) Options {
	t.Helper()
	line, _, _ := bytes.Cut(src, []byte("\n"))
	rest, ok := strings.CutPrefix(string(line), "# render:")
	if !ok {
		return Options{}
	}
	var o Options
	sc := bufio.NewScanner(strings.NewReader(rest))
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		var err error
		switch k {
		case "max_steps":
			o.MaxSteps, err = strconv.ParseUint(v, 10, 64)
		case "timeout":
			o.Timeout, err = time.ParseDuration(v)
		case "max_source_bytes":
			o.MaxSourceBytes, err = strconv.Atoi(v)
		default:
			t.Fatalf("unknown render option %q", k)
		}
		if err != nil {
			t.Fatalf("render option %s: %v", k, err)
		}
	}
	return o
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sameAsFile reports whether path already holds p. prototext output varies
// in white space between runs on purpose, so -update rewrites only goldens
// whose content changed, keeping diffs to real changes.
func sameAsFile(path string, p *keywayv1.Policy) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	old := &keywayv1.Policy{}
	return prototext.Unmarshal(data, old) == nil && proto.Equal(old, p)
}
