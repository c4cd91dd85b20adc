// Command keyway-control is Keyway's control plane: it stores policy
// versions in etcd (embedded by default), serves them to keyway-proxy
// over ADS, and answers the keyway CLI's admin API, all on one gRPC port.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"keyway.dev/controlplane/rollout"
	"keyway.dev/controlplane/sandbox"
	"keyway.dev/controlplane/server"
	"keyway.dev/controlplane/telemetry"
)

func main() {
	// The render sandbox re-executes this binary; see sandbox.Child.
	if len(os.Args) > 1 && os.Args[1] == sandbox.Subcommand {
		os.Exit(sandbox.Child(os.Args[2:], os.Stdin, os.Stdout, os.Stderr))
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "keyway-control:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("keyway-control", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:7700", "gRPC address for ADS, the admin API and telemetry")
	dataDir := fs.String("data-dir", "./keyway-data", "data directory of the embedded etcd")
	endpoints := fs.String("etcd-endpoints", "", "comma-separated etcd endpoints; when set no etcd is embedded")
	fleet := fs.String("fleet", "", "fleet name that namespaces keys in etcd (default \"default\")")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	sec := securityFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	secure, err := sec.config(logger)
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// The aggregator answers `keyway top` and the rollout guards alike.
	agg := telemetry.New(telemetry.Options{})
	srv, err := server.New(server.Config{
		Listen:        *listen,
		DataDir:       *dataDir,
		EtcdEndpoints: splitList(*endpoints),
		Fleet:         *fleet,
		Logger:        logger,
		Services:      []func(grpc.ServiceRegistrar){agg.Register},
		Guards:        rollout.FromTopSince(agg.TopSince),
		NodeStats:     agg.NodeStats,
		ShareTelemetry: func(ctx context.Context, cli *clientv3.Client, fleet, replica string) error {
			return agg.Share(ctx, cli, fleet, replica, telemetry.ShareOptions{Logger: logger})
		},

		Render:             secure.render,
		TLS:                secure.tls,
		Auth:               secure.mode,
		CertRoles:          secure.certRoles,
		BootstrapTokenFile: secure.bootstrapFile,
	})
	if err != nil {
		return err
	}
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
