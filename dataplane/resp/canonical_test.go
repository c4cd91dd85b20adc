package resp

import "testing"

func TestCanonical(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"get", "GET", ""},
		{"config|set", "CONFIG|SET", ""},
		{"CONFIG", "CONFIG", ""},
		{"nosuch", "", `unknown command "nosuch"`},
		{"CONFIG|SETT", "", `CONFIG has no subcommand "SETT"`},
	}
	for _, tt := range tests {
		got, err := Canonical(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("Canonical(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
