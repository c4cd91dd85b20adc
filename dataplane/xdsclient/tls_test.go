package xdsclient

import (
	"context"
	"crypto/tls"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"

	"keyway.dev/proto/certtest"
)

// startMTLS serves gRPC health over TLS that requires a client
// certificate from ca, and reports each caller's common name on seen.
func startMTLS(t *testing.T, ca *certtest.CA) (addr string, seen chan string) {
	t.Helper()
	srv := ca.Server(t, "control")
	cfg := &tls.Config{
		Certificates: []tls.Certificate{srv.TLS(t)},
		ClientCAs:    ca.Pool(),
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	seen = make(chan string, 16)
	gs := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)), grpc.UnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if p, ok := peer.FromContext(ctx); ok {
				if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok && len(ti.State.PeerCertificates) > 0 {
					seen <- ti.State.PeerCertificates[0].Subject.CommonName
				}
			}
			return h(ctx, req)
		}))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	return lis.Addr().String(), seen
}

func TestTLSDialOption(t *testing.T) {
	ca := certtest.NewCA(t, "fleet")
	other := certtest.NewCA(t, "other")
	addr, seen := startMTLS(t, ca)
	proxyA := ca.Client(t, "proxy-a")
	tests := []struct {
		name    string
		files   TLSFiles
		wantCN  string
		callErr bool
	}{
		{"client certificate presented", TLSFiles{CA: ca.CertFile, Cert: proxyA.CertFile, Key: proxyA.KeyFile}, "proxy-a", false},
		{"no client certificate refused", TLSFiles{CA: ca.CertFile}, "", true},
		{"server from another CA refused", TLSFiles{CA: other.CertFile, Cert: proxyA.CertFile, Key: proxyA.KeyFile}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt, err := TLSDialOption(tt.files)
			if err != nil {
				t.Fatal(err)
			}
			cc, err := grpc.NewClient(addr, opt)
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			_, err = healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
			if (err != nil) != tt.callErr {
				t.Fatalf("call error %v, want error %v", err, tt.callErr)
			}
			if tt.wantCN != "" {
				if got := <-seen; got != tt.wantCN {
					t.Fatalf("server saw %q, want %q", got, tt.wantCN)
				}
			}
		})
	}
}

func TestTLSDialOptionChecksFiles(t *testing.T) {
	ca := certtest.NewCA(t, "fleet")
	leaf := ca.Client(t, "proxy-a")
	tests := []struct {
		name  string
		files TLSFiles
	}{
		{"no CA", TLSFiles{Cert: leaf.CertFile, Key: leaf.KeyFile}},
		{"cert without key", TLSFiles{CA: ca.CertFile, Cert: leaf.CertFile}},
		{"missing CA file", TLSFiles{CA: ca.CertFile + ".missing"}},
		{"key is not a key", TLSFiles{CA: ca.CertFile, Cert: leaf.CertFile, Key: leaf.CertFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := TLSDialOption(tt.files); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
