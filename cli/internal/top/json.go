package top

import (
	"io"

	"keyway.dev/cli/internal/output"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// writeJSON prints resp with the proto field names, every field present
// and 64-bit counts as JSON numbers, so scripts can rely on the keys and
// compare the values.
func writeJSON(w io.Writer, resp *keywayv1.TopResponse) error {
	return output.WriteProto(w, resp)
}
