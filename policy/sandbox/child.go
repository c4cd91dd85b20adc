package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"syscall"

	"google.golang.org/protobuf/proto"

	"keyway.dev/policy/render"
	keywayv1 "keyway.dev/proto/keyway/v1"
	"keyway.dev/proto/rlimit"
)

// The child answers with one tag byte and a body: a marshalled Policy,
// or the render errors as JSON.
const (
	tagPolicy = 'P'
	tagErrors = 'E'
)

// Child is the render child: it applies the limits given in args, reads
// a marshalled Bundle from stdin, renders it and writes the answer to
// stdout. It returns the process exit code. keyway-control calls it when
// its first argument is Subcommand.
func Child(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(Subcommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	memory := fs.Int64("memory", DefaultMemoryLimit, "memory limit in bytes")
	cpu := fs.Uint64("cpu", uint64(DefaultCPULimit.Seconds()), "CPU limit in seconds")
	var opts render.Options
	fs.Uint64Var(&opts.MaxSteps, "steps", 0, "Starlark step limit")
	fs.DurationVar(&opts.Timeout, "timeout", 0, "render time limit")
	fs.IntVar(&opts.MaxSourceBytes, "max-source", 0, "bundle size limit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := rlimit.Apply(*memory, *cpu); err != nil {
		fmt.Fprintln(stderr, "sandbox:", err)
		return 3
	}
	maxSrc := opts.MaxSourceBytes
	if maxSrc <= 0 {
		maxSrc = render.DefaultMaxSourceBytes
	}
	in, err := io.ReadAll(io.LimitReader(stdin, int64(2*maxSrc)+1))
	if err != nil {
		fmt.Fprintln(stderr, "sandbox: read bundle:", err)
		return 3
	}
	b := &keywayv1.Bundle{}
	if err := proto.Unmarshal(in, b); err != nil {
		fmt.Fprintln(stderr, "sandbox: decode bundle:", err)
		return 3
	}
	p, rerr := render.Render(context.Background(), b, opts)
	w := bufio.NewWriter(stdout)
	if err := writeResult(w, p, rerr); err != nil {
		fmt.Fprintln(stderr, "sandbox: write result:", err)
		return 3
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(stderr, "sandbox: write result:", err)
		return 3
	}
	return 0
}

// wireError is a render.Error on the wire.
type wireError struct {
	Pos string `json:"pos,omitempty"`
	Msg string `json:"msg"`
}

func writeResult(w io.Writer, p *keywayv1.Policy, rerr error) error {
	if rerr == nil {
		body, err := proto.MarshalOptions{Deterministic: true}.Marshal(p)
		if err != nil {
			return fmt.Errorf("encode policy: %w", err)
		}
		if _, err := w.Write([]byte{tagPolicy}); err != nil {
			return err
		}
		_, err = w.Write(body)
		return err
	}
	var list render.Errors
	if !errors.As(rerr, &list) {
		list = render.Errors{{Msg: rerr.Error()}}
	}
	out := make([]wireError, len(list))
	for i, e := range list {
		out[i] = wireError{Pos: e.Pos, Msg: e.Msg}
	}
	body, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encode errors: %w", err)
	}
	if _, err := w.Write([]byte{tagErrors}); err != nil {
		return err
	}
	_, err = w.Write(body)
	return err
}

// decodeResult reads what Child wrote.
func decodeResult(b []byte) (*keywayv1.Policy, error) {
	if len(b) == 0 {
		return nil, errors.New("sandbox: render child wrote nothing")
	}
	switch b[0] {
	case tagPolicy:
		p := &keywayv1.Policy{}
		if err := proto.Unmarshal(b[1:], p); err != nil {
			return nil, fmt.Errorf("sandbox: decode rendered policy: %w", err)
		}
		return p, nil
	case tagErrors:
		var list []wireError
		if err := json.Unmarshal(b[1:], &list); err != nil {
			return nil, fmt.Errorf("sandbox: decode render errors: %w", err)
		}
		out := make(render.Errors, len(list))
		for i, e := range list {
			out[i] = &render.Error{Pos: e.Pos, Msg: e.Msg}
		}
		if len(out) == 0 {
			return nil, errors.New("sandbox: render child reported failure without errors")
		}
		return nil, out
	}
	return nil, fmt.Errorf("sandbox: render child answered with tag %q", b[0])
}

// outOfMemory recognises the Go runtime's death by a refused allocation.
func outOfMemory(stderr []byte) bool {
	return bytes.Contains(stderr, []byte("out of memory")) || bytes.Contains(stderr, []byte("cannot allocate memory"))
}

// cpuExceeded recognises death by RLIMIT_CPU: SIGXCPU at the soft limit,
// SIGKILL at the hard one.
func cpuExceeded(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && (ws.Signal() == syscall.SIGXCPU || ws.Signal() == syscall.SIGKILL)
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if line == "" {
		return "no output"
	}
	return line
}
