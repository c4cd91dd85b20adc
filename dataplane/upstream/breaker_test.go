package upstream

import (
	"errors"
	"testing"
	"time"
)

func TestBreakerTransitions(t *testing.T) {
	b := newBreaker(2, time.Minute)
	now := time.Unix(1000, 0)
	refused := errors.New("connection refused")
	steps := []struct {
		name string
		do   func()
		want BreakerState
	}{
		{"starts closed", func() {}, BreakerClosed},
		{"one failure stays closed", func() { b.failure(now, refused) }, BreakerClosed},
		{"a success resets the count", func() { b.success(); b.failure(now, refused) }, BreakerClosed},
		{"threshold opens", func() { b.failure(now, refused) }, BreakerOpen},
		{"cooldown holds it open", func() {
			if ok, wait, _ := b.allow(now.Add(time.Second)); ok || wait != 59*time.Second {
				t.Fatalf("allow during cooldown = %v, %v", ok, wait)
			}
		}, BreakerOpen},
		{"after cooldown one probe", func() {
			if ok, _, _ := b.allow(now.Add(time.Minute)); !ok {
				t.Fatal("no probe after the cooldown")
			}
			if ok, _, _ := b.allow(now.Add(time.Minute)); ok {
				t.Fatal("a second probe while the first runs")
			}
		}, BreakerHalfOpen},
		{"failed probe reopens", func() { b.failure(now.Add(time.Minute), refused) }, BreakerOpen},
		{"successful probe closes", func() {
			if ok, _, _ := b.allow(now.Add(3 * time.Minute)); !ok {
				t.Fatal("no probe")
			}
			b.success()
		}, BreakerClosed},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			if got := b.State(); got != st.want {
				t.Fatalf("state %v, want %v", got, st.want)
			}
			open, cause := b.open()
			if open != (st.want != BreakerClosed) || (open && cause != refused) {
				t.Fatalf("open() = %v, %v", open, cause)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	lo, hi := 10*time.Millisecond, time.Second
	for _, tc := range []struct {
		attempt int
		base    time.Duration
	}{
		{1, 10 * time.Millisecond},
		{2, 20 * time.Millisecond},
		{5, 160 * time.Millisecond},
		{50, time.Second},
	} {
		t.Run(tc.base.String(), func(t *testing.T) {
			for range 100 {
				if d := reconnectDelay(tc.attempt, lo, hi); d < tc.base/2 || d > tc.base {
					t.Fatalf("reconnectDelay(%d) = %v, want within [%v, %v]", tc.attempt, d, tc.base/2, tc.base)
				}
			}
		})
	}
}
