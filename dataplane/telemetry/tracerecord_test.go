package telemetry

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"

	"keyway.dev/dataplane/engine"
)

// spanCollector is an OTLP trace receiver that keeps whole spans.
type spanCollector struct {
	collectorpb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (c *spanCollector) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			c.spans = append(c.spans, ss.GetSpans()...)
		}
	}
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func TestRecordKeepsTimesAndAttributes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &spanCollector{}
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
	tr, err := NewTracer(ctx, TracingOptions{Endpoint: ln.Addr().String(), Insecure: true, SampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_700_000_000, 0)
	end := start.Add(1500 * time.Microsecond)
	tr.Record("payments", "GET", "cache", engine.KindUpstream, start, end, nil)
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.spans) != 1 {
		t.Fatalf("got %d spans, want 1", len(col.spans))
	}
	s := col.spans[0]
	attrs := map[string]string{}
	for _, kv := range s.GetAttributes() {
		attrs[kv.GetKey()] = kv.GetValue().GetStringValue()
	}
	tests := []struct{ name, got, want string }{
		{"name", s.GetName(), "GET"},
		{"domain", attrs["keyway.domain"], "payments"},
		{"upstream", attrs["keyway.upstream"], "cache"},
		{"error kind", attrs["keyway.error_kind"], "upstream"},
		{"start", time.Unix(0, int64(s.GetStartTimeUnixNano())).UTC().String(), start.UTC().String()},
		{"end", time.Unix(0, int64(s.GetEndTimeUnixNano())).UTC().String(), end.UTC().String()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Fatalf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
}
