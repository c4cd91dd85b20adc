// Package etcdtest runs a real single-node etcd inside the test process,
// with its data in the test's temporary directory.
package etcdtest

import (
	"testing"

	"keyway.dev/controlplane/store"
)

// Start starts an embedded etcd for t and stops it when t ends. Use its
// Client in-process, or its Endpoints to exercise the external-etcd path.
func Start(t testing.TB) *store.Embedded {
	t.Helper()
	e, err := store.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("stop etcd: %v", err)
		}
	})
	return e
}
