package main

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/telemetry"
)

// otlpCollector keeps the spans an OTLP/gRPC exporter sends it.
type otlpCollector struct {
	collectorpb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (c *otlpCollector) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			c.spans = append(c.spans, ss.GetSpans()...)
		}
	}
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func attrs(s *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.GetAttributes() {
		m[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	return m
}

// A traced command forwarded to Redis has a child span of the upstream
// call, timed where the upstream layer queued the request and read its
// reply, inside the command's span; a command the proxy answers itself
// has none.
func TestUpstreamChildSpan(t *testing.T) {
	r := redistest.Start(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &otlpCollector{}
	gs := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(gs, col)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(ln)
	}()
	defer func() {
		gs.Stop()
		<-served
	}()

	addr, _, stop := startRun(t, "--upstream", r.Addr, "--trace-endpoint", ln.Addr().String(), "--trace-sample", "1")
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, DisableIdentity: true, PoolSize: 1})
	ctx := context.Background()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("set: %v", err)
	}
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping: %v", err)
	}
	rdb.Close()
	// Stopping the proxy flushes its spans.
	if err := stop(); err != nil {
		t.Fatalf("proxy: %v", err)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	var set, child, ping *tracepb.Span
	children := map[string]int{}
	for _, s := range col.spans {
		switch s.GetName() {
		case "SET":
			set = s
		case "PING":
			ping = s
		}
		if s.GetName() == telemetry.UpstreamSpan {
			child = s
			children[string(s.GetParentSpanId())]++
		}
	}
	if set == nil || child == nil {
		t.Fatalf("spans %v: want SET and its %q child", col.spans, telemetry.UpstreamSpan)
	}
	if ping == nil {
		t.Fatal("no span of PING, which the proxy answers itself")
	}
	if len(children) != 1 || children[string(set.GetSpanId())] != 1 {
		t.Fatalf("upstream spans by parent %v: want exactly one, under SET", children)
	}
	if string(child.GetTraceId()) != string(set.GetTraceId()) {
		t.Error("the upstream span is in another trace than its command")
	}
	if child.GetKind() != tracepb.Span_SPAN_KIND_CLIENT || set.GetKind() != tracepb.Span_SPAN_KIND_SERVER {
		t.Errorf("kinds: command %v, upstream %v; want server and client", set.GetKind(), child.GetKind())
	}
	for k, want := range map[string]string{"db.system.name": "redis", "db.operation.name": "SET", "keyway.upstream": "redis"} {
		if got := attrs(child)[k]; got != want {
			t.Errorf("upstream span %s = %q, want %q", k, got, want)
		}
	}
	ns := func(v uint64) time.Time { return time.Unix(0, int64(v)) }
	cs, ce := ns(child.GetStartTimeUnixNano()), ns(child.GetEndTimeUnixNano())
	ps, pe := ns(set.GetStartTimeUnixNano()), ns(set.GetEndTimeUnixNano())
	if cs.Before(ps) || ce.After(pe) || ce.Before(cs) {
		t.Errorf("upstream span [%v, %v] is not within its command's [%v, %v]", cs, ce, ps, pe)
	}
}
