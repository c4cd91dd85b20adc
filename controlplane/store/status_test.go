package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// waitStatuses polls s until want(records) holds.
func waitStatuses(t *testing.T, s *store.Store, what string, want func([]*keywayv1.Node) error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := s.Statuses(context.Background())
		if err == nil {
			err = want(got)
		}
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func count(n int) func([]*keywayv1.Node) error {
	return func(got []*keywayv1.Node) error {
		if len(got) != n {
			return fmt.Errorf("%d records, want %d: %v", len(got), n, got)
		}
		return nil
	}
}

// A control plane on an embedded etcd that dies without revoking its
// lease leaves records whose lease etcd renews when it restarts with
// the next run; that run drops them at once instead of showing dead
// streams as connected for a TTL.
func TestEmbeddedRestartDropsStaleStatus(t *testing.T) {
	dir := t.TempDir()
	e, err := store.StartEmbedded(dir)
	if err != nil {
		t.Fatal(err)
	}
	crashed := store.New(e.Client(), store.Config{StatusTTL: time.Hour})
	crashed.RecordStatus(&keywayv1.Node{Id: "proxy-a", Connected: true})
	waitStatuses(t, crashed, "record written", count(1))
	// etcd stops under the writer, as when the process is killed: the
	// lease is never revoked.
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	defer crashed.Close()

	s, err := store.Open(store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Statuses(context.Background()); err != nil || len(got) != 0 {
		t.Fatalf("statuses after restart = %v, %v; want none", got, err)
	}
}

// A disconnected record is written only over this replica's own: a proxy
// that moved on to another replica keeps that replica's record, which
// this one's forgetting it does not delete either.
func TestDisconnectDoesNotOverwriteAnotherReplica(t *testing.T) {
	e, err := store.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a := store.New(e.Client(), store.Config{})
	defer a.Close()
	b := store.New(e.Client(), store.Config{})
	defer b.Close()

	a.RecordStatus(&keywayv1.Node{Id: "p", Connected: true, Peer: "a"})
	waitStatuses(t, a, "a's record", count(1))
	b.RecordStatus(&keywayv1.Node{Id: "p", Connected: true, Peer: "b"})
	waitStatuses(t, a, "b's record", func(got []*keywayv1.Node) error {
		if len(got) != 1 || got[0].GetPeer() != "b" {
			return fmt.Errorf("records %v, want p from b", got)
		}
		return nil
	})
	// a learns late that p left it, then forgets p; a sentinel written
	// with each says a's writer got past it.
	stillB := func(got []*keywayv1.Node) error {
		for _, n := range got {
			if n.GetId() == "p" && (!n.GetConnected() || n.GetPeer() != "b") {
				return fmt.Errorf("p's record = %v, want b's, connected", n)
			}
		}
		return nil
	}
	a.RecordStatus(&keywayv1.Node{Id: "p", Connected: false, Peer: "a"})
	a.RecordStatus(&keywayv1.Node{Id: "sentinel-1", Connected: true})
	waitStatuses(t, a, "first sentinel", count(2))
	waitStatuses(t, a, "after a's disconnect", stillB)
	a.ForgetStatus("p")
	a.RecordStatus(&keywayv1.Node{Id: "sentinel-2", Connected: true})
	waitStatuses(t, a, "second sentinel", count(3))
	waitStatuses(t, a, "after a forgot p", stillB)

	// Its own record, a replica does mark disconnected and forget.
	b.RecordStatus(&keywayv1.Node{Id: "p", Connected: false, Peer: "b"})
	waitStatuses(t, b, "disconnected", func(got []*keywayv1.Node) error {
		if got[0].GetConnected() {
			return fmt.Errorf("p still connected: %v", got[0])
		}
		return nil
	})
	b.ForgetStatus("p")
	waitStatuses(t, b, "forgotten", count(2))
}
