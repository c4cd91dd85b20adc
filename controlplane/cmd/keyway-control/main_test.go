package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCommandLine checks what an operator sees before the server starts:
// --help and --version exit 0 on stdout, misuse exits 2 on stderr.
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		stdout     []string
		stderrWant string
	}{
		{"help", []string{"--help"}, nil, 0, []string{"usage: keyway-control", "-listen", "(env KEYWAY_CONTROL_LISTEN)", "-config"}, ""},
		{"short help", []string{"-h"}, nil, 0, []string{"usage: keyway-control"}, ""},
		{"version", []string{"--version"}, nil, 0, []string{"keyway-control ", "commit "}, ""},
		{"version from env", nil, map[string]string{"KEYWAY_CONTROL_VERSION": "true"}, 0, []string{"keyway-control "}, ""},
		{"unknown flag", []string{"--bogus"}, nil, 2, nil, "flag provided but not defined: -bogus"},
		{"argument", []string{"serve"}, nil, 2, nil, `unexpected argument "serve"`},
		{"bad level", []string{"--log-level", "loud"}, nil, 2, nil, "--log-level"},
		{"bad env", nil, map[string]string{"KEYWAY_CONTROL_RENDER_MEMORY": "lots"}, 2, nil, "KEYWAY_CONTROL_RENDER_MEMORY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := realMain(tc.args, &stdout, &stderr, func(k string) string { return tc.env[k] })
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			if tc.stderrWant != "" {
				if !strings.Contains(stderr.String(), tc.stderrWant) || !strings.Contains(stderr.String(), "Run 'keyway-control --help'") {
					t.Errorf("stderr = %q, want %q and a pointer to --help", stderr.String(), tc.stderrWant)
				}
			}
			if tc.code == 0 && stderr.Len() > 0 {
				t.Errorf("stderr = %q, want nothing", stderr.String())
			}
		})
	}
}
