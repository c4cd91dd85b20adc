package redistest

import "testing"

func TestStartSetGet(t *testing.T) {
	s := Start(t)
	if got := s.Do("SET", "k", "hello"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	if got := s.Do("GET", "k"); got != "hello" {
		t.Fatalf("GET = %q, want hello", got)
	}
	if got := s.Do("GET", "missing"); got != "$-1" {
		t.Fatalf("GET missing = %q, want $-1", got)
	}
}

func TestRestartKeepsWhatWasPersisted(t *testing.T) {
	s := Start(t, "appendonly yes", "appendfsync always")
	if got := s.Do("SET", "k", "v"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	s.Kill()
	s.Restart()
	if got := s.Do("GET", "k"); got != "v" {
		t.Fatalf("GET after a kill and restart = %q; want the value written before", got)
	}
}
