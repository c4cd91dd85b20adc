package auth_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/auth"
	"keyway.dev/controlplane/etcdtest"
	"keyway.dev/proto/certtest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// policies is a PolicyService that remembers who called it.
type policies struct {
	keywayv1.UnimplementedPolicyServiceServer
	mu  sync.Mutex
	who []string
}

func (p *policies) seen(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.who = append(p.who, auth.Identity(ctx))
}

func (p *policies) last() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.who) == 0 {
		return "<no call>"
	}
	return p.who[len(p.who)-1]
}

func (p *policies) ListVersions(ctx context.Context, _ *keywayv1.ListVersionsRequest) (*keywayv1.ListVersionsResponse, error) {
	p.seen(ctx)
	return &keywayv1.ListVersionsResponse{}, nil
}

func (p *policies) Push(ctx context.Context, _ *keywayv1.PushRequest) (*keywayv1.PushResponse, error) {
	p.seen(ctx)
	return &keywayv1.PushResponse{}, nil
}

// plane is a gRPC server with the Authorizer, TLS verifying client certs.
type plane struct {
	addr     string
	ca       *certtest.CA
	policies *policies
	tokens   *auth.Tokens
}

func startPlane(t *testing.T, mode auth.Mode, certRoles map[string]auth.Role) *plane {
	t.Helper()
	ca := certtest.NewCA(t, "keyway-test")
	srvCert := ca.Server(t, "control")
	tlsCfg, err := auth.ServerTLS(srvCert.CertFile, srvCert.KeyFile, ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	tokens := auth.NewTokens(etcdtest.Start(t).Client(), "")
	a := auth.New(auth.Config{Mode: mode, Tokens: tokens, CertRoles: certRoles, NodeCerts: true})
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(tlsCfg)), grpc.ChainUnaryInterceptor(a.Unary()), grpc.ChainStreamInterceptor(a.Stream()))
	p := &plane{ca: ca, policies: &policies{}, tokens: tokens}
	keywayv1.RegisterPolicyServiceServer(gs, p.policies)
	auth.NewService(tokens, nil).Register(gs)
	healthpb.RegisterHealthServer(gs, health.NewServer())
	registerFakeADS(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = lis.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	return p
}

