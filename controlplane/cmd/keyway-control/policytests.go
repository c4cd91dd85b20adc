package main

import (
	"flag"
	"fmt"
	"log/slog"
	"time"

	"keyway.dev/controlplane/admin"
	"keyway.dev/proto/testrun"
)

// policyTests holds the flags of the runner of pushed policies' test
// cases: keyway-proxy in a hidden mode, since only the data plane has the
// engines (see docs/adr).
type policyTests struct {
	runner  string
	memory  int64
	timeout time.Duration
}

func registerPolicyTestFlags(fs *flag.FlagSet) *policyTests {
	p := &policyTests{}
	fs.StringVar(&p.runner, "policy-test-runner", "", "keyway-proxy binary that runs pushed policies' test(...) cases in a limited child process (default: keyway-proxy beside this executable)")
	fs.Int64Var(&p.memory, "policy-test-memory", testrun.DefaultMemoryLimit>>20, "memory limit of the policy test runner, in MiB")
	fs.DurationVar(&p.timeout, "policy-test-timeout", testrun.DefaultTimeout, "wall-clock limit of one push's policy tests")
	return p
}

// config checks the flags and returns the runner. A missing runner is
// not fatal: the control plane serves, and a push with test cases is
// refused with the error saying how to install it.
func (p *policyTests) config(logger *slog.Logger) (admin.TestRunner, error) {
	if p.memory <= 0 {
		return nil, fmt.Errorf("--policy-test-memory must be positive, got %d", p.memory)
	}
	if p.timeout <= 0 {
		return nil, fmt.Errorf("--policy-test-timeout must be positive, got %s", p.timeout)
	}
	r := testrun.New(testrun.Config{Path: p.runner, MemoryLimit: p.memory << 20, Timeout: p.timeout})
	if path, err := r.Locate(); err != nil {
		logger.Warn("pushes with test cases will be refused until the policy test runner is installed", "err", err)
	} else {
		logger.Info("policy tests run in", "runner", path)
	}
	return admin.RunnerTests(r), nil
}
