package tracing_test

import (
	"context"
	"net"
	"sync"
	"testing"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"keyway.dev/controlplane/tracing"
)

// collector is an OTLP/gRPC trace collector that keeps what it is sent.
type collector struct {
	collectorpb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans map[string]map[string]string // span name -> resource attributes
}

func (c *collector) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		res := map[string]string{}
		for _, kv := range rs.GetResource().GetAttributes() {
			res[kv.GetKey()] = kv.GetValue().GetStringValue()
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				c.spans[s.GetName()] = res
			}
		}
	}
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

func startCollector(t *testing.T) (*collector, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{spans: map[string]map[string]string{}}
	gs := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(gs, c)
	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)
	return c, l.Addr().String()
}

func export(t *testing.T, o tracing.Options, span string) {
	t.Helper()
	shutdown, err := tracing.Setup(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	_, s := tracing.Tracer().Start(context.Background(), span)
	s.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// OTEL_EXPORTER_OTLP_* alone sends traces, named keyway-control and
// carrying OTEL_RESOURCE_ATTRIBUTES.
func TestEnvironmentConfiguresExport(t *testing.T) {
	c, addr := startCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+addr)
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test")
	export(t, tracing.Options{}, "from-env")
	c.mu.Lock()
	defer c.mu.Unlock()
	res, ok := c.spans["from-env"]
	if !ok {
		t.Fatalf("collector got %v, want span from-env", c.spans)
	}
	if res["service.name"] != "keyway-control" || res["deployment.environment"] != "test" {
		t.Fatalf("resource %v", res)
	}
}

// --trace-endpoint sends traces without any OTEL_* variable.
func TestFlagConfiguresExport(t *testing.T) {
	c, addr := startCollector(t)
	export(t, tracing.Options{Endpoint: addr, Insecure: true, Sample: 1}, "from-flag")
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.spans["from-flag"]; !ok {
		t.Fatalf("collector got %v, want span from-flag", c.spans)
	}
}

func TestSetupRefusesBadOptions(t *testing.T) {
	for name, o := range map[string]tracing.Options{
		"sample above 1": {Endpoint: "127.0.0.1:4317", Sample: 2},
		"negative":       {Endpoint: "127.0.0.1:4317", Sample: -0.5},
		"a URL":          {Endpoint: "http://127.0.0.1:4317"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := tracing.Setup(context.Background(), o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// With no collector configured nothing is installed.
func TestDisabledWithoutCollector(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	if (tracing.Options{}).Enabled(func(string) string { return "" }) {
		t.Fatal("enabled with nothing configured")
	}
	shutdown, err := tracing.Setup(context.Background(), tracing.Options{})
	if err != nil || shutdown(context.Background()) != nil {
		t.Fatalf("setup without a collector: %v", err)
	}
}
