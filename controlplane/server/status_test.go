package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"keyway.dev/controlplane/server"
	"keyway.dev/controlplane/xds/xdstest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

const statusPrefix = "/keyway/default/status/"

// statusLog follows every write under the fleet's status prefix in etcd.
type statusLog struct {
	mu     sync.Mutex
	puts   int
	dels   int
	revs   map[int64]bool // distinct revisions: one per transaction
	latest map[string]*keywayv1.Node
}

func watchStatus(t *testing.T, cli *clientv3.Client) *statusLog {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l := &statusLog{revs: map[int64]bool{}, latest: map[string]*keywayv1.Node{}}
	wch := cli.Watch(ctx, statusPrefix, clientv3.WithPrefix())
	ready := make(chan struct{})
	go func() {
		// The watch is registered once the first response (or the
		// created notification) is in; RequestProgress forces one.
		_ = cli.RequestProgress(ctx)
		close(ready)
		for wr := range wch {
			l.mu.Lock()
			for _, ev := range wr.Events {
				id := strings.TrimPrefix(string(ev.Kv.Key), statusPrefix)
				l.revs[ev.Kv.ModRevision] = true
				if ev.Type == clientv3.EventTypeDelete {
					l.dels++
					delete(l.latest, id)
					continue
				}
				l.puts++
				n := &keywayv1.Node{}
				if err := proto.Unmarshal(ev.Kv.Value, n); err == nil {
					l.latest[id] = n
				}
			}
			l.mu.Unlock()
		}
	}()
	<-ready
	return l
}

// take returns and resets the counts.
func (l *statusLog) take() (puts, dels, txns int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	puts, dels, txns = l.puts, l.dels, len(l.revs)
	l.puts, l.dels, l.revs = 0, 0, map[int64]bool{}
	return puts, dels, txns
}

// all reports an error until every id's latest record satisfies ok.
func (l *statusLog) all(ids []string, ok func(*keywayv1.Node) bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, id := range ids {
		if n := l.latest[id]; n == nil || !ok(n) {
			return fmt.Errorf("record of %s: %v", id, n)
		}
	}
	return nil
}

func onVersion(v string) func(*keywayv1.Node) bool {
	return func(n *keywayv1.Node) bool {
		return n.GetConnected() && strings.HasPrefix(n.GetApplied()["Domain"], v+"-") &&
			strings.HasPrefix(n.GetApplied()["ProxyConfig"], v+"-") && n.GetApplied()["Flag"] != ""
	}
}

// TestStatusWritesPerPush connects simulated proxies, pushes, and counts
// the status writes etcd receives: one put per proxy and change, batched
// into transactions, not one per ACK.
func TestStatusWritesPerPush(t *testing.T) {
	const n = 100
	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), ForgetNodesAfter: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
	cc, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	pol := keywayv1.NewPolicyServiceClient(cc)
	if _, err := pol.Push(ctx, &keywayv1.PushRequest{Bundle: bundle(policyV1)}); err != nil {
		t.Fatal(err)
	}
	log := watchStatus(t, srv.Store().Client())

	var ids []string
	var wg sync.WaitGroup
	simCtx, stopSims := context.WithCancel(ctx)
	defer func() { stopSims(); wg.Wait() }()
	stops := map[string]context.CancelFunc{}
	for i := range n {
		s := &xdstest.Sim{ID: fmt.Sprintf("sim-%03d", i), Listeners: fmt.Sprintf("127.0.0.1:%d", 20000+i)}
		ids = append(ids, s.ID)
		conn, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		sctx, stop := context.WithCancel(simCtx)
		stops[s.ID] = stop
		wg.Go(func() {
			defer conn.Close()
			s.Run(sctx, conn)
		})
	}
	poll(t, "every sim's status on v1", func() error { return log.all(ids, onVersion("v1")) })
	puts, _, txns := log.take()
	t.Logf("connect: %d proxies, %d status puts in %d transactions", n, puts, txns)

	if _, err := pol.Push(ctx, &keywayv1.PushRequest{Bundle: bundle(policyV2), Parent: 1}); err != nil {
		t.Fatal(err)
	}
	poll(t, "every sim's status on v2", func() error { return log.all(ids, onVersion("v2")) })
	puts, dels, txns := log.take()
	t.Logf("push: %d proxies ACKed 2 types each; %d status puts in %d transactions", n, puts, txns)
	// Each proxy's two ACKs land in one batch unless a batch boundary
	// falls between them; 2n would be one write per ACK.
	if puts > n+n/4 || dels != 0 {
		t.Fatalf("a push to %d proxies cost %d status puts and %d deletions, want at most %d puts", n, puts, dels, n+n/4)
	}
	if txns > puts/10 {
		t.Fatalf("%d status puts took %d transactions: not batched", puts, txns)
	}

	// A proxy that leaves is shown disconnected, then forgotten: gone
	// from memory, the fleet view and etcd.
	stops["sim-007"]()
	fleet := keywayv1.NewFleetServiceClient(cc)
	poll(t, "sim-007 forgotten", func() error {
		for _, nd := range srv.XDS().Tracker().Nodes() {
			if nd.GetId() == "sim-007" {
				return fmt.Errorf("still tracked: %v", nd)
			}
		}
		resp, err := fleet.ListNodes(ctx, &keywayv1.ListNodesRequest{})
		if err != nil {
			return err
		}
		for _, nd := range resp.GetNodes() {
			if nd.GetId() == "sim-007" {
				return fmt.Errorf("still in the fleet view: %v", nd)
			}
		}
		if len(resp.GetNodes()) != n-1 {
			return fmt.Errorf("fleet view has %d nodes, want %d", len(resp.GetNodes()), n-1)
		}
		return nil
	})
	puts, dels, _ = log.take()
	if puts != 1 || dels != 1 {
		t.Fatalf("a proxy leaving cost %d puts and %d deletions, want 1 (disconnected) and 1 (forgotten)", puts, dels)
	}
}
