package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
)

// Embedded is a single-node etcd running inside this process, so one
// keyway-control command runs everything.
type Embedded struct {
	etcd    *embed.Etcd
	client  *clientv3.Client
	sockDir string
	url     string
}

// StartEmbedded starts a single-node etcd with its data in dir and waits
// until it serves. Client and peer listen on unix sockets so that several
// instances (tests, demos) never collide on ports.
func StartEmbedded(dir string) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create etcd data dir: %w", err)
	}
	sockDir, err := socketDir(dir)
	if err != nil {
		return nil, err
	}
	cu := &url.URL{Scheme: "unix", Path: filepath.Join(sockDir, "c.sock")}
	// etcd takes a unix peer socket's path from the URL host, which cannot
	// hold a slash; a single node never dials its peer URL, so an
	// ephemeral loopback port serves.
	pu := &url.URL{Scheme: "http", Host: "127.0.0.1:0"}

	cfg := embed.NewConfig()
	cfg.Dir = dir
	cfg.Name = "keyway"
	cfg.LogLevel = "error"
	// etcd logs through zap even at error level, including noise on a clean
	// Close; its errors reach us as return values instead.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	// A single node elects itself; short ticks make that take milliseconds.
	cfg.TickMs, cfg.ElectionMs = 10, 100
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.AutoCompactionMode, cfg.AutoCompactionRetention = embed.CompactorModeRevision, "10000"

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		os.RemoveAll(sockDir)
		return nil, fmt.Errorf("start embedded etcd in %s: %w", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		os.RemoveAll(sockDir)
		return nil, fmt.Errorf("start embedded etcd in %s: %w", dir, err)
	case <-time.After(30 * time.Second):
		e.Close()
		os.RemoveAll(sockDir)
		return nil, fmt.Errorf("start embedded etcd in %s: not ready after 30s", dir)
	}
	return &Embedded{etcd: e, client: v3client.New(e.Server), sockDir: sockDir, url: cu.String()}, nil
}

// Client returns an in-process client of the embedded node.
func (e *Embedded) Client() *clientv3.Client { return e.client }

// Endpoints returns the node's client URLs, for clients in other
// processes or tests of the external mode.
func (e *Embedded) Endpoints() []string { return []string{e.url} }

// Close stops the node and removes its sockets; the data stays.
func (e *Embedded) Close() error {
	err := e.client.Close()
	e.etcd.Close()
	os.RemoveAll(e.sockDir)
	// The in-process client reports its own cancellation as an error.
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("close embedded etcd client: %w", err)
	}
	return nil
}
