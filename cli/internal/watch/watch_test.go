package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

// TestLoop: frames follow one another until the context ends (a normal
// end), a pipe gets no control codes, a terminal gets one clear per
// frame, a later failure is shown and the loop goes on, a first failure
// ends it.
func TestLoop(t *testing.T) {
	for _, terminal := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		var out bytes.Buffer
		n := 0
		err := Loop(ctx, &out, terminal, time.Millisecond, func(w io.Writer) error {
			n++
			if n == 2 {
				return errors.New("control plane restarting")
			}
			if n == 3 {
				cancel()
			}
			fmt.Fprintln(w, "frame")
			return nil
		})
		if err != nil {
			t.Fatalf("terminal=%v: %v", terminal, err)
		}
		got := out.String()
		if c := strings.Count(got, clear); (terminal && c != 3) || (!terminal && c != 0) {
			t.Errorf("terminal=%v: %d clears in %q", terminal, c, got)
		}
		if strings.Contains(got, "\x1b") != terminal {
			t.Errorf("terminal=%v: control codes in %q", terminal, got)
		}
		if !strings.Contains(got, "error: control plane restarting") || strings.Count(got, "frame\n") != 2 {
			t.Errorf("terminal=%v: %q", terminal, got)
		}
	}
	err := Loop(context.Background(), &bytes.Buffer{}, false, time.Millisecond, func(io.Writer) error {
		return errors.New("no control plane")
	})
	if err == nil || err.Error() != "no control plane" {
		t.Errorf("first frame failing: %v", err)
	}
}
