package redistest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A child started with Command dies with the process that started it,
// as the redis-servers of a test binary killed by its timeout must.
func TestCommandChildDiesWithParent(t *testing.T) {
	parent := exec.Command(os.Args[0], "-test.run=^TestCommandParentHelper$")
	parent.Env = append(os.Environ(), "REDISTEST_COMMAND_PARENT=1")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = parent.Process.Kill(); _ = parent.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("read the child's pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(line), "child "))
	if err != nil {
		t.Fatalf("parent printed %q", line)
	}
	if !alive(pid) {
		t.Fatalf("child %d is not running before its parent is killed", pid)
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	deadline := time.Now().Add(20 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child %d outlived its killed parent", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCommandParentHelper is the parent of TestCommandChildDiesWithParent:
// it starts a long sleep with Command, prints its pid and waits to be
// killed.
func TestCommandParentHelper(t *testing.T) {
	if os.Getenv("REDISTEST_COMMAND_PARENT") != "1" {
		t.Skip("helper process of TestCommandChildDiesWithParent")
	}
	cmd := Command("sleep", "600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("child %d\n", cmd.Process.Pid)
	_ = cmd.Wait()
}

// alive reports whether pid runs; a zombie no one has reaped yet (the
// container's init may not reap) counts as dead.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}
