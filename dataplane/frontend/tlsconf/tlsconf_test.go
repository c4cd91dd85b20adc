package tlsconf

import (
	"testing"

	"keyway.dev/dataplane/tlstest"
)

func TestOptions(t *testing.T) {
	ca := tlstest.NewCA(t, "ca")
	f := ca.Write(t.TempDir(), ca.Localhost(1))
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"cert and key", Options{CertFile: f.Cert, KeyFile: f.Key}, true},
		{"no key", Options{CertFile: f.Cert}, false},
		{"missing file", Options{CertFile: f.Cert + ".nope", KeyFile: f.Key}, false},
		{"client auth without ca", Options{CertFile: f.Cert, KeyFile: f.Key, ClientAuth: ClientAuthRequire}, false},
		{"ca that is not pem", Options{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: f.Key, ClientAuth: ClientAuthRequire}, false},
		{"client auth with ca", Options{CertFile: f.Cert, KeyFile: f.Key, ClientCAFile: f.CA, ClientAuth: ClientAuthRequire}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewFiles(tc.opts); (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
		})
	}
	for _, tc := range []struct {
		in   string
		want ClientAuth
		ok   bool
	}{{"none", ClientAuthNone, true}, {"", ClientAuthNone, true}, {"request", ClientAuthRequest, true}, {"require", ClientAuthRequire, true}, {"always", 0, false}} {
		got, err := ParseClientAuth(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Fatalf("ParseClientAuth(%q) = %v, %v", tc.in, got, err)
		}
	}
}
