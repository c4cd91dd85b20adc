package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const twoContexts = `# my control planes
address: 127.0.0.1:7700
contexts:
  prod:
    address: prod.example:7700
    token: kwt_prod
    tls: {ca: prod-ca.pem}
  dev:
    address: 127.0.0.1:7701
current-context: dev
`

func writeContexts(t *testing.T, body string) (string, func(string) string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvConfig: path}
	return path, func(k string) string { return env[k] }
}

func TestContexts(t *testing.T) {
	path, getenv := writeContexts(t, twoContexts)
	for _, tc := range []struct {
		name, pick, env string
		addr, token, ca string
	}{
		{"current-context", "", "", "127.0.0.1:7701", "", ""},
		{"--context", "prod", "", "prod.example:7700", "kwt_prod", filepath.Join(filepath.Dir(path), "prod-ca.pem")},
		{"KEYWAY_CONTEXT", "", "prod", "prod.example:7700", "kwt_prod", filepath.Join(filepath.Dir(path), "prod-ca.pem")},
		{"--context beats KEYWAY_CONTEXT", "dev", "prod", "127.0.0.1:7701", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := func(k string) string {
				if k == EnvContext {
					return tc.env
				}
				return getenv(k)
			}
			s, err := Load(env, tc.pick)
			if err != nil {
				t.Fatal(err)
			}
			if s.Addr != tc.addr || s.Token != tc.token || s.TLS.CA != tc.ca {
				t.Errorf("settings = %+v, want %s %s %s", s, tc.addr, tc.token, tc.ca)
			}
		})
	}
	if _, err := Load(getenv, "staging"); err == nil || !strings.Contains(err.Error(), `no context "staging"`) || !strings.Contains(err.Error(), "contexts: dev, prod") {
		t.Errorf("unknown context: %v", err)
	}
}

func TestUseContextKeepsTheFile(t *testing.T) {
	path, getenv := writeContexts(t, twoContexts)
	if _, err := UseContext(getenv, "prod"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "# my control planes") || !strings.Contains(string(b), "current-context: prod") || strings.Contains(string(b), "current-context: dev") {
		t.Errorf("after use-context prod:\n%s", b)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after rewrite: %v, %v", fi.Mode().Perm(), err)
	}
	if s, err := Load(getenv, ""); err != nil || s.Addr != "prod.example:7700" {
		t.Errorf("after use-context prod: %+v, %v", s, err)
	}
	if _, err := UseContext(getenv, "nope"); err == nil || !strings.Contains(err.Error(), `no context "nope"`) {
		t.Errorf("use-context nope: %v", err)
	}
	// A file without current-context gains one.
	path2, getenv2 := writeContexts(t, "contexts:\n  a:\n    address: x:1\n")
	if _, err := UseContext(getenv2, "a"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path2); !strings.Contains(string(b), "current-context: a") {
		t.Errorf("no current-context added:\n%s", b)
	}
}

func TestContextTokenNeedsAPrivateFile(t *testing.T) {
	path, getenv := writeContexts(t, twoContexts)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(getenv, ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a context's token in a world-readable file: %v", err)
	}
}
