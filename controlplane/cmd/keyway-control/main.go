// Command keyway-control is Keyway's control plane: it stores policy
// versions in etcd (embedded by default), serves them to keyway-proxy
// over ADS, and answers the keyway CLI's admin API, all on one gRPC port.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"keyway.dev/controlplane/metrics"
	"keyway.dev/controlplane/rollout"
	"keyway.dev/controlplane/server"
	"keyway.dev/controlplane/telemetry"
	"keyway.dev/controlplane/xds"
	"keyway.dev/policy/sandbox"
	"keyway.dev/proto/buildinfo"
	"keyway.dev/proto/envflag"
	"keyway.dev/proto/readyfile"
)

// envPrefix prefixes the environment variable of every flag:
// KEYWAY_CONTROL_LISTEN sets --listen.
const envPrefix = "KEYWAY_CONTROL"

// usageHead opens --help.
const usageHead = `usage: keyway-control [flags]

keyway-control stores Keyway policy versions in etcd (embedded by default),
serves them to keyway-proxy over ADS and answers the keyway CLI's admin
API, all on one gRPC port. Every flag may also be set by its environment
variable or in a --config file; the command line wins over the
environment, which wins over the file.

Exit status: 0 after a clean shutdown, 1 when the server failed, 2 when it
was called wrongly.

Flags:
`

func main() {
	// The render sandbox re-executes this binary; see sandbox.Child.
	if len(os.Args) > 1 && os.Args[1] == sandbox.Subcommand {
		os.Exit(sandbox.Child(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// usageError is a command line or setting the server cannot start with;
// it exits 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// realMain runs the server and returns the exit status: 0 after --help,
// --version or a clean shutdown, 1 on failure, 2 on misuse.
func realMain(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, args, stdout, getenv)
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errVersion) {
		return 0
	}
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "keyway-control: %v\nRun 'keyway-control --help' for usage.\n", err)
		return 2
	default:
		fmt.Fprintln(stderr, "keyway-control:", err)
		return 1
	}
}

// errVersion ends run after --version.
var errVersion = errors.New("version printed")

// run serves until ctx ends.
func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("keyway-control", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "127.0.0.1:7700", "gRPC address for ADS, the admin API and telemetry")
	dataDir := fs.String("data-dir", "./keyway-data", "data directory of the embedded etcd")
	endpoints := fs.String("etcd-endpoints", "", "comma-separated etcd endpoints; when set no etcd is embedded")
	fleet := fs.String("fleet", "", "fleet name that namespaces keys in etcd (default \"default\")")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	forget := fs.Duration("forget-nodes-after", xds.DefaultForgetAfter, "how long a proxy stays in the fleet view after its last stream to this replica ended")
	readyFile := fs.String("ready-file", "", "once every listener is bound and the store is open, write a JSON object of flag name to bound address here (for a port 0 the kernel chose), removed on exit")
	sec := securityFlags(fs)
	tests := registerPolicyTestFlags(fs)
	etcdSec := registerEtcdFlags(fs)
	obs := registerObserveFlags(fs)
	version := fs.Bool("version", false, "print the version, commit and build date, and exit")
	envflag.Register(fs, envPrefix)
	if err := envflag.Parse(fs, args, envPrefix, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fmt.Fprint(stdout, usageHead)
			fs.PrintDefaults()
			return err
		}
		return usageError{err}
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.Line("keyway-control"))
		return errVersion
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q (keyway-control takes only flags)", fs.Arg(0))}
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return usageError{fmt.Errorf("--log-level: %w", err)}
	}
	logger, err := obs.logger(os.Stderr, lvl)
	if err != nil {
		return usageError{err}
	}
	logger.Info("keyway-control starting", "version", buildinfo.Get().Version, "commit", buildinfo.Get().Commit)
	secure, err := sec.config(logger)
	if err != nil {
		return usageError{err}
	}
	testRunner, err := tests.config(logger)
	if err != nil {
		return usageError{err}
	}
	etcdAccess, err := etcdSec.config(splitList(*endpoints))
	if err != nil {
		return usageError{err}
	}

	stopTracing, err := obs.startTracing(logger)
	if err != nil {
		return usageError{err}
	}
	defer stopTracing()
	met := metrics.New()
	var ready atomic.Bool
	metricsAddr, stopMetrics, err := obs.serveMetrics(met, ready.Load, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	// The aggregator answers `keyway top` and the rollout guards alike.
	agg := telemetry.New(telemetry.Options{})
	srv, err := server.New(server.Config{
		Listen:        *listen,
		DataDir:       *dataDir,
		EtcdEndpoints: splitList(*endpoints),
		EtcdTLS:       etcdAccess.tls,
		EtcdUsername:  etcdAccess.username,
		EtcdPassword:  etcdAccess.password,
		EtcdStartWait: etcdAccess.startWait,
		Fleet:         *fleet,
		Logger:        logger,
		Services:      []func(grpc.ServiceRegistrar){agg.Register},
		Guards:        rollout.FromTopSince(agg.TopSince),
		NodeStats:     agg.NodeStats,
		NodeDomains:   agg.NodeDomains,
		ShareTelemetry: func(ctx context.Context, cli *clientv3.Client, fleet, replica string) error {
			return agg.Share(ctx, cli, fleet, replica, telemetry.ShareOptions{Logger: logger})
		},

		Render:             secure.render,
		Tests:              testRunner,
		TLS:                secure.tls,
		Auth:               secure.mode,
		CertRoles:          secure.certRoles,
		BootstrapTokenFile: secure.bootstrapFile,

		ForgetNodesAfter: *forget,
		Metrics:          met,
	})
	if err != nil {
		return err
	}
	// A parent waiting for the ready file learns the bound ports from
	// it; one that cannot be written stops the start rather than leave
	// the parent waiting.
	bound := map[string]string{"listen": srv.Addr().String()}
	if metricsAddr != "" {
		bound["metrics-listen"] = metricsAddr
	}
	if *readyFile != "" {
		if err := readyfile.Write(*readyFile, bound); err != nil {
			return errors.Join(err, srv.Close())
		}
		defer func() {
			if err := readyfile.Remove(*readyFile); err != nil {
				logger.Warn("cannot remove the ready file", "err", err)
			}
		}()
	}
	ready.Store(true)
	defer ready.Store(false)
	return srv.Run(ctx)
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}
