package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"google.golang.org/grpc"

	"keyway.dev/dataplane/reload"
	"keyway.dev/dataplane/xdsclient"
	"keyway.dev/policy/render"
	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// startSource starts whichever source of policy the flags chose. Work
// that outlives the call runs on wg until ctx ends. bound are the
// listeners' addresses (boundAddrs), announced to the control plane.
func startSource(ctx context.Context, cfg config, bound map[string]string, a *reload.Applier, log *slog.Logger, wg *sync.WaitGroup) error {
	switch {
	case cfg.upstream != "":
		domains, proxy := standalone(cfg.upstream)
		if err := a.Apply(domains, proxy, "standalone"); err != nil {
			return fmt.Errorf("standalone upstream %s: %w", cfg.upstream, err)
		}
		return nil
	case cfg.policy != "":
		if err := applyPolicy(ctx, a, cfg.policy); err != nil {
			return err
		}
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		wg.Go(func() {
			defer signal.Stop(hup)
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					// A bad edit keeps the running policy, as a NACK does.
					if err := applyPolicy(ctx, a, cfg.policy); err != nil {
						log.Error("policy reload failed; keeping the running policy", "path", cfg.policy, "err", err)
					}
				}
			}
		})
		return nil
	}
	snap := reload.NewSnapshot(a, cfg.stateDir)
	if ok, err := snap.Load(); err != nil {
		log.Warn("saved snapshot not applied; waiting for the control plane", "dir", cfg.stateDir, "err", err)
	} else if ok {
		log.Info("serving the saved snapshot until the control plane answers", "dir", cfg.stateDir)
	}
	creds, err := controlPlaneCredentials(cfg)
	if err != nil {
		return err
	}
	xc := xdsclient.New(xdsclient.Config{
		Target:   cfg.controlPlane,
		NodeID:   cfg.nodeID,
		Metadata: map[string]string{"listeners": strings.Join(advertised(bound), ","), "version": version},
		TypeURLs: reload.TypeURLs,
		Handler:  snap,
		Versions: snap.Versions(),
		Log:      log,

		DialOptions: []grpc.DialOption{creds},
	})
	wg.Go(func() {
		if err := xc.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("control plane subscription ended", "err", err)
		}
	})
	return nil
}

// applyPolicy renders a local policy with the control plane's own code,
// so --policy means exactly what a push would, and installs it.
func applyPolicy(ctx context.Context, a *reload.Applier, path string) error {
	bundle, err := render.LoadBundle(path)
	if err != nil {
		return fmt.Errorf("policy %s: %w", path, err)
	}
	p, err := render.Render(ctx, bundle, render.Options{})
	if err != nil {
		return fmt.Errorf("policy %s: %w", path, err)
	}
	v := "file:" + path
	if err := a.Apply(snapshot.Domains(v, p), snapshot.Proxy(v, p), v); err != nil {
		return fmt.Errorf("policy %s: %w", path, err)
	}
	return nil
}

// standalone is the policy of --upstream: one domain, "default", whose
// tree is a single upstream leaf and which may run every admin command.
func standalone(addr string) ([]*keywayv1.Domain, *keywayv1.ProxyConfig) {
	const name = "redis"
	tree := &keywayv1.DomainTree{
		Version: "standalone",
		Root: &keywayv1.Engine{
			Label: "standalone",
			Kind:  &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name}},
		},
		Upstreams: []*keywayv1.Upstream{{
			Name: name,
			Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: addr}},
		}},
		// No policy means the proxy stands in for the server itself:
		// everything Redis allows works as it does direct.
		AllowAdminCommands: []string{"*"},
	}
	domains := []*keywayv1.Domain{{Name: "default", Stable: tree}}
	proxy := &keywayv1.ProxyConfig{
		Name:    snapshot.ProxyConfigName,
		Version: "standalone",
		// The users are Redis's own: no policy names any.
		Identity: &keywayv1.Identity{DefaultDomain: "default", RedisUsers: true},
	}
	return domains, proxy
}

// advertised lists the client addresses this proxy serves, for `keyway
// fleet` (the control plane reads them from the node metadata): the
// bound ones, since a flag may say port 0.
func advertised(bound map[string]string) []string {
	out := []string{bound["listen"]}
	if a := bound["tls-listen"]; a != "" {
		out = append(out, a)
	}
	if a := bound["cluster-listen"]; a != "" {
		out = append(out, strings.Split(a, ",")...)
	}
	return out
}
