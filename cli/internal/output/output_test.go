package output_test

import (
	"testing"
	"time"

	"keyway.dev/cli/internal/output"
)

func TestAge(t *testing.T) {
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ago  time.Duration
		want string
	}{
		{0, "0s"}, {-time.Second, "0s"}, {59 * time.Second, "59s"}, {time.Minute, "1m"},
		{59 * time.Minute, "59m"}, {time.Hour, "1h"}, {47 * time.Hour, "47h"}, {50 * time.Hour, "2d"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := output.Age(now, now.Add(-tc.ago)); got != tc.want {
				t.Errorf("Age(%s ago) = %q, want %q", tc.ago, got, tc.want)
			}
		})
	}
	if got := output.Age(now, time.Time{}); got != "-" {
		t.Errorf("Age(zero) = %q", got)
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly10!", 10, "exactly10!"},
		{"one two three", 8, "one two…"},
		{"one two three", 9, "one two…"},
		{"héllo wörld", 6, "héllo…"},
		{"ab", 1, "a"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := output.Truncate(tc.in, tc.n); got != tc.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}

func TestParseFormat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want output.Format
		bad  bool
	}{
		{"", output.Table, false}, {"table", output.Table, false}, {"text", output.Table, false},
		{"json", output.JSON, false}, {"JSON", output.JSON, false}, {"yaml", output.YAML, false}, {"yml", output.YAML, false}, {"xml", "", true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := output.ParseFormat(tc.in)
			if (err != nil) != tc.bad || got != tc.want {
				t.Errorf("ParseFormat(%q) = %q, %v", tc.in, got, err)
			}
		})
	}
}
