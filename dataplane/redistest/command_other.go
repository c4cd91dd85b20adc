//go:build !linux

package redistest

import "os/exec"

// dieWithParent does nothing where the kernel has no parent-death
// signal: there a killed test binary may leave its servers running.
func dieWithParent(*exec.Cmd) {}
