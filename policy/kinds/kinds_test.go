package kinds

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
)

func TestShare(t *testing.T) {
	for _, v := range []float64{0.001, 0.5, 1} {
		if err := Share("share", v); err != nil {
			t.Errorf("Share(%v) = %v, want nil", v, err)
		}
	}
	for _, v := range []float64{0, -0.1, 1.0001, math.NaN(), math.Inf(1)} {
		err := Share("sample", v)
		if err == nil || !strings.HasPrefix(err.Error(), "sample must be in (0, 1], got ") {
			t.Errorf("Share(%v) = %v, want a refusal naming sample", v, err)
		}
	}
}

func TestRateLimit(t *testing.T) {
	if err := RateLimitRates(10, 0); err != nil {
		t.Errorf("ops only: %v", err)
	}
	if err := RateLimitRates(0, 0); !errors.Is(err, ErrRateLimitNoRate) {
		t.Errorf("no rate: %v, want ErrRateLimitNoRate", err)
	}
	for _, r := range [][2]float64{{-1, 0}, {math.NaN(), 1}, {1, math.Inf(1)}} {
		if err := RateLimitRates(r[0], r[1]); err == nil || !strings.Contains(err.Error(), "finite and not negative") {
			t.Errorf("rates %v: %v", r, err)
		}
	}
	for _, b := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if err := RateLimitBurst(b); err == nil || !strings.HasPrefix(err.Error(), "burst_seconds must be > 0") {
			t.Errorf("burst %v: %v", b, err)
		}
	}
	if err := RateLimitBurst(RateLimitDefaultBurstSeconds); err != nil {
		t.Errorf("default burst: %v", err)
	}
	if err := RateLimitMaxDelay(false, durationpb.New(time.Second)); err == nil || !strings.Contains(err.Error(), `only applies to mode "delay"`) {
		t.Errorf("max_delay in refuse mode: %v", err)
	}
	if err := RateLimitMaxDelay(true, durationpb.New(0)); err == nil || !strings.Contains(err.Error(), "must be positive") {
		t.Errorf("zero max_delay: %v", err)
	}
	if err := RateLimitMaxDelay(true, nil); err != nil {
		t.Errorf("unset max_delay: %v", err)
	}
}

func TestMaxTTL(t *testing.T) {
	if err := MaxTTL(durationpb.New(time.Hour)); err != nil {
		t.Errorf("one hour: %v", err)
	}
	for _, tt := range []struct {
		max  *durationpb.Duration
		want string
	}{
		{nil, "max is required"},
		{durationpb.New(0), "at least 1ms"},
		{durationpb.New(-time.Second), "at least 1ms"},
		{durationpb.New(1500 * time.Microsecond), "whole milliseconds"},
		{durationpb.New(MaxTTLLimit + time.Millisecond), "the longest TTL the proxy reads"},
	} {
		if err := MaxTTL(tt.max); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("MaxTTL(%v) = %v, want %q", tt.max, err, tt.want)
		}
	}
}

func TestSplitWeights(t *testing.T) {
	if errs := SplitWeights([]int64{90, 10}); errs != nil {
		t.Errorf("90/10: %v", errs)
	}
	for _, tt := range []struct {
		weights []int64
		want    string
	}{
		{nil, "give at least one"},
		{[]int64{0, 1}, "children[0]: weight must be > 0, got 0"},
		{[]int64{1, -1}, "children[1]: weight must be > 0, got -1"},
		{[]int64{1, 100000}, "children[0]: weight 1 of 100001 is below the split's resolution of 1/10000"},
	} {
		errs := SplitWeights(tt.weights)
		if len(errs) == 0 || !strings.Contains(errs[0].Error(), tt.want) {
			t.Errorf("SplitWeights(%v) = %v, want %q", tt.weights, errs, tt.want)
		}
	}
}

func TestGuardCommands(t *testing.T) {
	if err := GuardCommands([]string{"GET", "SET"}, []string{"FLUSHALL"}); err != nil {
		t.Errorf("disjoint lists: %v", err)
	}
	if err := GuardCommands([]string{"GET", "SET"}, []string{"DEL", "SET"}); err == nil || err.Error() != "SET is in both allow_commands and deny_commands" {
		t.Errorf("SET in both: %v", err)
	}
}

func TestPresence(t *testing.T) {
	for _, tt := range []struct {
		ok, bad error
		want    error
	}{
		{Prefix("p:"), Prefix(""), ErrPrefixEmpty},
		{Flag("f"), Flag(""), ErrFlagNameEmpty},
		{Failover(2), Failover(1), ErrFailoverChildren},
		{Reject(1, 0), Reject(0, 0), ErrRejectNothing},
		{Transform(true, 0), Transform(false, 0), ErrTransformNothing},
		{Transform(false, 1), Transform(false, 0), ErrTransformNothing},
		{Commands(true, "l:"), Commands(false, "l:"), ErrCommandsLocks},
	} {
		if tt.ok != nil || !errors.Is(tt.bad, tt.want) {
			t.Errorf("ok %v, bad %v, want %v", tt.ok, tt.bad, tt.want)
		}
	}
}

// The rules whose zero value a builder never passes (it applies the
// default first) still refuse it, for the renderer's explicit "".
func TestExplicitEmptyValues(t *testing.T) {
	if err := Commands(true, ""); err == nil || !strings.Contains(err.Error(), "lock_prefix: empty prefix") {
		t.Errorf("empty lock_prefix: %v", err)
	}
	if err := RejectMessage(""); err == nil || !strings.Contains(err.Error(), "message: empty") {
		t.Errorf("empty message: %v", err)
	}
	if err := RejectMessage(RejectDefaultMessage); err != nil {
		t.Errorf("default message: %v", err)
	}
}

func TestEncryptionKey(t *testing.T) {
	long := strings.Repeat("k", 256)
	for _, tt := range []struct {
		id        string
		env, file bool
		want      string
	}{
		{"k", true, false, ""},
		{"k", false, true, ""},
		{strings.Repeat("k", 255), true, false, ""},
		{"", true, false, `key id "" must be 1 to 255 bytes`},
		{long, true, false, "must be 1 to 255 bytes"},
		{"k", true, true, `key "k": give exactly one of env and file`},
		{"k", false, false, `key "k": give exactly one of env and file`},
	} {
		err := EncryptionKey(tt.id, tt.env, tt.file)
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("EncryptionKey(%.8q, %v, %v) = %v, want %q", tt.id, tt.env, tt.file, err, tt.want)
		}
	}
}

func TestListedTwice(t *testing.T) {
	if got := ListedTwice("commands", "GET").Error(); got != "commands: GET is listed twice" {
		t.Errorf("ListedTwice = %q", got)
	}
}
