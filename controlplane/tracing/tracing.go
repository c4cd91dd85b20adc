// Package tracing sends keyway-control's OpenTelemetry traces (admin
// calls, renders, publications) to an OTLP/gRPC collector. The standard
// OTEL_* environment variables configure it as they do any OpenTelemetry
// SDK: OTEL_EXPORTER_OTLP_ENDPOINT (or …_TRACES_ENDPOINT), …_HEADERS,
// …_CERTIFICATE, …_INSECURE, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER; keyway-control's --trace-* flags win over them.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"

	"keyway.dev/proto/buildinfo"
)

// Name is the instrumentation scope of keyway-control's own spans.
const Name = "keyway.dev/controlplane"

// Tracer returns keyway-control's tracer from the global provider: a
// no-op until Setup installs one.
func Tracer() trace.Tracer { return otel.Tracer(Name) }

// Options come from keyway-control's flags; zero values defer to the
// OTEL_* environment.
type Options struct {
	// Endpoint is the collector's HOST:PORT.
	Endpoint string
	// Insecure sends without TLS; only with Endpoint.
	Insecure bool
	// Sample is the share of root spans kept, in (0, 1]; zero defers to
	// OTEL_TRACES_SAMPLER (default: every trace).
	Sample float64
}

// Enabled says whether traces go anywhere: a flag or the environment
// names a collector.
func (o Options) Enabled(getenv func(string) string) bool {
	return o.Endpoint != "" || getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs a global tracer provider exporting to the collector
// and the W3C trace-context propagator, and returns what flushes and
// stops it. When no collector is configured it installs nothing.
func Setup(ctx context.Context, o Options) (shutdown func(context.Context) error, err error) {
	if !o.Enabled(os.Getenv) {
		return func(context.Context) error { return nil }, nil
	}
	if o.Sample < 0 || o.Sample > 1 {
		return nil, fmt.Errorf("trace sample %v is not in (0, 1]", o.Sample)
	}
	var opts []otlptracegrpc.Option
	if o.Endpoint != "" {
		if strings.Contains(o.Endpoint, "://") {
			return nil, fmt.Errorf("trace endpoint %q: want HOST:PORT, not a URL", o.Endpoint)
		}
		opts = append(opts, otlptracegrpc.WithEndpoint(o.Endpoint))
		if o.Insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName("keyway-control"),
		semconv.ServiceVersion(buildinfo.Get().Version),
	))
	if err != nil {
		return nil, err
	}
	// The environment (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) wins.
	if env, err := resource.New(ctx, resource.WithFromEnv()); err == nil {
		if merged, err := resource.Merge(res, env); err == nil {
			res = merged
		}
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	if o.Sample > 0 {
		tpOpts = append(tpOpts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.Sample))))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return func(ctx context.Context) error {
		return errors.Join(tp.ForceFlush(ctx), tp.Shutdown(ctx))
	}, nil
}

// ServerOption traces the admin API's unary calls through the global
// provider. ADS, telemetry and health are left out: streams that live for
// hours and probes every few seconds would drown the calls that matter.
func ServerOption() grpc.ServerOption {
	return grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithFilter(traced)))
}

func traced(info *stats.RPCTagInfo) bool {
	m := info.FullMethodName
	return strings.HasPrefix(m, "/keyway.v1.") && !strings.HasPrefix(m, "/keyway.v1.TelemetryService/")
}
