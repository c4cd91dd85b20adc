package output

import (
	"bytes"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestYAMLKeepsOrderTypesAndStrings(t *testing.T) {
	var b bytes.Buffer
	w := NewYAML(&b)
	doc := map[string]any{"z": 1, "a": "true", "list": []any{"x", 2.5}, "empty": "", "nested": map[string]any{"n": nil}}
	if err := WriteJSON(w, doc); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(w, map[string]any{"second": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("plain text\n")); err != nil {
		t.Fatal(err)
	}
	want := "a: \"true\"\nempty: \"\"\nlist:\n  - x\n  - 2.5\nnested:\n  n: null\nz: 1\n---\nsecond: true\nplain text\n"
	if b.String() != want {
		t.Fatalf("yaml:\n%s\nwant:\n%s", b.String(), want)
	}
	var back map[string]any
	if err := yaml.Unmarshal(bytes.Split(b.Bytes(), []byte("---"))[0], &back); err != nil || back["a"] != "true" || back["z"] != 1 {
		t.Errorf("round trip: %v, %v", back, err)
	}
}
