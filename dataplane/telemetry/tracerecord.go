package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"keyway.dev/dataplane/engine"
)

// Record exports one finished command as a span from start to end. The
// server learns a command's upstream and outcome only once its run is
// answered, so recording after the fact keeps the data path free of span
// work for every request that is not sampled. Only call it when Sampled
// returned true.
func (t *Tracer) Record(domain, command, upstream string, kind engine.ErrorKind, start, end time.Time) {
	_, span := t.tracer.Start(context.Background(), command,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String("db.system.name", "redis"),
			attribute.String("db.operation.name", command),
			attribute.String("keyway.domain", domain),
			attribute.String("keyway.upstream", upstream),
		))
	if kind != engine.KindNone {
		span.SetAttributes(attribute.String("keyway.error_kind", kind.String()))
		span.SetStatus(codes.Error, kind.String())
	}
	span.End(trace.WithTimestamp(end))
}
