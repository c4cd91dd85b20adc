package server_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"keyway.dev/controlplane/server"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// An admin call is a span, its render a child of it, and the activation's
// publication a span of its own; health probes are not traced.
func TestTraces(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	srv, err := server.New(server.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	cc, err := grpc.NewClient(srv.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := keywayv1.NewPolicyServiceClient(cc).Push(ctx, &keywayv1.PushRequest{Bundle: bundle(policyV1)}); err != nil {
		t.Fatal(err)
	}

	byName := map[string]sdktrace.ReadOnlySpan{}
	deadline := time.Now().Add(10 * time.Second)
	for byName["keyway.publish"] == nil {
		if time.Now().After(deadline) {
			t.Fatalf("no publish span; spans: %v", names(rec.Ended()))
		}
		time.Sleep(10 * time.Millisecond)
		for _, s := range rec.Ended() {
			byName[s.Name()] = s
		}
	}
	push, render := byName["keyway.v1.PolicyService/Push"], byName["keyway.render"]
	if push == nil || render == nil {
		t.Fatalf("spans %v, want the Push call and its render", names(rec.Ended()))
	}
	if render.Parent().SpanID() != push.SpanContext().SpanID() {
		t.Errorf("render's parent is %v, want the Push span", render.Parent().SpanID())
	}
	for name := range byName {
		if name == "grpc.health.v1.Health/Check" {
			t.Errorf("health checks are traced")
		}
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}
