// Package app holds what every keyway command shares: the global flags,
// where output goes, how to reach the control plane and how to render a
// policy locally. Tests build an App with fakes; main builds the real one.
package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/grpc"

	"keyway.dev/cli/internal/client"
	"keyway.dev/cli/internal/config"
	"keyway.dev/cli/internal/output"
	"keyway.dev/proto/buildinfo"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// DefaultAddr is where `make demo` runs keyway-control.
const DefaultAddr = "127.0.0.1:7700"

// AddrEnv overrides DefaultAddr; --addr overrides both.
const AddrEnv = "KEYWAY_ADDR"

// Renderer renders a policy bundle on this machine with the control
// plane's own code, so authors see errors before they push.
type Renderer interface {
	// LoadBundle reads a bundle from a .star file or a directory.
	LoadBundle(path string) (*keywayv1.Bundle, error)
	// Render renders and validates it; errors read file:line:col: message.
	Render(ctx context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error)
}

// App is the environment of one keyway invocation.
type App struct {
	Stdout, Stderr io.Writer
	// Getenv reads the environment (os.Getenv in main).
	Getenv func(string) string
	// Now is the clock ages are measured against.
	Now func() time.Time
	// Hostname names this machine for the default push author.
	Hostname func() (string, error)
	Renderer Renderer
	// Build is this binary's version, commit and build date.
	Build buildinfo.Info

	// Set by the global flags.
	Addr    string
	Output  string
	Timeout time.Duration
	format  output.Format

	// Credentials and TLS set by the global flags; the environment and
	// the config file fill what they leave empty (see package config).
	Token, CA, Cert, Key string
	// Context picks a context of the config file (--context).
	Context string
}

// GlobalFlags registers the flags every command accepts.
func (a *App) GlobalFlags(fs *flag.FlagSet) {
	addr := DefaultAddr
	if a.Getenv != nil && a.Getenv(AddrEnv) != "" {
		addr = a.Getenv(AddrEnv)
	}
	fs.StringVar(&a.Addr, "addr", addr, "control plane `address` (host:port); env "+AddrEnv)
	fs.StringVar(&a.Output, "output", "table", "output `format`: table, json or yaml")
	fs.StringVar(&a.Output, "o", "table", "output `format`: table, json or yaml")
	fs.DurationVar(&a.Timeout, "timeout", 10*time.Second, "give up on the control plane after this `duration`")
	fs.StringVar(&a.Token, "token", "", "bearer `token` for the admin API; env "+config.EnvToken+" or the config file")
	fs.StringVar(&a.CA, "ca", "", "connect over TLS, verifying the control plane with this PEM CA `file`")
	fs.StringVar(&a.Cert, "cert", "", "PEM client certificate `file` (with --key) for TLS")
	fs.StringVar(&a.Key, "key", "", "PEM key `file` of --cert")
	fs.StringVar(&a.Context, "context", "", "config file `context` to use; env "+config.EnvContext+" (default its current-context)")
}

// Check validates the global flags once they are parsed.
func (a *App) Check() error {
	f, err := output.ParseFormat(a.Output)
	if err != nil {
		return err
	}
	if a.Timeout <= 0 {
		return fmt.Errorf("--timeout must be positive, got %s", a.Timeout)
	}
	a.format = f
	if f == output.YAML {
		a.Stdout = output.NewYAML(a.Stdout)
	}
	return nil
}

// Terminal reports whether Stdout is a terminal, where live views may
// redraw the screen; into a pipe or a file they print plain frames.
func (a *App) Terminal() bool {
	f, ok := a.Stdout.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// JSON reports whether -o json or -o yaml was asked for: commands write
// JSON, which Stdout turns into YAML for -o yaml.
func (a *App) JSON() bool { return a.format == output.JSON || a.format == output.YAML }

// dialOptions resolves the address and credentials from flags,
// environment and config file, and settles a.Addr to the address used.
func (a *App) dialOptions() ([]grpc.DialOption, error) {
	flags := config.Settings{Addr: a.Addr, Token: a.Token, TLS: config.TLS{CA: a.CA, Cert: a.Cert, Key: a.Key}, Context: a.Context}
	if a.Addr == DefaultAddr {
		flags.Addr = "" // not chosen by --addr or the environment: the config file may
	}
	getenv := a.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	s, err := config.Resolve(flags, getenv, DefaultAddr)
	if err != nil {
		return nil, err
	}
	a.Addr = s.Addr
	return s.DialOptions()
}

// Dial connects to the control plane with the address, token and TLS
// settings of the flags, the environment and the config file. It is the
// one way every command reaches the control plane; the caller closes the
// connection.
func (a *App) Dial() (*client.Conn, error) {
	opts, err := a.dialOptions()
	if err != nil {
		return nil, err
	}
	return client.Dial(a.Addr, opts...)
}

// Call dials the control plane, runs fn under --timeout and explains any
// gRPC failure in plain words.
func (a *App) Call(ctx context.Context, fn func(ctx context.Context, c *client.Conn) error) error {
	c, err := a.Dial()
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	return client.Explain(fn(ctx, c), a.Addr)
}
