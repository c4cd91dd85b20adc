// Package store keeps Keyway's policy versions, the head and active
// pointers, and per-node fleet status in etcd. Versions are immutable
// records numbered 1, 2, 3 per fleet; a push is one compare-and-swap
// transaction on the head, so concurrent pushes cannot overwrite each other.
package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"

	"keyway.dev/controlplane/etcdkeys"
)

// DefaultFleet is the fleet name used when Config.Fleet is empty.
const DefaultFleet = etcdkeys.DefaultFleet

// Config says which etcd to use and how.
type Config struct {
	// DataDir holds the embedded etcd's data. Ignored when Endpoints is set.
	DataDir string
	// Endpoints of an external etcd cluster; empty means embedded.
	Endpoints []string
	// TLS, when set, reaches the external etcd over TLS (see
	// auth.ClientTLS for a configuration that follows rotated files).
	TLS *tls.Config
	// Username and Password authenticate to an external etcd that has
	// auth enabled; empty means no etcd user.
	Username, Password string
	// DialOptions are added to the external etcd client's (metrics
	// interceptors).
	DialOptions []grpc.DialOption
	// Fleet namespaces every key, so several fleets can share one etcd.
	Fleet string
	// OpTimeout bounds each etcd call so an unreachable etcd fails requests
	// instead of hanging them. Zero means 5s.
	OpTimeout time.Duration
	// StatusTTL is the lease TTL of fleet status records: they vanish this
	// long after the control plane that wrote them dies. Zero means 15s.
	StatusTTL time.Duration
	// StartWait is how long Open keeps trying an external etcd that does
	// not answer (refused, unreachable, timing out), so that a control
	// plane restarted while etcd is away waits for it instead of exiting
	// into a supervisor's growing restart delay. A refusal that retrying
	// cannot fix (credentials, permissions, TLS) fails at once. Zero
	// means one try.
	StartWait time.Duration
	// Logger receives a line per failed try while Open waits; nil
	// discards them.
	Logger *slog.Logger
}

// Store is the etcd-backed source of truth. It is safe for concurrent use.
type Store struct {
	cli       *clientv3.Client
	embedded  *Embedded
	keys      etcdkeys.Fleet
	fleet     string
	opTimeout time.Duration
	status    *statusWriter
}

// Open connects to the etcd named by cfg, starting an embedded one when
// cfg.Endpoints is empty.
func Open(cfg Config) (*Store, error) {
	if len(cfg.Endpoints) > 0 {
		return openExternal(cfg)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("open store: neither a data dir nor etcd endpoints given")
	}
	e, err := StartEmbedded(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	return newStore(e.Client(), e, cfg), nil
}

// New wraps an existing client. Close does not close cli.
func New(cli *clientv3.Client, cfg Config) *Store {
	return newStore(cli, nil, cfg)
}

func newStore(cli *clientv3.Client, e *Embedded, cfg Config) *Store {
	if cfg.Fleet == "" {
		cfg.Fleet = DefaultFleet
	}
	if cfg.OpTimeout == 0 {
		cfg.OpTimeout = 5 * time.Second
	}
	if cfg.StatusTTL == 0 {
		cfg.StatusTTL = 15 * time.Second
	}
	s := &Store{cli: cli, embedded: e, keys: etcdkeys.For(cfg.Fleet), fleet: cfg.Fleet, opTimeout: cfg.OpTimeout}
	s.status = startStatusWriter(s, cfg.StatusTTL)
	return s
}

// Client returns the etcd client, for components (elections, flags) that
// keep their own keys.
func (s *Store) Client() *clientv3.Client { return s.cli }

// Fleet is the fleet name that namespaces the store's keys.
func (s *Store) Fleet() string { return s.fleet }

// Close stops the status writer, revokes its lease and, for an embedded
// etcd, stops the node.
func (s *Store) Close() error {
	s.status.stop()
	if s.embedded != nil {
		return s.embedded.Close()
	}
	return nil
}

// op returns a context bounded by the store's per-call timeout.
func (s *Store) op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opTimeout)
}

func formatVersion(v uint64) string { return strconv.FormatUint(v, 10) }

func parseVersion(b []byte) (uint64, error) {
	v, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse version pointer %q: %w", b, err)
	}
	return v, nil
}
