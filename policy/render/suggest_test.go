package render

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"main", "sessions", "api", "batch"}
	tests := []struct {
		got, want string
	}{
		{"mian", "main"},
		{"sesions", "sessions"},
		{"ap", "api"},
		{"bach", "batch"},
		{"nope", ""},
		{"nothing-like-it", ""},
		{"main", "main"},
	}
	for _, tt := range tests {
		t.Run(tt.got, func(t *testing.T) {
			if got := closest(tt.got, known); got != tt.want {
				t.Errorf("closest(%q) = %q, want %q", tt.got, got, tt.want)
			}
		})
	}
}
