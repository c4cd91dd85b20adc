// Command keyway-proxy is Keyway's data plane: a RESP proxy that serves
// Redis clients through the engine trees of the policy it receives from
// keyway-control, from a local policy file, or, in standalone mode, a
// single upstream.
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
	"syscall"
	"time"

	"keyway.dev/dataplane/frontend"
	"keyway.dev/dataplane/policytest"
	"keyway.dev/dataplane/xdsclient"
	"keyway.dev/proto/buildinfo"
	"keyway.dev/proto/envflag"
	"keyway.dev/proto/testrun"
)

// envPrefix prefixes the environment variable of every flag:
// KEYWAY_PROXY_LISTEN sets --listen.
const envPrefix = "KEYWAY_PROXY"

// usageHead opens --help.
const usageHead = `usage: keyway-proxy [flags]

keyway-proxy serves Redis clients through the engine trees of the policy
it receives from keyway-control (--control-plane, the default), renders
from a local file (--policy), or forwards everything to one Redis
(--upstream). Every flag may also be set by its environment variable or in
a --config file; the command line wins over the environment, which wins
over the file.

Exit status: 0 after a clean shutdown, 1 when the proxy failed, 2 when it
was called wrongly.

Flags:
`

// errVersion ends parseFlags after --version was printed.
var errVersion = errors.New("version printed")

// config is everything the flags set.
type config struct {
	listen       string
	admin        string
	nodeID       string
	controlPlane string
	upstream     string
	policy       string
	stateDir     string
	readyFile    string
	drainTimeout time.Duration
	logLevel     string
	logFormat    string
	pprof        bool
	limits       frontend.Limits
	telemetry    telemetryConfig

	// controlPlaneTLS secures the ADS and telemetry connections.
	controlPlaneTLS xdsclient.TLSFiles
	// clientTLS secures the RESP listeners (clienttls.go).
	clientTLS clientTLSConfig
	// clusterListen are more addresses of the default listener, virtual
	// nodes of cluster emulation (clusterlisten.go).
	clusterListen []string
}

// parseFlags parses the command line, then the environment and --config;
// --help and --version print to stdout and return flag.ErrHelp and
// errVersion.
func parseFlags(args []string, stdout io.Writer) (config, error) {
	return parseFlagsEnv(args, stdout, os.Getenv)
}

