package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"keyway.dev/dataplane/engine"
)

// UpstreamSpan is the name of the child span of the upstream call.
const UpstreamSpan = "upstream"

// Record exports one finished command as a span from start to end and,
// when up holds the times the upstream layer took (engine.Trace), a
// client span of the upstream call under it. The server learns a
// command's upstream and outcome only once its run is answered, so
// recording after the fact keeps the data path free of span work for
// every request that is not sampled. Only call it for a sampled request.
func (t *Tracer) Record(domain, command, upstream string, kind engine.ErrorKind, start, end time.Time, up *engine.Trace) {
	ctx, span := t.tracer.Start(context.Background(), command,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(start),
		trace.WithAttributes(
			attribute.String("db.system.name", "redis"),
			attribute.String("db.operation.name", command),
			attribute.String("keyway.domain", domain),
			attribute.String("keyway.upstream", upstream),
		))
	if up != nil && !up.Sent.IsZero() && !up.Received.IsZero() {
		_, child := t.tracer.Start(ctx, UpstreamSpan,
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithTimestamp(up.Sent),
			trace.WithAttributes(
				attribute.String("db.system.name", "redis"),
				attribute.String("db.operation.name", command),
				attribute.String("keyway.upstream", upstream),
			))
		child.End(trace.WithTimestamp(up.Received))
	}
	if kind != engine.KindNone {
		span.SetAttributes(attribute.String("keyway.error_kind", kind.String()))
		span.SetStatus(codes.Error, kind.String())
	}
	span.End(trace.WithTimestamp(end))
}
