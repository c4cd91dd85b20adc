package chart

import (
	"os/exec"
	"syscall"
)

// dieWithTest makes cmd get SIGKILL when this test binary dies (a
// timeout, ^C), so a started keyway-control or keyway-proxy is not left
// running. Pdeathsig fires when the creating OS thread exits, which Go
// does only after a goroutine that locked its thread returns; these tests
// lock none.
func dieWithTest(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
