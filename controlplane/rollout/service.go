package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keyway.dev/controlplane/audit"
	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Service implements keywayv1.RolloutServiceServer.
type Service struct {
	keywayv1.UnimplementedRolloutServiceServer

	store    *Store
	versions Versions
	audit    audit.Recorder
	now      func() time.Time
}

// NewService returns the rollout service. rec may be nil.
func NewService(st *Store, versions Versions, rec audit.Recorder) *Service {
	return &Service{store: st, versions: versions, audit: rec, now: time.Now}
}

// Register adds the service to gs.
func (s *Service) Register(gs grpc.ServiceRegistrar) { keywayv1.RegisterRolloutServiceServer(gs, s) }

// StartRollout checks the plan against the stored versions and starts it.
func (s *Service) StartRollout(ctx context.Context, req *keywayv1.StartRolloutRequest) (*keywayv1.StartRolloutResponse, error) {
	p := Plan{
		Domain: req.GetDomain(), To: req.GetToVersion(), Steps: req.GetSteps(),
		Interval: req.GetInterval().AsDuration(), MaxErrorRate: req.GetMaxErrorRate(),
		MaxP99: req.GetMaxP99().AsDuration(), Author: req.GetAuthor(),
	}
	if err := p.Normalize(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	target, err := s.versions.Get(ctx, p.To)
	if err != nil {
		return nil, toStatus(err)
	}
	if !hasDomain(target, p.Domain) {
		return nil, status.Errorf(codes.FailedPrecondition, "v%d has no domain %q (it has %s)", p.To, p.Domain, strings.Join(domains(target), ", "))
	}
	activeV, err := s.store.Active(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	if activeV == 0 {
		return nil, status.Error(codes.FailedPrecondition, "the fleet has no active policy version; push one first")
	}
	active, err := s.versions.Get(ctx, activeV)
	if err != nil {
		return nil, toStatus(err)
	}
	if !hasDomain(active, p.Domain) {
		return nil, status.Errorf(codes.FailedPrecondition, "the active policy v%d has no domain %q; activate a version that has it", activeV, p.Domain)
	}
	from, err := s.stableVersion(ctx, p.Domain, activeV)
	if err != nil {
		return nil, err
	}
	if from == p.To {
		return nil, status.Errorf(codes.FailedPrecondition, "domain %q already runs v%d", p.Domain, p.To)
	}
	r, err := s.store.Create(ctx, p, from)
	if err != nil {
		return nil, toStatus(err)
	}
	guards := fmt.Sprintf("error rate ≤ %.2f%%", 100*p.MaxErrorRate)
	if p.MaxP99 > 0 {
		guards += fmt.Sprintf(", p99 ≤ %s", p.MaxP99)
	}
	s.record(ctx, p.Author, audit.RolloutStart, r, fmt.Sprintf("%s: v%d → v%d in steps %s every %s; guards: %s",
		r.GetId(), from, p.To, Steps(p.Steps), p.Interval, guards))
	return &keywayv1.StartRolloutResponse{Rollout: r}, nil
}

// stableVersion is the version domain's stable tree comes from: its pin
// while that holds, else the active version.
func (s *Service) stableVersion(ctx context.Context, domain string, active uint64) (uint64, error) {
	st, _, err := s.store.State(ctx)
	if err != nil {
		return 0, toStatus(err)
	}
	if pin := st.Pin(domain); pin != nil && pin.GetBaseVersion() == active {
		return pin.GetVersion(), nil
	}
	return active, nil
}

// GetRollout returns a domain's current or latest rollout and its pin.
func (s *Service) GetRollout(ctx context.Context, req *keywayv1.GetRolloutRequest) (*keywayv1.GetRolloutResponse, error) {
	if err := ValidDomain(req.GetDomain()); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	st, _, err := s.store.State(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &keywayv1.GetRolloutResponse{Pin: st.Pin(req.GetDomain())}
	for _, r := range st.Latest {
		if r.GetDomain() == req.GetDomain() {
			resp.Rollout = r
		}
	}
	if resp.Rollout == nil {
		return nil, status.Errorf(codes.NotFound, "domain %q has had no rollout", req.GetDomain())
	}
	if next := NextStep(resp.Rollout, s.now()); !next.IsZero() {
		resp.NextStep = timestamppb.New(next)
	}
	return resp, nil
}

// ListRollouts returns each domain's latest rollout, or all of them.
func (s *Service) ListRollouts(ctx context.Context, req *keywayv1.ListRolloutsRequest) (*keywayv1.ListRolloutsResponse, error) {
	st, _, err := s.store.State(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	rs := st.Latest
	if req.GetAll() {
		rs = st.All
	}
	return &keywayv1.ListRolloutsResponse{Rollouts: rs, Pins: st.Pins}, nil
}

// PauseRollout stops a running rollout's clock.
func (s *Service) PauseRollout(ctx context.Context, req *keywayv1.PauseRolloutRequest) (*keywayv1.PauseRolloutResponse, error) {
	r, err := s.act(ctx, req.GetDomain(), req.GetAuthor(), audit.RolloutPause, func(r *keywayv1.Rollout, now time.Time) (*keywayv1.Pin, string, error) {
		if err := pause(r, now); err != nil {
			return nil, "", err
		}
		return nil, fmt.Sprintf("%s: paused at %d%%%s", r.GetId(), r.GetPercent(), because(req.GetReason())), nil
	})
	if err != nil {
		return nil, err
	}
	return &keywayv1.PauseRolloutResponse{Rollout: r}, nil
}

// ResumeRollout restarts a paused rollout's clock.
func (s *Service) ResumeRollout(ctx context.Context, req *keywayv1.ResumeRolloutRequest) (*keywayv1.ResumeRolloutResponse, error) {
	r, err := s.act(ctx, req.GetDomain(), req.GetAuthor(), audit.RolloutResume, func(r *keywayv1.Rollout, now time.Time) (*keywayv1.Pin, string, error) {
		if err := resume(r, now); err != nil {
			return nil, "", err
		}
		return nil, fmt.Sprintf("%s: resumed at %d%%", r.GetId(), r.GetPercent()), nil
	})
	if err != nil {
		return nil, err
	}
	return &keywayv1.ResumeRolloutResponse{Rollout: r}, nil
}

// PromoteRollout completes a rollout now.
func (s *Service) PromoteRollout(ctx context.Context, req *keywayv1.PromoteRolloutRequest) (*keywayv1.PromoteRolloutResponse, error) {
	r, err := s.act(ctx, req.GetDomain(), req.GetAuthor(), audit.RolloutPromote, func(r *keywayv1.Rollout, now time.Time) (*keywayv1.Pin, string, error) {
		from := r.GetPercent()
		reason := "promoted by " + who(req.GetAuthor()) + because(req.GetReason())
		if err := complete(r, now, reason); err != nil {
			return nil, "", err
		}
		return pinOf(r), fmt.Sprintf("%s: promoted from %d%%; v%d is the domain's stable version%s", r.GetId(), from, r.GetToVersion(), because(req.GetReason())), nil
	})
	if err != nil {
		return nil, err
	}
	return &keywayv1.PromoteRolloutResponse{Rollout: r}, nil
}

// AbortRollout returns the domain to its stable version.
func (s *Service) AbortRollout(ctx context.Context, req *keywayv1.AbortRolloutRequest) (*keywayv1.AbortRolloutResponse, error) {
	r, err := s.act(ctx, req.GetDomain(), req.GetAuthor(), audit.RolloutAbort, func(r *keywayv1.Rollout, now time.Time) (*keywayv1.Pin, string, error) {
		reason := "aborted by " + who(req.GetAuthor()) + because(req.GetReason())
		if err := abort(r, now, reason); err != nil {
			return nil, "", err
		}
		return nil, fmt.Sprintf("%s: back to stable from %d%%%s", r.GetId(), r.GetPercent(), because(req.GetReason())), nil
	})
	if err != nil {
		return nil, err
	}
	return &keywayv1.AbortRolloutResponse{Rollout: r}, nil
}

// act applies an operator's transition to a domain's latest rollout and
// records it.
func (s *Service) act(ctx context.Context, domain, author, action string, fn func(r *keywayv1.Rollout, now time.Time) (*keywayv1.Pin, string, error)) (*keywayv1.Rollout, error) {
	if err := ValidDomain(domain); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	var detail string
	r, err := s.store.Update(ctx, domain, func(r *keywayv1.Rollout) (*keywayv1.Pin, error) {
		pin, d, err := fn(r, s.now().UTC())
		detail = d
		return pin, err
	})
	if err != nil {
		return nil, toStatus(err)
	}
	s.record(ctx, author, action, r, detail)
	return r, nil
}

func (s *Service) record(ctx context.Context, author, action string, r *keywayv1.Rollout, detail string) {
	if s.audit != nil {
		_ = s.audit.Record(ctx, audit.Event{Who: author, Action: action, Target: r.GetDomain(), Detail: detail})
	}
}

// Steps words a step list ("1,10,50,100").
func Steps(steps []uint32) string {
	parts := make([]string, len(steps))
	for i, s := range steps {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, ",")
}

func who(author string) string {
	if author == "" {
		return "unknown"
	}
	return author
}

func because(reason string) string {
	if reason == "" {
		return ""
	}
	return ": " + reason
}

func hasDomain(v *keywayv1.PolicyVersion, domain string) bool {
	return slices.Contains(domains(v), domain)
}

func domains(v *keywayv1.PolicyVersion) []string {
	var out []string
	for _, d := range v.GetRendered().GetDomains() {
		out = append(out, d.GetName())
	}
	return out
}

func toStatus(err error) error {
	var fin *ErrFinished
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrBusy):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.As(err, &fin):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, store.ErrUnavailable):
		return status.Error(codes.Unavailable, err.Error())
	case status.Code(err) != codes.Unknown:
		return err
	default:
		return status.Error(codes.FailedPrecondition, err.Error())
	}
}
