package kinds

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
)

func TestPrefixes(t *testing.T) {
	if err := Prefixes("key_prefixes", nil); err != nil {
		t.Errorf("no prefixes: %v", err)
	}
	if err := Prefixes("key_prefixes", []string{"a:", "b:"}); err != nil {
		t.Errorf("two prefixes: %v", err)
	}
	err := Prefixes("channel_prefixes", []string{"c.", ""})
	if err == nil || !strings.Contains(err.Error(), "channel_prefixes[1]: empty prefix") {
		t.Errorf("empty second prefix: %v", err)
	}
}

func TestTransformKeys(t *testing.T) {
	tests := []struct {
		name       string
		ids        []string
		active     string
		wantActive string
		wantErr    string
	}{
		{"no keys", nil, "", "", ""},
		{"one key is active by default", []string{"k"}, "", "k", ""},
		{"named among several", []string{"a", "b"}, "b", "b", ""},
		{"several without active", []string{"a", "b"}, "", "", "active_key is required with several keys"},
		{"active not a key", []string{"a"}, "z", "", `active_key "z" is not one of keys`},
		{"active without keys", nil, "z", "", `active_key "z" is not one of keys`},
		{"id twice", []string{"a", "a"}, "a", "", `keys: key id "a" listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TransformKeys(tt.ids, tt.active)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.wantActive {
				t.Fatalf("TransformKeys = %q, %v; want %q", got, err, tt.wantActive)
			}
		})
	}
}

func TestFailoverCooldown(t *testing.T) {
	if err := FailoverCooldown(nil); err != nil {
		t.Errorf("unset: %v", err)
	}
	if err := FailoverCooldown(durationpb.New(time.Second)); err != nil {
		t.Errorf("1s: %v", err)
	}
	for _, d := range []*durationpb.Duration{durationpb.New(0), durationpb.New(-time.Second)} {
		if err := FailoverCooldown(d); err == nil || !strings.Contains(err.Error(), "cooldown must be positive") {
			t.Errorf("%v: err = %v", d.AsDuration(), err)
		}
	}
	if err := FailoverCooldown(&durationpb.Duration{Seconds: 1, Nanos: -1}); err == nil || !strings.Contains(err.Error(), "cooldown: ") {
		t.Errorf("malformed: err = %v", err)
	}
}

func TestGuardScripts(t *testing.T) {
	if err := GuardScripts(true, 1); err != nil {
		t.Errorf("scripts with key_prefixes: %v", err)
	}
	if err := GuardScripts(false, 0); err != nil {
		t.Errorf("no scripts, no prefixes: %v", err)
	}
	if err := GuardScripts(true, 0); err != ErrGuardScriptsUnconfined {
		t.Errorf("scripts without key_prefixes: %v", err)
	}
}
