package auth

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// Mode says when the admin API demands credentials.
type Mode int

const (
	// Auto enforces authentication once the fleet has a token or
	// certificates are mapped to roles, so `make demo` needs no flags and
	// creating the first token closes the API at once.
	Auto Mode = iota
	// On always enforces authentication.
	On
	// Off never does: every caller may do everything. For local demos.
	Off
)

// ParseMode reads "auto", "on" or "off".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(s) {
	case "auto", "":
		return Auto, nil
	case "on":
		return On, nil
	case "off":
		return Off, nil
	}
	return Auto, fmt.Errorf("auth mode %q: want auto, on or off", s)
}

// MsgNeedToken is the refusal of a call without credentials.
const MsgNeedToken = "keyway: this API needs a token (keyway --token or KEYWAY_TOKEN)"

// Config configures an Authorizer.
type Config struct {
	Mode Mode
	// Tokens authenticates bearer tokens; nil accepts none.
	Tokens *Tokens
	// CertRoles maps a verified client certificate's common name to the
	// role its holder gets on the admin API.
	CertRoles map[string]Role
	// NodeCerts makes ADS and telemetry streams require a verified client
	// certificate that names the node they speak for. Set it whenever the
	// server verifies client certificates.
	NodeCerts bool
}

// Authorizer authenticates and authorizes every call on a gRPC server
// through its interceptors.
type Authorizer struct {
	cfg Config
}

// New returns an Authorizer for cfg.
func New(cfg Config) *Authorizer { return &Authorizer{cfg: cfg} }

// Unary is the unary interceptor; install it before any interceptor that
// reads Identity.
func (a *Authorizer) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := a.admit(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream is the stream interceptor: node streams are checked against the
// proxy's certificate, other streams like unary calls.
func (a *Authorizer) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if ns, ok := nodeStreams[info.FullMethod]; ok {
			if !a.cfg.NodeCerts {
				return handler(srv, ss)
			}
			return a.serveNode(srv, ss, ns, handler)
		}
		ctx, err := a.admit(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}

// admit authenticates the caller of method and checks its role, returning
// ctx carrying the caller's identity.
func (a *Authorizer) admit(ctx context.Context, method string) (context.Context, error) {
	if a.cfg.Mode == Off || Public[method] {
		return ctx, nil
	}
	if _, ok := nodeStreams[method]; ok {
		return nil, status.Error(codes.PermissionDenied, "keyway: proxy streams are not callable as unary methods")
	}
	c, found, err := a.authenticate(ctx)
	if err != nil {
		return nil, err
	}
	if !found {
		enforced, err := a.enforced(ctx)
		if err != nil {
			return nil, err
		}
		if !enforced {
			return ctx, nil
		}
		return nil, status.Error(codes.Unauthenticated, MsgNeedToken)
	}
	need, ok := Methods[method]
	if !ok {
		return nil, status.Errorf(codes.PermissionDenied, "keyway: %s is open to no role", method)
	}
	if c.role < need {
		return nil, status.Errorf(codes.PermissionDenied, "keyway: this call needs the %s role; %s has the %s role", need, c.id, c.role)
	}
	return WithIdentity(ctx, c.id, c.role), nil
}

// authenticate finds the caller's credentials: a bearer token first, else
// a client certificate mapped to a role. A token that is presented but
// unknown is refused even in Auto mode, so a typo is not silently
// anonymous.
func (a *Authorizer) authenticate(ctx context.Context) (caller, bool, error) {
	if secret, ok := bearer(ctx); ok {
		if a.cfg.Tokens == nil {
			return caller{}, false, status.Error(codes.Unauthenticated, "keyway: this control plane accepts no tokens")
		}
		info, err := a.cfg.Tokens.Lookup(ctx, secret)
		if err != nil {
			return caller{}, false, status.Errorf(codes.Unavailable, "keyway: cannot verify the token: %v", err)
		}
		if info == nil {
			return caller{}, false, status.Error(codes.Unauthenticated, "keyway: the token is unknown or revoked")
		}
		role, err := ParseRole(info.GetRole())
		if err != nil {
			return caller{}, false, status.Errorf(codes.PermissionDenied, "keyway: token %s: %v", info.GetName(), err)
		}
		return caller{id: "token:" + info.GetName(), role: role}, true, nil
	}
	if cert := peerCert(ctx); cert != nil {
		if role, ok := a.cfg.CertRoles[cert.Subject.CommonName]; ok {
			return caller{id: "cert:" + cert.Subject.CommonName, role: role}, true, nil
		}
	}
	return caller{}, false, nil
}

// enforced reports whether a call without credentials is refused.
func (a *Authorizer) enforced(ctx context.Context) (bool, error) {
	switch {
	case a.cfg.Mode == On:
		return true, nil
	case len(a.cfg.CertRoles) > 0:
		return true, nil
	case a.cfg.Tokens == nil:
		return false, nil
	}
	some, err := a.cfg.Tokens.Any(ctx)
	if err != nil {
		// Fail closed: without etcd we cannot tell whether the API is open.
		return true, status.Errorf(codes.Unavailable, "keyway: cannot tell whether this API needs a token: %v", err)
	}
	return some, nil
}

// bearer is the token in the "authorization: Bearer <token>" metadata.
func bearer(ctx context.Context) (string, bool) {
	md, _ := metadata.FromIncomingContext(ctx)
	for _, v := range md.Get("authorization") {
		scheme, tok, ok := strings.Cut(v, " ")
		if ok && strings.EqualFold(scheme, "bearer") && strings.TrimSpace(tok) != "" {
			return strings.TrimSpace(tok), true
		}
	}
	return "", false
}

// peerCert is the caller's client certificate if the TLS handshake
// verified it against the client CA, else nil.
func peerCert(ctx context.Context) *x509.Certificate {
	p, ok := peer.FromContext(ctx)
	if !ok {
		return nil
	}
	ti, ok := p.AuthInfo.(credentials.TLSInfo)
	if !ok || len(ti.State.VerifiedChains) == 0 || len(ti.State.PeerCertificates) == 0 {
		return nil
	}
	return ti.State.PeerCertificates[0]
}

// contextStream replaces a stream's context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
