package top

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"google.golang.org/protobuf/encoding/protojson"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// writeJSON prints resp with the proto field names and every field present,
// so scripts can rely on the keys; re-indenting makes the output stable
// (protojson varies its whitespace on purpose).
func writeJSON(w io.Writer, resp *keywayv1.TopResponse) error {
	raw, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(resp)
	if err != nil {
		return fmt.Errorf("encode json: %w", err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return fmt.Errorf("indent json: %w", err)
	}
	buf.WriteByte('\n')
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
