package redistest

import "os/exec"

// Command is exec.Command for a process a test helper starts and stops:
// redis-server here, keyway-control and keyway-proxy in the integration
// harness. On Linux the child is killed when the test binary dies, so a
// test killed by its timeout or ^C leaves no servers behind; Cleanup
// functions do not run then.
func Command(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	dieWithParent(cmd)
	return cmd
}
