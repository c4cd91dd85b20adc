package keyway

import (
	"bytes"
	"fmt"
	"io"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/dispatch"
)

// WriteReference writes the Markdown CLI reference: one section per
// command with its --help text. cli/README.md embeds it; a test keeps the
// two in step.
func WriteReference(w io.Writer) error {
	a := &app.App{}
	var b bytes.Buffer
	Root(a).Walk(func(path string, c *dispatch.Command) {
		fmt.Fprintf(&b, "### %s\n\n```text\n", path)
		dispatch.WriteHelp(&b, path, c, a.GlobalFlags)
		b.WriteString("```\n\n")
	})
	_, err := w.Write(bytes.TrimRight(b.Bytes(), "\n"))
	if err != nil {
		return fmt.Errorf("write reference: %w", err)
	}
	_, err = io.WriteString(w, "\n")
	return err
}
