// Command keyway is the command line for Keyway policy authors and
// operators: validate and push policies, inspect and roll back versions,
// and see the proxy fleet. Run `keyway --help`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"keyway.dev/cli/internal/app"
	"keyway.dev/cli/internal/keyway"
	"keyway.dev/cli/internal/local"
	"keyway.dev/proto/buildinfo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app.App{
		Stdout:   os.Stdout,
		Stderr:   os.Stderr,
		Getenv:   os.Getenv,
		Now:      time.Now,
		Hostname: os.Hostname,
		Renderer: local.Renderer{},
		Build:    buildinfo.Get(),
	}
	code := keyway.Main(ctx, a, os.Args[1:])
	stop()
	os.Exit(code)
}
