// Package admin serves the control plane's admin gRPC API: policy
// versions (validate, push, history, diff, activate) and the fleet of
// proxies. The keyway CLI is a thin client of it.
package admin

import (
	"context"
	"errors"
	"log/slog"
	"sort"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Renderer renders and validates a bundle; its errors read
// "file:line:col: message". render.Render fits it.
type Renderer func(ctx context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error)

// ActiveCache is the active version as the xDS layer serves it, used for
// reads while etcd is unreachable.
type ActiveCache interface {
	Active() *keywayv1.PolicyVersion
}

// Policy implements keywayv1.PolicyServiceServer on a store.
type Policy struct {
	keywayv1.UnimplementedPolicyServiceServer

	store  *store.Store
	render Renderer
	cache  ActiveCache
	log    *slog.Logger
	tests  TestRunner
}

// NewPolicy returns the policy service. cache may be nil.
func NewPolicy(st *store.Store, render Renderer, cache ActiveCache, logger *slog.Logger) *Policy {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Policy{store: st, render: render, cache: cache, log: logger}
}

// Register adds the service to gs.
func (p *Policy) Register(gs grpc.ServiceRegistrar) { keywayv1.RegisterPolicyServiceServer(gs, p) }

// Validate renders the bundle and stores nothing.
func (p *Policy) Validate(ctx context.Context, req *keywayv1.ValidateRequest) (*keywayv1.ValidateResponse, error) {
	rendered, err := p.renderBundle(ctx, req.GetBundle())
	if err != nil {
		return nil, err
	}
	return &keywayv1.ValidateResponse{Rendered: rendered}, nil
}

// Push renders the bundle, refusing one that does not render with
// InvalidArgument and the author's file:line:col, runs its test cases
// (unless skip_tests; refused likewise when one fails), then stores it as
// a new version on the caller's parent and activates it.
func (p *Policy) Push(ctx context.Context, req *keywayv1.PushRequest) (*keywayv1.PushResponse, error) {
	rendered, err := p.renderBundle(ctx, req.GetBundle())
	if err != nil {
		return nil, err
	}
	if head, same, err := p.sameAsHead(ctx, req, rendered); err != nil {
		return nil, toStatus(err)
	} else if same {
		return nil, status.Errorf(codes.AlreadyExists, "no change since v%d: the bundle is identical to it; nothing stored", head)
	}
	if err := p.runTests(ctx, req, rendered); err != nil {
		return nil, err
	}
	author, note := recordedAuthor(ctx, req.GetAuthor()) // author.go
	rec, err := p.store.Push(ctx, store.Push{
		Bundle:     req.GetBundle(),
		Rendered:   rendered,
		Author:     author,
		AuthorNote: note,
		Message:    req.GetMessage(),
		Parent:     req.GetParent(),
		Force:      req.GetForce(),
		NoActivate: req.GetNoActivate(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	p.log.Info("policy pushed", "version", rec.GetVersion(), "parent", rec.GetParent(), "author", author, "activated", !req.GetNoActivate(), "tests_skipped", req.GetSkipTests())
	return &keywayv1.PushResponse{Version: info(rec, !req.GetNoActivate())}, nil
}

// sameAsHead reports whether pushing req would store a copy of the head
// version: the same sources and the same rendered policy, and nothing to
// activate (the head is active, or the push does not activate). Caddy
// treats an identical config the same way: a no-op.
func (p *Policy) sameAsHead(ctx context.Context, req *keywayv1.PushRequest, rendered *keywayv1.Policy) (uint64, bool, error) {
	ptr, err := p.store.Pointers(ctx)
	if err != nil || ptr.Head == 0 {
		return 0, false, err
	}
	if !req.GetNoActivate() && ptr.Active != ptr.Head {
		return ptr.Head, false, nil
	}
	head, err := p.store.Get(ctx, ptr.Head)
	if err != nil {
		return 0, false, err
	}
	digest, err := store.Digest(rendered)
	if err != nil {
		return 0, false, err
	}
	return ptr.Head, digest == head.GetDigest() && proto.Equal(req.GetBundle(), head.GetBundle()), nil
}

// ListVersions returns the history, newest first.
func (p *Policy) ListVersions(ctx context.Context, req *keywayv1.ListVersionsRequest) (*keywayv1.ListVersionsResponse, error) {
	recs, ptr, err := p.store.List(ctx, int(req.GetLimit()))
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &keywayv1.ListVersionsResponse{Active: ptr.Active, Head: ptr.Head}
	resp.Domains = p.domains(ctx, ptr.Active, recs)
	for _, r := range recs {
		i := info(r, r.GetVersion() == ptr.Active)
		i.EffectiveDomains = EffectiveDomains(resp.Domains, r.GetVersion())
		resp.Versions = append(resp.Versions, i)
	}
	return resp, nil
}

// domains is Domains for the active version, reading it from recs when
// it is there. Without etcd it is nil: no answer beats a wrong one.
func (p *Policy) domains(ctx context.Context, active uint64, recs []*keywayv1.PolicyVersion) []*keywayv1.DomainVersion {
	if active == 0 {
		return nil
	}
	var rec *keywayv1.PolicyVersion
	for _, r := range recs {
		if r.GetVersion() == active {
			rec = r
		}
	}
	var err error
	if rec == nil {
		if rec, err = p.store.Get(ctx, active); err != nil {
			p.log.Warn("read the active version for domain versions", "err", err)
			return nil
		}
	}
	ds, err := Domains(ctx, p.store, rec)
	if err != nil {
		p.log.Warn("read pins and rollouts for domain versions", "err", err)
	}
	return ds
}

// GetVersion returns one version with its sources; 0 is the active one.
// While etcd is unreachable the active version is still served from what
// the proxies are being served.
func (p *Policy) GetVersion(ctx context.Context, req *keywayv1.GetVersionRequest) (*keywayv1.GetVersionResponse, error) {
	rec, err := p.store.Get(ctx, req.GetVersion())
	if errors.Is(err, store.ErrUnavailable) && p.cache != nil {
		if a := p.cache.Active(); a != nil && (req.GetVersion() == 0 || req.GetVersion() == a.GetVersion()) {
			return &keywayv1.GetVersionResponse{Version: a, Active: true}, nil
		}
	}
	if err != nil {
		return nil, toStatus(err)
	}
	active := req.GetVersion() == 0
	activeVersion := rec.GetVersion()
	if !active {
		ptr, err := p.store.Pointers(ctx)
		if err != nil {
			return nil, toStatus(err)
		}
		active = ptr.Active == rec.GetVersion()
		activeVersion = ptr.Active
	}
	return &keywayv1.GetVersionResponse{
		Version:          rec,
		Active:           active,
		EffectiveDomains: EffectiveDomains(p.domains(ctx, activeVersion, []*keywayv1.PolicyVersion{rec}), rec.GetVersion()),
	}, nil
}

// Diff compares two versions' sources and rendered policies. to 0 is the
// active version; from 0 is to's parent.
func (p *Policy) Diff(ctx context.Context, req *keywayv1.DiffRequest) (*keywayv1.DiffResponse, error) {
	if b := req.GetBundle(); b != nil {
		return p.diffBundle(ctx, req.GetFrom(), b)
	}
	to, err := p.store.Get(ctx, req.GetTo())
	if err != nil {
		return nil, toStatus(err)
	}
	from := &keywayv1.PolicyVersion{}
	if f := req.GetFrom(); f != 0 || to.GetParent() != 0 {
		if f == 0 {
			f = to.GetParent()
		}
		if from, err = p.store.Get(ctx, f); err != nil {
			return nil, toStatus(err)
		}
	}
	fromName, toName := versionLabel(from), versionLabel(to)
	return &keywayv1.DiffResponse{
		Sources:  diffSources(fromName, toName, from.GetBundle(), to.GetBundle()),
		Rendered: unifiedDiff(fromName+"/rendered", toName+"/rendered", policyText(from.GetRendered()), policyText(to.GetRendered())),
		From:     from.GetVersion(),
	}, nil
}

// Activate makes a stored version the active one; activating an older
// version is a rollback.
func (p *Policy) Activate(ctx context.Context, req *keywayv1.ActivateRequest) (*keywayv1.ActivateResponse, error) {
	if req.GetVersion() == 0 {
		return nil, status.Error(codes.InvalidArgument, "version is required")
	}
	rec, err := p.store.Get(ctx, req.GetVersion())
	if err != nil {
		return nil, toStatus(err)
	}
	prev, err := p.store.Activate(ctx, req.GetVersion())
	if err != nil {
		return nil, toStatus(err)
	}
	who, note := recordedAuthor(ctx, req.GetAuthor())
	p.log.Info("policy activated", "version", req.GetVersion(), "previous", prev, "author", who, "author_note", note, "reason", req.GetReason())
	return &keywayv1.ActivateResponse{Version: info(rec, true), Previous: prev}, nil
}

func (p *Policy) renderBundle(ctx context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
	if b == nil || len(b.GetFiles()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "bundle is required")
	}
	rendered, err := p.render(ctx, b)
	if err != nil {
		if ctx.Err() != nil {
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return rendered, nil
}

// info is rec without its sources.
func info(rec *keywayv1.PolicyVersion, active bool) *keywayv1.PolicyVersionInfo {
	out := &keywayv1.PolicyVersionInfo{
		Version: rec.GetVersion(),
		Parent:  rec.GetParent(),
		Author:  rec.GetAuthor(),
		Message: rec.GetMessage(),
		Created: rec.GetCreated(),
		Digest:  rec.GetDigest(),
		Active:  active,
	}
	out.AuthorNote = rec.GetAuthorNote()
	for _, d := range rec.GetRendered().GetDomains() {
		out.Domains = append(out.Domains, d.GetName())
	}
	sort.Strings(out.Domains)
	return out
}

func versionLabel(v *keywayv1.PolicyVersion) string {
	if v.GetVersion() == 0 {
		return "empty"
	}
	return "v" + uintString(v.GetVersion())
}

// diffSources diffs every file of either bundle, in path order.
func diffSources(fromName, toName string, from, to *keywayv1.Bundle) string {
	seen := map[string]bool{}
	var paths []string
	for _, b := range []*keywayv1.Bundle{from, to} {
		for path := range b.GetFiles() {
			if !seen[path] {
				seen[path] = true
				paths = append(paths, path)
			}
		}
	}
	sort.Strings(paths)
	var out string
	for _, path := range paths {
		out += unifiedDiff(fromName+"/"+path, toName+"/"+path, string(from.GetFiles()[path]), string(to.GetFiles()[path]))
	}
	return out
}

// policyText is p as multi-line prototext; both sides of a diff are
// formatted by this process, so prototext's deliberately unstable spacing
// is the same on both.
func policyText(p *keywayv1.Policy) string {
	if p == nil {
		return ""
	}
	b, err := prototext.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(p)
	if err != nil {
		return ""
	}
	return string(b)
}