// dial connects with TLS, presenting client when it is non-nil.
func (p *plane) dial(t *testing.T, client *certtest.Leaf) *grpc.ClientConn {
	t.Helper()
	cfg := &tls.Config{RootCAs: p.ca.Pool(), ServerName: "localhost"}
	if client != nil {
		c := client.TLS(t)
		cfg.Certificates = []tls.Certificate{c}
	}
	cc, err := grpc.NewClient(p.addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func withToken(secret string) context.Context {
	if secret == "" {
		return context.Background()
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+secret)
}

func TestAuthorizerTokens(t *testing.T) {
	p := startPlane(t, auth.Auto, nil)
	cc := p.dial(t, nil)
	pol := keywayv1.NewPolicyServiceClient(cc)
	tok := keywayv1.NewTokenServiceClient(cc)

	// With no token in the fleet, Auto leaves the API open and anonymous.
	if _, err := pol.ListVersions(context.Background(), &keywayv1.ListVersionsRequest{}); err != nil {
		t.Fatalf("open API refused: %v", err)
	}
	if got := p.policies.last(); got != "" {
		t.Fatalf("anonymous identity %q, want empty", got)
	}
	created, err := tok.CreateToken(context.Background(), &keywayv1.CreateTokenRequest{Name: "root", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	root := created.GetSecret()
	secrets := map[string]string{"root": root}
	for _, r := range []string{"viewer", "author"} {
		resp, err := tok.CreateToken(withToken(root), &keywayv1.CreateTokenRequest{Name: r + "-tok", Role: r})
		if err != nil {
			t.Fatalf("create %s token: %v", r, err)
		}
		if resp.GetToken().GetCreator() != "token:root" {
			t.Fatalf("creator %q, want token:root", resp.GetToken().GetCreator())
		}
		secrets[r] = resp.GetSecret()
	}

	tests := []struct {
		name     string
		secret   string
		call     func(ctx context.Context) error
		code     codes.Code
		contains string
		identity string
	}{
		{"no token once tokens exist", "", listVersions(pol), codes.Unauthenticated, auth.MsgNeedToken, ""},
		{"unknown token", auth.SecretPrefix + "forged", listVersions(pol), codes.Unauthenticated, "unknown or revoked", ""},
		{"viewer reads", secrets["viewer"], listVersions(pol), codes.OK, "", "token:viewer-tok"},
		{"viewer cannot push", secrets["viewer"], push(pol), codes.PermissionDenied, "needs the author role", ""},
		{"author pushes", secrets["author"], push(pol), codes.OK, "", "token:author-tok"},
		{"author cannot manage tokens", secrets["author"], listTokens(tok), codes.PermissionDenied, "needs the admin role", ""},
		{"admin manages tokens", root, listTokens(tok), codes.OK, "", ""},
		{"health is public", "", func(ctx context.Context) error {
			_, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
			return err
		}, codes.OK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(withToken(tt.secret))
			if got := status.Code(err); got != tt.code {
				t.Fatalf("code %v (%v), want %v", got, err, tt.code)
			}
			if tt.contains != "" && !strings.Contains(status.Convert(err).Message(), tt.contains) {
				t.Fatalf("message %q does not contain %q", status.Convert(err).Message(), tt.contains)
			}
			if tt.identity != "" && p.policies.last() != tt.identity {
				t.Fatalf("handler saw identity %q, want %q", p.policies.last(), tt.identity)
			}
		})
	}

	t.Run("revoked token refused", func(t *testing.T) {
		if _, err := tok.RevokeToken(withToken(root), &keywayv1.RevokeTokenRequest{Name: "viewer-tok"}); err != nil {
			t.Fatal(err)
		}
		if err := listVersions(pol)(withToken(secrets["viewer"])); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("revoked token: %v, want Unauthenticated", err)
		}
	})
}

func TestAuthorizerModes(t *testing.T) {
	tests := []struct {
		name string
		mode auth.Mode
		want codes.Code
	}{
		{"on refuses without a token", auth.On, codes.Unauthenticated},
		{"off lets anyone push", auth.Off, codes.OK},
		{"auto without tokens is open", auth.Auto, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPlane(t, tt.mode, nil)
			pol := keywayv1.NewPolicyServiceClient(p.dial(t, nil))
			if err := push(pol)(context.Background()); status.Code(err) != tt.want {
				t.Fatalf("push: %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAuthorizerCertRoles(t *testing.T) {
	p := startPlane(t, auth.Auto, map[string]auth.Role{"alice": auth.Operator, "dash": auth.Viewer})
	alice := p.ca.Client(t, "alice")
	dash := p.ca.Client(t, "dash")
	stranger := p.ca.Client(t, "proxy-a")
	tests := []struct {
		name     string
		leaf     *certtest.Leaf
		code     codes.Code
		identity string
	}{
		{"mapped operator pushes", &alice, codes.OK, "cert:alice"},
		{"mapped viewer cannot push", &dash, codes.PermissionDenied, ""},
		{"unmapped certificate needs a token", &stranger, codes.Unauthenticated, ""},
		{"no certificate needs a token", nil, codes.Unauthenticated, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pol := keywayv1.NewPolicyServiceClient(p.dial(t, tt.leaf))
			err := push(pol)(context.Background())
			if status.Code(err) != tt.code {
				t.Fatalf("push: %v, want %v", err, tt.code)
			}
			if tt.identity != "" && p.policies.last() != tt.identity {
				t.Fatalf("identity %q, want %q", p.policies.last(), tt.identity)
			}
		})
	}
}

func listVersions(c keywayv1.PolicyServiceClient) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.ListVersions(ctx, &keywayv1.ListVersionsRequest{})
		return err
	}
}

func push(c keywayv1.PolicyServiceClient) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.Push(ctx, &keywayv1.PushRequest{})
		return err
	}
}

func listTokens(c keywayv1.TokenServiceClient) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.ListTokens(ctx, &keywayv1.ListTokensRequest{})
		return err
	}
}
