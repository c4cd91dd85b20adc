// Command keyway is the command line for Keyway policy authors and
// operators: validate and push policies, inspect and roll back versions,
// and see the proxy fleet. Run `keyway --help`.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/keyway"
	"keyway.dev/cli/internal/local"
	"keyway.dev/policy/sandbox"
	"keyway.dev/proto/buildinfo"
)

func main() {
	// Local renders re-execute this binary as the control plane's render
	// child, with its limits (keyway.dev/policy/sandbox).
	if len(os.Args) > 1 && os.Args[1] == sandbox.Subcommand {
		os.Exit(sandbox.Child(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyway:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app.App{
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Getenv:   os.Getenv,
		Now:      time.Now,
		Hostname: os.Hostname,
		Renderer: local.Renderer{Sandbox: sb},
		Build:    buildinfo.Get(),
	}
	code := keyway.Main(ctx, a, os.Args[1:])
	stop()
	os.Exit(code)
}
