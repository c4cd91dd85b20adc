package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeConfig(t *testing.T, body string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestResolvePrecedence(t *testing.T) {
	file := writeConfig(t, "address: file:7700\ntoken: kwt_file\ntls:\n  ca: ca.pem\n  server_name: cp.internal\n", 0o600)
	dir := filepath.Dir(file)
	tests := []struct {
		name  string
		flags Settings
		env   map[string]string
		want  Settings
	}{
		{
			name: "defaults without a file",
			env:  map[string]string{"HOME": t.TempDir()},
			want: Settings{Addr: "127.0.0.1:7700"},
		},
		{
			name: "file",
			env:  map[string]string{EnvConfig: file},
			want: Settings{Addr: "file:7700", Token: "kwt_file", TLS: TLS{CA: filepath.Join(dir, "ca.pem"), ServerName: "cp.internal"}},
		},
		{
			name: "environment over file",
			env:  map[string]string{EnvConfig: file, EnvAddr: "env:7700", EnvToken: "kwt_env"},
			want: Settings{Addr: "env:7700", Token: "kwt_env", TLS: TLS{CA: filepath.Join(dir, "ca.pem"), ServerName: "cp.internal"}},
		},
		{
			name:  "flags over environment, TLS as a whole",
			flags: Settings{Addr: "flag:7700", Token: "kwt_flag", TLS: TLS{Cert: "c.pem", Key: "k.pem"}},
			env:   map[string]string{EnvConfig: file, EnvAddr: "env:7700", EnvToken: "kwt_env"},
			want:  Settings{Addr: "flag:7700", Token: "kwt_flag", TLS: TLS{Cert: "c.pem", Key: "k.pem"}},
		},
		{
			name: "XDG config home",
			env:  map[string]string{"XDG_CONFIG_HOME": xdg(t, "address: xdg:1\n")},
			want: Settings{Addr: "xdg:1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.flags, env(tt.env), "127.0.0.1:7700")
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func xdg(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "keyway"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keyway", "config.yaml"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestLoadRefuses(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"token in a readable file", map[string]string{EnvConfig: writeConfig(t, "token: kwt_x\n", 0o644)}, "chmod 600"},
		{"unknown key", map[string]string{EnvConfig: writeConfig(t, "adress: x\n", 0o600)}, "adress"},
		{"explicit file missing", map[string]string{EnvConfig: filepath.Join(t.TempDir(), "none.yaml")}, "read config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env), "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestDialOptionsGuardTokens(t *testing.T) {
	tests := []struct {
		name    string
		s       Settings
		wantErr string
	}{
		{"no token, remote, clear", Settings{Addr: "10.0.0.5:7700"}, ""},
		{"token to loopback in clear", Settings{Addr: "127.0.0.1:7700", Token: "kwt_x"}, ""},
		{"token to localhost in clear", Settings{Addr: "localhost:7700", Token: "kwt_x"}, ""},
		{"token to a remote host in clear", Settings{Addr: "10.0.0.5:7700", Token: "kwt_secret"}, "refusing to send a token in clear text"},
		{"cert without key", Settings{Addr: "10.0.0.5:7700", TLS: TLS{Cert: "c.pem"}}, "both --cert and --key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.s.DialOptions()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "kwt_secret") {
				t.Fatalf("the error shows the token: %v", err)
			}
		})
	}
}
