package identity

import (
	"fmt"
	"testing"
	"time"
)

func TestAuthLimiterDelays(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	lim := Limits{Free: 2, Window: time.Minute, Delay: 100 * time.Millisecond,
		MaxDelay: 400 * time.Millisecond, MaxWait: time.Second}
	type move struct {
		fail bool          // count a failure instead of reserving
		at   time.Duration // since t0
		want time.Duration // the reserved wait
		ok   bool          // false: refused
	}
	tests := []struct {
		name  string
		moves []move
	}{
		{"free failures wait nothing", []move{
			{at: 0, ok: true},
			{fail: true}, {at: 0, ok: true},
			{fail: true}, {at: 0, want: 100 * time.Millisecond, ok: true},
		}},
		{"delay doubles up to the cap", []move{
			{fail: true}, {fail: true}, {fail: true},
			{at: 0, want: 200 * time.Millisecond, ok: true},
			{fail: true}, {at: time.Second, want: 400 * time.Millisecond, ok: true},
			{fail: true}, {at: 2 * time.Second, want: 400 * time.Millisecond, ok: true},
		}},
		{"attempts queue behind each other", []move{
			{fail: true}, {fail: true},
			{at: 0, want: 100 * time.Millisecond, ok: true},
			{at: 0, want: 200 * time.Millisecond, ok: true},
			{at: 50 * time.Millisecond, want: 250 * time.Millisecond, ok: true},
		}},
		{"too long a queue is refused", []move{
			{fail: true}, {fail: true},
			{at: 0, want: 100 * time.Millisecond, ok: true},
			{at: 0, want: 200 * time.Millisecond, ok: true},
			{at: 0, want: 300 * time.Millisecond, ok: true},
			{at: 0, want: 400 * time.Millisecond, ok: true},
			{at: 0, want: 500 * time.Millisecond, ok: true},
			{at: 0, want: 600 * time.Millisecond, ok: true},
			{at: 0, want: 700 * time.Millisecond, ok: true},
			{at: 0, want: 800 * time.Millisecond, ok: true},
			{at: 0, want: 900 * time.Millisecond, ok: true},
			{at: 0, want: time.Second, ok: true},
			{at: 0, ok: false},
		}},
		{"failures are forgotten after the window", []move{
			{fail: true}, {fail: true}, {fail: true},
			{at: 61 * time.Second, ok: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := NewThrottle(lim)
			for i, m := range tc.moves {
				if m.fail {
					a.Failed("10.0.0.1", t0)
					continue
				}
				got, ok := a.reserve("10.0.0.1", t0.Add(m.at))
				if got != m.want || ok != m.ok {
					t.Fatalf("move %d: wait %v ok %v, want %v %v", i, got, ok, m.want, m.ok)
				}
			}
			if got, ok := a.reserve("10.0.0.2", t0); got != 0 || !ok {
				t.Fatalf("another address waits %v ok %v", got, ok)
			}
		})
	}
}

func TestAuthLimiterBounded(t *testing.T) {
	a := NewThrottle(Limits{MaxAddrs: 4})
	now := time.Now()
	for i := range 100 {
		a.Failed(fmt.Sprintf("10.0.0.%d", i), now)
	}
	if n := len(a.addrs); n > 4 {
		t.Fatalf("%d addresses remembered, limit 4", n)
	}
	if st := a.Stats(now); st.Failures != 100 {
		t.Fatalf("failures = %d, want 100", st.Failures)
	}
}

func TestSourceKey(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"10.1.2.3:5555", "10.1.2.3"},
		{"[2001:db8:1:2:3:4:5:6]:6379", "2001:db8:1:2::/64"},
		{"[::ffff:10.1.2.3]:1", "10.1.2.3"},
		{"/run/keyway.sock", "/run/keyway.sock"},
	}
	for _, tc := range tests {
		t.Run(tc.remote, func(t *testing.T) {
			if got := SourceKey(tc.remote); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
