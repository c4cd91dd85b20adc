package crossplane_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/controlplane/etcdtest"
	"keyway.dev/controlplane/rollout"
	"keyway.dev/controlplane/server"
	"keyway.dev/controlplane/store"
	"keyway.dev/controlplane/telemetry"
	"keyway.dev/dataplane/engine"
	dtel "keyway.dev/dataplane/telemetry"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// leads records which replicas logged that they drive rollouts.
type leads struct {
	mu  sync.Mutex
	ids []string
}

func (l *leads) Enabled(context.Context, slog.Level) bool { return true }
func (l *leads) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *leads) WithGroup(string) slog.Handler            { return l }
func (l *leads) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "driving rollouts" {
		return nil
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "replica" {
			l.mu.Lock()
			l.ids = append(l.ids, a.Value.String())
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *leads) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ids...)
}

// replica runs keyway-control as keyway-control's main wires it, on the
// external etcd e, sharing telemetry every few milliseconds.
func replica(t *testing.T, e *store.Embedded, id string, log *leads) *grpc.ClientConn {
	t.Helper()
	agg := telemetry.New(telemetry.Options{})
	srv, err := server.New(server.Config{
		Listen:        "127.0.0.1:0",
		EtcdEndpoints: e.Endpoints(),
		ReplicaID:     id,
		Logger:        slog.New(log),
		Services:      []func(grpc.ServiceRegistrar){agg.Register},
		Guards:        rollout.FromTopSince(agg.TopSince),
		NodeStats:     agg.NodeStats,
		ShareTelemetry: func(ctx context.Context, cli *clientv3.Client, fleet, replica string) error {
			return agg.Share(ctx, cli, fleet, replica, telemetry.ShareOptions{Interval: 20 * time.Millisecond, TTL: time.Second})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	cc, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cc.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("replica %s: %v", id, err)
		}
	})
	return cc
}

func poll(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Two replicas behind a balancer: the canary fails only on the proxy
// connected to the replica that does not drive rollouts, and the one that
// does aborts the rollout.
func TestLeaderAbortsOnCanaryErrorsReportedToAnotherReplica(t *testing.T) {
	e := etcdtest.Start(t)
	log := &leads{}
	a := replica(t, e, "a", log)
	poll(t, "replica a to lead", func() error {
		if l := log.list(); fmt.Sprint(l) != "[a]" {
			return fmt.Errorf("leaders so far %v", l)
		}
		return nil
	})
	b := replica(t, e, "b", log)
	ctx := context.Background()

	pol := keywayv1.NewPolicyServiceClient(a)
	if _, err := pol.Push(ctx, &keywayv1.PushRequest{Bundle: bundle(policyV1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pol.Push(ctx, &keywayv1.PushRequest{Bundle: bundle(policyV2), Parent: 1, NoActivate: true}); err != nil {
		t.Fatal(err)
	}
	// An hour per step: the rollout can only hold or abort here.
	ro := keywayv1.NewRolloutServiceClient(b)
	if _, err := ro.StartRollout(ctx, &keywayv1.StartRolloutRequest{Domain: "web", ToVersion: 2,
		Interval: durationpb.New(time.Hour), MaxErrorRate: 0.05}); err != nil {
		t.Fatal(err)
	}

	// Proxy pa reports to a: stable traffic only, all good. Proxy pb
	// reports to b: stable fine, canary failing 40 times in 100.
	pa, pb := dtel.New(dtel.Options{}), dtel.New(dtel.Options{})
	for range 500 {
		pa.Observe("web", "stable", "GET", "main", engine.KindNone, 10, 20, time.Millisecond)
	}
	for i := range 100 {
		pb.Observe("web", "stable", "GET", "main", engine.KindNone, 10, 20, time.Millisecond)
		kind := engine.KindNone
		if i%5 < 2 {
			kind = engine.KindUpstream
		}
		pb.Observe("web", "canary", "GET", "main", kind, 10, 20, time.Millisecond)
	}
	// pa first, so the leader cannot judge b's share without its own.
	for _, p := range []struct {
		id  string
		rec *dtel.Recorder
		cc  *grpc.ClientConn
	}{{"pa", pa, a}, {"pb", pb, b}} {
		rep := dtel.NewReporter(p.rec, keywayv1.NewTelemetryServiceClient(p.cc), dtel.ReporterOptions{NodeID: p.id, Interval: time.Hour})
		if err := rep.Flush(ctx); err != nil {
			t.Fatalf("%s reports: %v", p.id, err)
		}
	}

	var r *keywayv1.Rollout
	poll(t, "the leader to abort the rollout", func() error {
		got, err := keywayv1.NewRolloutServiceClient(a).GetRollout(ctx, &keywayv1.GetRolloutRequest{Domain: "web"})
		if err != nil {
			return err
		}
		if r = got.GetRollout(); r.GetState() != keywayv1.RolloutState_ROLLOUT_STATE_ABORTED {
			return fmt.Errorf("rollout %v: %s", r.GetState(), rollout.Describe(r.GetGuards()))
		}
		return nil
	})
	if !strings.Contains(r.GetReason(), "canary error rate 40.00% (40 of 100 requests)") {
		t.Errorf("abort reason %q, want the canary's 40 errors in 100 requests", r.GetReason())
	}
	// The leader judged on both proxies' stable traffic, not its own only.
	if s := r.GetGuards().GetStable(); s.GetRequests() != 600 || s.GetErrors() != 0 {
		t.Errorf("leader read stable %d requests, %d errors; want 600, 0", s.GetRequests(), s.GetErrors())
	}
	if l := log.list(); fmt.Sprint(l) != "[a]" {
		t.Errorf("replicas that drove rollouts: %v, want only a", l)
	}

	// Either replica answers `keyway top` for both proxies.
	for name, cc := range map[string]*grpc.ClientConn{"a": a, "b": b} {
		top, err := keywayv1.NewTelemetryQueryServiceClient(cc).Top(ctx, &keywayv1.TopRequest{Domain: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if len(top.GetNodes()) != 2 || len(top.GetDomains()) != 1 || top.GetDomains()[0].GetTraffic().GetRequests() != 700 {
			t.Errorf("replica %s: top lists %d nodes and %v, want 2 nodes and 700 requests", name, len(top.GetNodes()), top.GetDomains())
		}
	}
}

func bundle(src string) *keywayv1.Bundle {
	return &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}
}

const (
	policyV1 = "main = redis(\"main\", \"127.0.0.1:6401\")\ndomain(\"web\", main)\nidentity(default_domain = \"web\")\n"
	policyV2 = "main = redis(\"main\", \"127.0.0.1:6401\")\ndomain(\"web\", main)\ndomain(\"api\", main)\nidentity(default_domain = \"web\")\n"
)
