package etcdha

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/snapshot"
	utlsnapshot "go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"

	"keyway.dev/integration/harness"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// The backup and restore docs/operations.md describes, done as an
// operator would with etcdctl and etcdutl (their library halves): a
// snapshot of a live TLS etcd holding a fleet's versions, the cluster
// lost, the snapshot restored into a fresh data directory, and a
// keyway-control on it serving the same versions and active pointer.
func TestSnapshotRestore(t *testing.T) {
	c := startCluster(t, 1)
	ctl, _ := startControl(t, c)
	ctx := context.Background()
	for i, msg := range []string{"one", "two"} {
		if _, err := ctl.Policies().Push(ctx, &keywayv1.PushRequest{Bundle: bundle(msg), Author: "ann", Message: msg, Parent: uint64(i)}); err != nil {
			t.Fatalf("push %s: %v", msg, err)
		}
	}
	if _, err := ctl.Policies().Activate(ctx, &keywayv1.ActivateRequest{Version: 1, Author: "ann", Reason: "rollback"}); err != nil {
		t.Fatal(err)
	}

	// etcdctl snapshot save, over the same TLS the control plane uses.
	pair, err := tls.LoadX509KeyPair(c.client.CertFile, c.client.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "keyway.db")
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := snapshot.SaveWithVersion(sctx, zap.NewNop(), clientv3.Config{
		Endpoints: c.endpoints, DialTimeout: 5 * time.Second,
		TLS: &tls.Config{RootCAs: c.ca.Pool(), Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
	}, snap); err != nil {
		t.Fatalf("snapshot save: %v", err)
	}

	// The whole cluster is lost.
	ctl.Kill()
	c.close()

	// etcdutl snapshot restore into a data directory for keyway-control's
	// embedded etcd (member name "keyway", etcd's default cluster token).
	dataDir := filepath.Join(t.TempDir(), "restored")
	if err := utlsnapshot.NewV3(zap.NewNop()).Restore(utlsnapshot.RestoreConfig{
		SnapshotPath:        snap,
		Name:                "keyway",
		OutputDataDir:       dataDir,
		PeerURLs:            []string{"http://127.0.0.1:0"},
		InitialCluster:      "keyway=http://127.0.0.1:0",
		InitialClusterToken: "etcd-cluster",
	}); err != nil {
		t.Fatalf("snapshot restore: %v", err)
	}
	restored := harness.StartControlWith(t, harness.ControlOptions{DataDir: dataDir, Args: []string{"--render", "inprocess", "--auth", "off"}})
	active, err := restored.Policies().GetVersion(ctx, &keywayv1.GetVersionRequest{})
	if err != nil || active.GetVersion().GetVersion() != 1 {
		t.Fatalf("active version after restore: %v, %v; want v1", active, err)
	}
	two, err := restored.Policies().GetVersion(ctx, &keywayv1.GetVersionRequest{Version: 2})
	if err != nil || two.GetVersion().GetMessage() != "two" {
		t.Fatalf("v2 after restore: %v, %v", two, err)
	}
	// The restored control plane takes pushes where the old one stopped.
	next, err := restored.Policies().Push(ctx, &keywayv1.PushRequest{Bundle: bundle("three"), Author: "ann", Message: "three", Parent: 2})
	if err != nil || next.GetVersion().GetVersion() != 3 {
		t.Fatalf("push after restore: %v, %v; want v3", next, err)
	}
}
