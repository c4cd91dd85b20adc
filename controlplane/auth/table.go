package auth

import (
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Methods is the minimum role of every admin RPC, by full method name.
// A method missing here is refused to everyone when authentication is
// on, so a new RPC stays closed until someone decides who may call it
// (a unit test fails until they do).
var Methods = map[string]Role{
	keywayv1.PolicyService_Validate_FullMethodName:     Author,
	keywayv1.PolicyService_Push_FullMethodName:         Author,
	keywayv1.PolicyService_ListVersions_FullMethodName: Viewer,
	keywayv1.PolicyService_GetVersion_FullMethodName:   Viewer,
	keywayv1.PolicyService_Diff_FullMethodName:         Viewer,
	keywayv1.PolicyService_Activate_FullMethodName:     Operator,

	keywayv1.FleetService_ListNodes_FullMethodName:        Viewer,
	keywayv1.TelemetryQueryService_Top_FullMethodName:     Viewer,
	keywayv1.AuditService_ListAuditEvents_FullMethodName:  Viewer,
	keywayv1.FlagService_ListFlags_FullMethodName:         Viewer,
	keywayv1.FlagService_SetFlag_FullMethodName:           Operator,
	keywayv1.FlagService_DeleteFlag_FullMethodName:        Operator,
	keywayv1.RolloutService_GetRollout_FullMethodName:     Viewer,
	keywayv1.RolloutService_ListRollouts_FullMethodName:   Viewer,
	keywayv1.RolloutService_StartRollout_FullMethodName:   Operator,
	keywayv1.RolloutService_PauseRollout_FullMethodName:   Operator,
	keywayv1.RolloutService_ResumeRollout_FullMethodName:  Operator,
	keywayv1.RolloutService_PromoteRollout_FullMethodName: Operator,
	keywayv1.RolloutService_AbortRollout_FullMethodName:   Operator,
	keywayv1.TokenService_CreateToken_FullMethodName:      Admin,
	keywayv1.TokenService_ListTokens_FullMethodName:       Admin,
	keywayv1.TokenService_RevokeToken_FullMethodName:      Admin,
	keywayv1.ServerService_GetServerInfo_FullMethodName:   Viewer,
	keywayv1.BackupService_Export_FullMethodName:          Admin,
	keywayv1.BackupService_Import_FullMethodName:          Admin,
}

// Public methods need no credentials: health checks come from load
// balancers and orchestrators that hold none.
var Public = map[string]bool{
	healthpb.Health_Check_FullMethodName: true,
	healthpb.Health_Watch_FullMethodName: true,
	healthpb.Health_List_FullMethodName:  true,
}

// Node streams are what proxies call. They are governed by the proxy's
// certificate, not by roles: see NodeStreams.
const (
	// ADSMethod is the state-of-the-world ADS stream keyway-proxy uses.
	ADSMethod = discovery.AggregatedDiscoveryService_StreamAggregatedResources_FullMethodName
	// DeltaADSMethod is the incremental ADS stream, served alongside.
	DeltaADSMethod = discovery.AggregatedDiscoveryService_DeltaAggregatedResources_FullMethodName
	// ReportMethod is the telemetry ingest stream.
	ReportMethod = keywayv1.TelemetryService_Report_FullMethodName
)
