package testrun

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	keywayv1 "keyway.dev/proto/keyway/v1"
	"keyway.dev/proto/rlimit"
)

// maxInput bounds the policy the child reads; a rendered policy is far
// smaller.
const maxInput = 64 << 20

// Child is the runner's side: it applies the limits given in args, reads
// a marshalled Policy from stdin, runs its cases with run and writes the
// results as JSON to stdout. run's results must marshal to the JSON of
// Result. It returns the process exit code; keyway-proxy calls it when
// its first argument is Subcommand.
func Child[R any](args []string, stdin io.Reader, stdout, stderr io.Writer, run func(context.Context, *keywayv1.Policy) []R) int {
	fs := flag.NewFlagSet(Subcommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	memory := fs.Int64("memory", DefaultMemoryLimit, "memory limit in bytes")
	cpu := fs.Uint64("cpu", uint64(DefaultCPULimit.Seconds()), "CPU limit in seconds")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := rlimit.Apply(*memory, *cpu); err != nil {
		fmt.Fprintln(stderr, "testrun:", err)
		return 3
	}
	in, err := io.ReadAll(io.LimitReader(stdin, maxInput+1))
	if err != nil {
		fmt.Fprintln(stderr, "testrun: read policy:", err)
		return 3
	}
	if len(in) > maxInput {
		fmt.Fprintf(stderr, "testrun: policy larger than %d MiB\n", maxInput>>20)
		return 3
	}
	p := &keywayv1.Policy{}
	if err := proto.Unmarshal(in, p); err != nil {
		fmt.Fprintln(stderr, "testrun: decode policy:", err)
		return 3
	}
	results := run(context.Background(), p)
	if results == nil {
		results = []R{}
	}
	if err := json.NewEncoder(stdout).Encode(results); err != nil {
		fmt.Fprintln(stderr, "testrun: write results:", err)
		return 3
	}
	return 0
}
