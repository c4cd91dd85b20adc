package envflag

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func newSet() (*flag.FlagSet, *string, *int, *time.Duration) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	listen := fs.String("listen", "a:1", "address")
	max := fs.Int("max-clients", 10, "most clients")
	idle := fs.Duration("idle-timeout", 0, "idle")
	Register(fs, "KEYWAY_T")
	return fs, listen, max, idle
}

func TestPrecedence(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "t.conf")
	if err := os.WriteFile(cfg, []byte("# comment\nlisten: \"file:3\"\nmax-clients: 30\nidle-timeout: 5s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"KEYWAY_T_MAX_CLIENTS": "20", "KEYWAY_T_CONFIG": cfg}
	fs, listen, max, idle := newSet()
	if err := Parse(fs, []string{"--listen", "flag:1"}, "KEYWAY_T", func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if *listen != "flag:1" || *max != 20 || *idle != 5*time.Second {
		t.Fatalf("listen=%q max=%d idle=%v; want flag:1, 20 (env), 5s (file)", *listen, *max, *idle)
	}
	if u := fs.Lookup("max-clients").Usage; !strings.HasSuffix(u, "(env KEYWAY_T_MAX_CLIENTS)") {
		t.Fatalf("usage %q does not name the variable", u)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("listen: x\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad env", nil, map[string]string{"KEYWAY_T_MAX_CLIENTS": "many"}, "KEYWAY_T_MAX_CLIENTS=\"many\""},
		{"unknown in file", []string{"--config", bad}, nil, "bad.conf:2: unknown flag \"bogus\""},
		{"missing file", []string{"--config", filepath.Join(dir, "none")}, nil, "--config:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs, _, _, _ := newSet()
			err := Parse(fs, tc.args, "KEYWAY_T", func(k string) string { return tc.env[k] })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
