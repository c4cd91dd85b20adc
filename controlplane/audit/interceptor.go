package audit

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Interceptor records every successful policy push and activation served
// by the gRPC server it is installed on. Watching the calls rather than
// editing the policy service keeps auditing in one place, and a call that
// failed changed nothing, so it is not recorded. A failure to record is
// logged, not returned: the change is already made and the caller must
// learn that it was.
func Interceptor(rec Recorder, logger *slog.Logger) grpc.UnaryServerInterceptor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		resp, err := handler(ctx, req)
		if err != nil {
			return resp, err
		}
		if ev, ok := policyEvent(info.FullMethod, req, resp); ok {
			if rerr := rec.Record(ctx, ev); rerr != nil {
				logger.Error("cannot record audit event", "action", ev.Action, "target", ev.Target, "err", rerr)
			}
		}
		return resp, err
	}
}

// policyEvent describes a successful PolicyService call that changed the
// fleet.
func policyEvent(method string, req, resp any) (Event, bool) {
	switch method {
	case keywayv1.PolicyService_Push_FullMethodName:
		in, out := req.(*keywayv1.PushRequest), resp.(*keywayv1.PushResponse)
		v := out.GetVersion()
		detail := fmt.Sprintf("pushed v%d on v%d: %s", v.GetVersion(), v.GetParent(), in.GetMessage())
		if !in.GetNoActivate() {
			detail = fmt.Sprintf("pushed and activated v%d on v%d: %s", v.GetVersion(), v.GetParent(), in.GetMessage())
		}
		if in.GetSkipTests() {
			detail += " [policy tests skipped]"
		}
		return Event{Who: in.GetAuthor(), Action: PolicyPush, Target: fmt.Sprintf("v%d", v.GetVersion()), Detail: detail}, true
	case keywayv1.PolicyService_Activate_FullMethodName:
		in, out := req.(*keywayv1.ActivateRequest), resp.(*keywayv1.ActivateResponse)
		detail := fmt.Sprintf("activated v%d (was v%d)", in.GetVersion(), out.GetPrevious())
		if in.GetReason() != "" {
			detail += ": " + in.GetReason()
		}
		return Event{Who: in.GetAuthor(), Action: PolicyActivate, Target: fmt.Sprintf("v%d", in.GetVersion()), Detail: detail}, true
	}
	return Event{}, false
}
