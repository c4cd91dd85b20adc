package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"gopkg.in/yaml.v3"
)

// yamlWriter turns each JSON document written to it into YAML, keeping
// the keys' order; anything else passes through. Every command writes a
// JSON document in one Write (WriteJSON), so -o yaml needs no change in
// the commands and its fields are -o json's.
type yamlWriter struct {
	w    io.Writer
	docs int
}

// NewYAML returns a writer that prints the JSON documents written to it
// as YAML, separated by "---" lines.
func NewYAML(w io.Writer) io.Writer { return &yamlWriter{w: w} }

func (y *yamlWriter) Write(p []byte) (int, error) {
	trimmed := bytes.TrimSpace(p)
	if len(trimmed) == 0 || (trimmed[0] != '{' && trimmed[0] != '[') || !json.Valid(trimmed) {
		return y.w.Write(p)
	}
	var n yaml.Node
	if err := yaml.Unmarshal(trimmed, &n); err != nil {
		return 0, fmt.Errorf("yaml: %w", err)
	}
	blockStyle(&n)
	var b bytes.Buffer
	if y.docs > 0 {
		b.WriteString("---\n")
	}
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return 0, fmt.Errorf("yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return 0, fmt.Errorf("yaml: %w", err)
	}
	y.docs++
	if _, err := y.w.Write(b.Bytes()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// blockStyle drops JSON's flow style and quoting; YAML quotes a string
// only where it must ("true", "1.0", "" stay strings).
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
