package testrun

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"

	"google.golang.org/protobuf/proto"

	keywayv1 "keyway.dev/proto/keyway/v1"
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
	if err := limit(*memory, *cpu); err != nil {
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

// limit caps this process as the render sandbox caps its child: address
// space at what the runtime has mapped now plus memory, a soft Go memory
// limit below it, CPU seconds, and few Ps.
func limit(memory int64, cpu uint64) error {
	base, err := vmSize()
	if err != nil {
		return err
	}
	as := uint64(base + memory)
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: as, Max: as}); err != nil {
		return fmt.Errorf("set RLIMIT_AS: %w", err)
	}
	debug.SetMemoryLimit(memory * 3 / 4)
	if cpu > 0 {
		if err := syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: cpu, Max: cpu + 1}); err != nil {
			return fmt.Errorf("set RLIMIT_CPU: %w", err)
		}
	}
	runtime.GOMAXPROCS(2)
	return nil
}

// vmSize is this process's mapped address space in bytes.
func vmSize() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read /proc/self/status: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmSize %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("no VmSize in /proc/self/status")
}
