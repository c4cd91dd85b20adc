package etcdtest

import (
	"context"
	"net/url"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"

	"keyway.dev/proto/certtest"
)

// Secure is a single-node etcd configured as a production one is: clients
// reach it over TLS on loopback, must present a certificate its CA signed,
// and must log in as a user whose role reaches only Keyway's keys.
type Secure struct {
	// Endpoints are the https client URLs.
	Endpoints []string
	// CA signed the server's certificate and is the only CA whose client
	// certificates the node accepts.
	CA *certtest.CA
	// Client is a certificate the node accepts.
	Client certtest.Leaf
	// Username and Password log in as a user with readwrite on /keyway/.
	Username, Password string
}

// StartSecure starts a TLS, client-certificate and password protected
// etcd for t and stops it when t ends.
func StartSecure(t testing.TB) *Secure {
	t.Helper()
	ca := certtest.NewCA(t, "etcd-ca")
	srv := ca.Server(t, "etcd-server")
	s := &Secure{CA: ca, Client: ca.Client(t, "keyway-control"), Username: "keyway", Password: "keyway-secret"}

	cu := url.URL{Scheme: "https", Host: "127.0.0.1:0"}
	pu := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.Name = "secure"
	cfg.LogLevel = "error"
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.TickMs, cfg.ElectionMs = 10, 100
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.ClientTLSInfo = transport.TLSInfo{
		CertFile:       srv.CertFile,
		KeyFile:        srv.KeyFile,
		TrustedCAFile:  ca.CertFile,
		ClientCertAuth: true,
	}
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatalf("start secure etcd: %v", err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		t.Fatalf("start secure etcd: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("start secure etcd: not ready after 30s")
	}
	for _, l := range e.Clients {
		s.Endpoints = append(s.Endpoints, "https://"+l.Addr().String())
	}

	// Users are set up in process, before auth is on, as an operator
	// would with etcdctl as root.
	cli := v3client.New(e.Server)
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	steps := []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "root-secret"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "keyway"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "keyway", "/keyway/", clientv3.GetPrefixRangeEnd("/keyway/"), clientv3.PermissionType(clientv3.PermReadWrite))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, s.Username, s.Password); return err },
		func() error { _, err := cli.UserGrantRole(ctx, s.Username, "keyway"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("secure etcd: set up users, step %d: %v", i, err)
		}
	}
	return s
}
