package backoff

import (
	"context"
	"testing"
	"time"
)

func TestExponentialWithoutJitter(t *testing.T) {
	e := Exponential{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond}
	want := []time.Duration{5, 10, 20, 40, 80, 100, 100}
	for i, w := range want {
		if got := e.Delay(i); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v; want %v", i, got, w*time.Millisecond)
		}
	}
}

func TestExponentialJitterStaysInItsHalf(t *testing.T) {
	e := Exponential{Min: 100 * time.Millisecond, Max: time.Second, Jitter: true}
	for attempt := range 8 {
		full := Exponential{Min: e.Min, Max: e.Max}.Delay(attempt)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := e.Delay(attempt)
			if d < full/2 || d > full {
				t.Fatalf("Delay(%d) = %v; want within [%v, %v]", attempt, d, full/2, full)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Fatalf("Delay(%d) gave one value in 200 draws: no jitter", attempt)
		}
	}
}

func TestExponentialZero(t *testing.T) {
	if d := (Exponential{Jitter: true}).Delay(3); d != 0 {
		t.Fatalf("zero Exponential waits %v", d)
	}
}

func TestWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Wait(ctx, time.Hour) {
		t.Fatal("Wait on an ended context reported the whole pause")
	}
	if !Wait(context.Background(), time.Microsecond) {
		t.Fatal("Wait of a microsecond did not pass")
	}
}

func TestRetrierResets(t *testing.T) {
	r := Retrier{Exponential: Exponential{Min: time.Microsecond, Max: time.Millisecond}}
	for range 3 {
		r.Wait(context.Background())
	}
	if r.attempt != 3 {
		t.Fatalf("attempt = %d after three waits", r.attempt)
	}
	r.Reset()
	if r.Delay(r.attempt) != time.Microsecond {
		t.Fatal("Reset did not bring back the shortest pause")
	}
}