func parseFlagsEnv(args []string, stdout io.Writer, getenv func(string) string) (config, error) {
	host, _ := os.Hostname()
	if host == "" {
		host = "keyway-proxy"
	}
	cfg := config{limits: frontend.DefaultLimits()}
	fs := flag.NewFlagSet("keyway-proxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:6380", "address for RESP clients")
	fs.StringVar(&cfg.admin, "admin", "127.0.0.1:9180", "address for /healthz, /readyz and /metrics")
	fs.StringVar(&cfg.nodeID, "node-id", host, "this proxy's name in the fleet")
	fs.StringVar(&cfg.controlPlane, "control-plane", "", "keyway-control address to subscribe to (for example 127.0.0.1:7700)")
	fs.StringVar(&cfg.controlPlaneTLS.CA, "control-plane-ca", "", "connect to the control plane over TLS, trusting this PEM CA bundle")
	fs.StringVar(&cfg.controlPlaneTLS.Cert, "control-plane-cert", "", "PEM client certificate for the control plane; it must name --node-id (CN or SAN); reloaded when the file changes")
	fs.StringVar(&cfg.controlPlaneTLS.Key, "control-plane-key", "", "PEM key of --control-plane-cert")
	fs.StringVar(&cfg.upstream, "upstream", "", "standalone mode: forward everything to this Redis HOST:PORT, no control plane")
	fs.StringVar(&cfg.policy, "policy", "", "render this policy file or directory locally instead of subscribing; SIGHUP re-reads it")
	fs.StringVar(&cfg.stateDir, "state-dir", "", "directory keeping the last good snapshot, served at start while the control plane is down")
	fs.StringVar(&cfg.readyFile, "ready-file", "", "once every listener is bound, write a JSON object of flag name to bound address here (for a port 0 the kernel chose), removed on exit")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 10*time.Second, "how long in-flight requests may take to finish on shutdown")
	fs.StringVar(&cfg.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&cfg.pprof, "pprof", false, "serve Go's /debug/pprof profiles on the admin listener")
	telemetryFlags(fs, &cfg.telemetry)
	fs.Int64Var(&cfg.limits.MaxBulkLen, "max-bulk-len", cfg.limits.MaxBulkLen, "largest argument a client may send, in bytes")
	fs.Int64Var(&cfg.limits.MaxArgs, "max-args", cfg.limits.MaxArgs, "most arguments in one command")
	fs.Int64Var(&cfg.limits.MaxQueryBuffer, "max-query-buffer", cfg.limits.MaxQueryBuffer, "largest request buffered before it is complete, in bytes")
	fs.IntVar(&cfg.limits.MaxClients, "max-clients", cfg.limits.MaxClients, "most client connections at once")
	fs.DurationVar(&cfg.limits.IdleTimeout, "idle-timeout", 0, "close client connections idle this long (0 is never)")
	fs.Int64Var(&cfg.limits.MaxOutputBuffer, "max-output-buffer", cfg.limits.MaxOutputBuffer, "close a client whose pending replies exceed this many bytes (0 is no limit)")
	fs.DurationVar(&cfg.limits.WriteTimeout, "client-write-timeout", cfg.limits.WriteTimeout, "close a client that takes no reply bytes for this long (0 is never)")
	clientSecurityFlags(fs, &cfg.clientTLS, &cfg.limits)
	clusterListenFlag(fs, &cfg.clusterListen)
	version := fs.Bool("version", false, "print the version, commit and build date, and exit")
	envflag.Register(fs, envPrefix)
	if err := envflag.Parse(fs, args, envPrefix, getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageHead)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
		}
		return cfg, err
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.Line("keyway-proxy"))
		return cfg, errVersion
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q (keyway-proxy takes only flags)", fs.Arg(0))
	}
	if err := cfg.clientTLS.check(); err != nil {
		return cfg, err
	}
	modes := 0
	for _, s := range []string{cfg.controlPlane, cfg.upstream, cfg.policy} {
		if s != "" {
			modes++
		}
	}
	if modes > 1 {
		return cfg, errors.New("choose one of --control-plane, --policy and --upstream")
	}
	if modes == 0 {
		cfg.controlPlane = "127.0.0.1:7700"
	}
	return cfg, nil
}

func newLogger(cfg config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.logFormat) {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is neither text nor json", cfg.logFormat)
}

// checkArgs parses the command line for main and says how to exit when
// the proxy should not start: 0 after --help or --version, 2 on misuse.
func checkArgs(args []string, stdout, stderr io.Writer, getenv func(string) string) (config, *slog.Logger, int, bool) {
	cfg, err := parseFlagsEnv(args, stdout, getenv)
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errVersion) {
		return cfg, nil, 0, false
	}
	var log *slog.Logger
	if err == nil {
		log, err = newLogger(cfg, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyway-proxy: %v\nRun 'keyway-proxy --help' for usage.\n", err)
		return cfg, nil, 2, false
	}
	return cfg, log, 0, true
}

func main() {
	// keyway-control runs a pushed policy's test cases in this binary
	// (it has the engines, the control plane must not); see testrun.
	if len(os.Args) > 1 && os.Args[1] == testrun.Subcommand {
		os.Exit(testrun.Child(os.Args[2:], os.Stdin, os.Stdout, os.Stderr, policytest.Run))
	}
	cfg, log, code, start := checkArgs(os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	if !start {
		os.Exit(code)
	}
	log.Info("keyway-proxy starting", "version", buildinfo.Get().Version, "commit", buildinfo.Get().Commit)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("keyway-proxy failed", "err", err)
		os.Exit(1)
	}
}
