package telemetry

import (
	"io"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
)

func benchRecorder() *Recorder {
	r := New(Options{})
	for _, d := range []string{"payments", "search", "sessions", "feed"} {
		for _, c := range []string{"GET", "SET", "MGET", "DEL", "HGETALL"} {
			r.Observe(d, "stable", c, "main", engine.KindNone, 1, 1, time.Microsecond)
		}
	}
	return r
}

func BenchmarkObserve(b *testing.B) {
	r := benchRecorder()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			r.Observe("payments", "stable", "GET", "main", engine.KindNone, 40, 60, time.Duration(i&1023)*time.Microsecond)
		}
	})
}

func BenchmarkObserveSeries(b *testing.B) {
	s := benchRecorder().Series("payments", "stable", "GET", "main")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			s.Observe(engine.KindNone, 40, 60, time.Duration(i&1023)*time.Microsecond)
		}
	})
}

func BenchmarkObserveKey(b *testing.B) {
	r := benchRecorder()
	key := []byte("user:12345")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.ObserveKey("payments", key)
		}
	})
}

func BenchmarkWritePrometheus(b *testing.B) {
	r := benchRecorder()
	b.ReportAllocs()
	for b.Loop() {
		if err := r.WritePrometheus(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
