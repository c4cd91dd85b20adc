package identity

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"net/url"
	"reflect"
	"strings"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestDomainMostSpecificEvidenceWins(t *testing.T) {
	pc := &keywayv1.ProxyConfig{
		Listeners: []*keywayv1.Listener{{Name: "internal", Domain: "by-listener"}},
		Identity: &keywayv1.Identity{
			DefaultDomain: "default",
			Users:         []*keywayv1.User{{Name: "alice", Domain: "by-user"}, {Name: "nodomain"}},
			Certificates:  []*keywayv1.NameRule{{Match: "svc.example", Domain: "by-cert"}},
			ClientNames: []*keywayv1.NameRule{
				{Match: "web", Domain: "by-name"},
				{Match: "web-admin", Domain: "by-longer-name"},
				{Match: "blank"},
			},
		},
	}
	tests := []struct {
		name               string
		listener, user, cn string
		certs              []string
		want               string
	}{
		{"user beats everything", "internal", "alice", "web", []string{"svc.example"}, "by-user"},
		{"a user without a domain falls through", "internal", "nodomain", "", nil, "by-listener"},
		{"certificate beats name", "internal", "", "web", []string{"other", "svc.example"}, "by-cert"},
		{"longest name prefix", "", "", "web-admin-7", nil, "by-longer-name"},
		{"name prefix", "", "", "web-1", nil, "by-name"},
		{"a name rule without a domain is no match", "", "", "blank-1", nil, "default"},
		{"listener", "internal", "", "", nil, "by-listener"},
		{"unknown listener takes the default", "public", "", "", nil, "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Domain(pc, tt.listener, tt.user, tt.cn, tt.certs); got != tt.want {
				t.Fatalf("Domain = %q, want %q", got, tt.want)
			}
		})
	}
	if got := Domain(nil, "x", "y", "z", nil); got != "" {
		t.Fatalf("Domain without a config = %q, want the empty default", got)
	}
}

func TestCheckAuth(t *testing.T) {
	sum := sha256.Sum256([]byte("secret"))
	hash := hex.EncodeToString(sum[:])
	id := &keywayv1.Identity{Users: []*keywayv1.User{
		{Name: "alice", PasswordSha256: []string{"00", strings.ToUpper(hash)}},
		{Name: "default", PasswordSha256: []string{hash}},
	}}
	tests := []struct {
		name, user, pass string
		legacy           bool
		want             Result
	}{
		{"right password, hash in upper case", "alice", "secret", false, OK},
		{"wrong password", "alice", "guess", false, Wrong},
		{"unknown user", "mallory", "secret", false, Wrong},
		{"legacy AUTH as default", "default", "secret", true, OK},
		{"legacy AUTH without a default user", "default", "secret", true, NoPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := id
			if tt.want == NoPassword {
				in = &keywayv1.Identity{}
			}
			if got := CheckAuth(in, tt.user, tt.pass, tt.legacy); got != tt.want {
				t.Fatalf("CheckAuth = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestCertNames(t *testing.T) {
	u, _ := url.Parse("spiffe://example/web")
	cert := &x509.Certificate{Subject: pkix.Name{CommonName: "web"}, DNSNames: []string{"web.example"}, URIs: []*url.URL{u}}
	if got, want := CertNames(cert), []string{"web", "web.example", "spiffe://example/web"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("CertNames = %q, want %q", got, want)
	}
	if got := CertNames(&x509.Certificate{}); len(got) != 0 {
		t.Fatalf("CertNames of a nameless certificate = %q", got)
	}
}
