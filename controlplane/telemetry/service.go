package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// IngestService is the TelemetryService proxies report to.
type IngestService struct {
	keywayv1.UnimplementedTelemetryServiceServer
	agg *Aggregator
}

// QueryService is the admin API's TelemetryQueryService.
type QueryService struct {
	keywayv1.UnimplementedTelemetryQueryServiceServer
	agg *Aggregator
}

var (
	_ keywayv1.TelemetryServiceServer      = (*IngestService)(nil)
	_ keywayv1.TelemetryQueryServiceServer = (*QueryService)(nil)
)

// IngestServer returns the TelemetryService that feeds a.
func (a *Aggregator) IngestServer() *IngestService { return &IngestService{agg: a} }

// QueryServer returns the TelemetryQueryService that reads a.
func (a *Aggregator) QueryServer() *QueryService { return &QueryService{agg: a} }

// Register serves both services on s.
func (a *Aggregator) Register(s grpc.ServiceRegistrar) {
	keywayv1.RegisterTelemetryServiceServer(s, a.IngestServer())
	keywayv1.RegisterTelemetryQueryServiceServer(s, a.QueryServer())
}

// Report ingests every summary on the stream and answers when the proxy
// closes it, which confirms delivery to the proxy.
func (s *IngestService) Report(stream grpc.ClientStreamingServer[keywayv1.ReportRequest, keywayv1.ReportResponse]) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&keywayv1.ReportResponse{})
		}
		if err != nil {
			return fmt.Errorf("receive telemetry report: %w", err)
		}
		if err := s.agg.Ingest(req); err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
	}
}

// Top answers TelemetryQueryService.Top.
func (s *QueryService) Top(_ context.Context, req *keywayv1.TopRequest) (*keywayv1.TopResponse, error) {
	return s.agg.Top(WindowOf(req.GetWindow()), req.GetDomain()), nil
}
