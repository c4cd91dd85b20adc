package telemetry

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"keyway.dev/dataplane/engine"
)

// TracingOptions configure per-command tracing.
type TracingOptions struct {
	// Endpoint is the OTLP/gRPC collector (host:port). Empty disables
	// tracing; every Tracer method is then a no-op.
	Endpoint string
	// Insecure sends without TLS, for a collector on the same host.
	Insecure bool
	// SampleRatio is the share of requests traced, in (0, 1]; default
	// 0.001. Sampling is decided before any span work, so untraced
	// requests cost one random number.
	SampleRatio float64
	// ServiceName and NodeID identify the proxy; defaults "keyway-proxy", "".
	ServiceName, NodeID string
}

// Tracer starts sampled spans for proxied commands and exports them by
// OTLP. A nil *Tracer is valid and traces nothing.
type Tracer struct {
	provider  *sdktrace.TracerProvider
	tracer    trace.Tracer
	threshold uint64 // sample when a random uint64 is below it
}

// NewTracer returns a Tracer exporting to opts.Endpoint, or nil when no
// endpoint is configured. The exporter connects lazily, so a collector
// that is down does not stop the proxy; its spans are dropped.
func NewTracer(ctx context.Context, opts TracingOptions) (*Tracer, error) {
	// The OTEL_EXPORTER_OTLP_* variables configure the exporter as they
	// do any OpenTelemetry SDK's; an endpoint from the flags wins.
	fromEnv := os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	if opts.Endpoint == "" && !fromEnv {
		return nil, nil
	}
	if opts.SampleRatio <= 0 {
		opts.SampleRatio = 0.001
	}
	if opts.ServiceName == "" {
		opts.ServiceName = "keyway-proxy"
	}
	var eo []otlptracegrpc.Option
	if opts.Endpoint != "" {
		eo = append(eo, otlptracegrpc.WithEndpoint(opts.Endpoint))
		if opts.Insecure {
			eo = append(eo, otlptracegrpc.WithInsecure())
		}
	}
	exp, err := otlptracegrpc.New(ctx, eo...)
	if err != nil {
		return nil, fmt.Errorf("create otlp exporter for %q: %w", opts.Endpoint, err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", opts.ServiceName),
		attribute.String("service.instance.id", opts.NodeID),
	)
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win.
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	// Sampling happens in Sampled; every span started is kept.
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t := &Tracer{provider: tp, tracer: tp.Tracer("keyway.dev/dataplane/telemetry")}
	if opts.SampleRatio >= 1 {
		t.threshold = math.MaxUint64
	} else {
		t.threshold = uint64(opts.SampleRatio * (1 << 63) * 2)
	}
	return t, nil
}

// Sampled decides whether to trace the next request.
func (t *Tracer) Sampled() bool {
	return t != nil && (t.threshold == math.MaxUint64 || rand.Uint64() < t.threshold)
}

// Start begins a span for command in domain; call Finish when the request
// is answered. Only call it when Sampled returned true.
func (t *Tracer) Start(ctx context.Context, domain, command string) (context.Context, trace.Span) {
	return t.tracer.Start(ctx, command, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("db.system.name", "redis"),
			attribute.String("db.operation.name", command),
			attribute.String("keyway.domain", domain),
		))
}

// Finish ends span with the upstream that answered and the error kind.
func (t *Tracer) Finish(span trace.Span, upstream string, kind engine.ErrorKind) {
	span.SetAttributes(attribute.String("keyway.upstream", upstream))
	if kind != engine.KindNone {
		span.SetAttributes(attribute.String("keyway.error_kind", kind.String()))
		span.SetStatus(codes.Error, kind.String())
	}
	span.End()
}

// Shutdown flushes pending spans and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil {
		return nil
	}
	if err := t.provider.Shutdown(ctx); err != nil {
		return fmt.Errorf("shut down tracer: %w", err)
	}
	return nil
}
