// Package rlimit caps the process it runs in, for the short-lived
// children that run untrusted input: the policy render (policy/sandbox)
// and the policy test runner (proto/testrun). Both apply the same caps, so
// a policy that allocates without bound or spins fails the same way
// whichever child meets it.
package rlimit

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
)

// Apply caps this process: address space at what the runtime has mapped
// now plus memory (so the limit means the child's own allocations), a
// soft Go memory limit below that so the collector works hard before the
// kernel refuses, CPU seconds (0 is none), and two Ps: fewer Ps means
// fewer threads and stacks to map under the limit.
func Apply(memory int64, cpu uint64) error {
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
