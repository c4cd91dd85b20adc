package policy_test

import (
	"testing"

	"keyway.dev/cli/internal/dispatch"
	"keyway.dev/cli/internal/policy"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		bad  string
	}{
		{in: "v3", want: 3},
		{in: "3", want: 3},
		{in: "V12", want: 12},
		{in: "v0", bad: "versions start at v1"},
		{in: "0", bad: "versions start at v1"},
		{in: "", bad: "want v3 or 3"},
		{in: "v", bad: "want v3 or 3"},
		{in: "vv3", bad: "want v3 or 3"},
		{in: "+3", bad: "want v3 or 3"},
		{in: "-1", bad: "want v3 or 3"},
		{in: "three", bad: "want v3 or 3"},
		{in: "3.0", bad: "want v3 or 3"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := policy.ParseVersion(tc.in)
			if tc.bad == "" {
				if err != nil || got != tc.want {
					t.Fatalf("ParseVersion(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseVersion(%q) = %d, want an error", tc.in, got)
			}
			if dispatch.ExitCode(err) != dispatch.ExitUsage {
				t.Errorf("error %v is not a usage error", err)
			}
			if !contains(err.Error(), tc.bad) {
				t.Errorf("error %q lacks %q", err, tc.bad)
			}
		})
	}
}
