package telemetry

import (
	"context"
	"net"
	"sync"
	"testing"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"keyway.dev/dataplane/engine"
)

// collector is an OTLP trace receiver that keeps every span's attributes.
type collector struct {
	collectorpb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []map[string]string
	names []string
}

func (c *collector) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				attrs := map[string]string{}
				for _, kv := range s.GetAttributes() {
					attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
				}
				c.spans = append(c.spans, attrs)
				c.names = append(c.names, s.GetName())
			}
		}
	}
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func TestTracerExportsSampledSpans(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	srv := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(srv, col)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	defer func() {
		srv.Stop()
		<-done
	}()

	ctx := context.Background()
	tr, err := NewTracer(ctx, TracingOptions{Endpoint: ln.Addr().String(), Insecure: true, SampleRatio: 1, NodeID: "proxy-1"})
	if err != nil {
		t.Fatal(err)
	}
	requests := []struct {
		domain, command, upstream string
		kind                      engine.ErrorKind
	}{
		{"payments", "GET", "cache", engine.KindNone},
		{"search", "SET", "main", engine.KindTimeout},
	}
	for _, r := range requests {
		if !tr.Sampled() {
			t.Fatal("ratio 1 did not sample")
		}
		_, span := tr.Start(ctx, r.domain, r.command)
		tr.Finish(span, r.upstream, r.kind)
	}
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.spans) != len(requests) {
		t.Fatalf("collector got %d spans, want %d", len(col.spans), len(requests))
	}
	for i, r := range requests {
		t.Run(r.command, func(t *testing.T) {
			a := col.spans[i]
			if col.names[i] != r.command || a["keyway.domain"] != r.domain || a["db.operation.name"] != r.command || a["keyway.upstream"] != r.upstream {
				t.Fatalf("span %q attributes %v", col.names[i], a)
			}
			if want := map[bool]string{true: "", false: r.kind.String()}[r.kind == engine.KindNone]; a["keyway.error_kind"] != want {
				t.Fatalf("error kind %q, want %q", a["keyway.error_kind"], want)
			}
		})
	}
}

// OTEL_EXPORTER_OTLP_* alone turns tracing on, as for any OpenTelemetry
// SDK.
func TestTracerFromEnvironment(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	srv := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(srv, col)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Stop()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	ctx := context.Background()
	tr, err := NewTracer(ctx, TracingOptions{SampleRatio: 1})
	if err != nil || tr == nil {
		t.Fatalf("NewTracer from the environment = %v, %v", tr, err)
	}
	_, span := tr.Start(ctx, "web", "GET")
	tr.Finish(span, "main", engine.KindNone)
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.names) != 1 || col.names[0] != "GET" {
		t.Fatalf("collector got %v, want one GET span", col.names)
	}
}

func TestTracerDisabled(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tr, err := NewTracer(context.Background(), TracingOptions{})
	if err != nil || tr != nil {
		t.Fatalf("NewTracer without endpoint = %v, %v; want nil, nil", tr, err)
	}
	if tr.Sampled() {
		t.Fatal("a nil tracer sampled")
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkTracerSampledOff(b *testing.B) {
	tr := &Tracer{threshold: 0}
	n := 0
	for b.Loop() {
		if tr.Sampled() {
			n++
		}
	}
	_ = n
}
