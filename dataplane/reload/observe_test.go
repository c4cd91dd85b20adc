package reload

import (
	"fmt"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestObserveHearsEveryApply(t *testing.T) {
	f := newFixture()
	var heard []string
	f.a.Observe(func(version string, err error) { heard = append(heard, fmt.Sprintf("%s ok=%v", version, err == nil)) })
	tests := []struct {
		name    string
		domains []*keywayv1.Domain
		version string
		wantErr bool
	}{
		{"applied", []*keywayv1.Domain{domain("a", tree("t1", "x"))}, "v1", false},
		{"refused", []*keywayv1.Domain{domain("a", tree("t2", "missing", "x"))}, "v2", true},
		{"applied again", []*keywayv1.Domain{domain("a", tree("t3", "y"))}, "v3", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := f.a.Apply(tc.domains, proxy, tc.version)
			if (err != nil) != tc.wantErr {
				t.Fatalf("apply %s: err = %v, want error %v", tc.version, err, tc.wantErr)
			}
		})
	}
	want := "[v1 ok=true v2 ok=false v3 ok=true]"
	if got := fmt.Sprint(heard); got != want {
		t.Fatalf("heard %s, want %s", got, want)
	}
}
