package nearcache

import (
	"context"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"syscall"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// BenchmarkHitZipf is the cost of hits in a cache of a million entries,
// keys drawn from Zipf(0.99) as in keyway-bench nearcache: unlike
// BenchmarkHit's one key, most lookups miss the CPU's caches, which is
// what a hit costs a running proxy. cpu-ns/op is the process's CPU time
// per hit, which, unlike ns/op, other processes on a shared machine do
// not inflate.
func BenchmarkHitZipf(b *testing.B) {
	const keys = 1_000_000
	s := redistest.Start(b)
	p := newProxy(b, standalone(s.Addr), &keywayv1.NearCache{MaxBytes: 1 << 30})
	st := p.nc.store
	value := []byte("$64\r\n" + string(make([]byte, 64)) + "\r\n")
	names := make([][]byte, keys)
	for i := range names {
		names[i] = []byte("key:" + strconv.Itoa(i))
		r := enginetest.Req("GET", string(names[i]))
		sh, slot := st.locate(names[i])
		st.insert(sh, st.ticket(sh, slot, nanotime()), string(appendSig(nil, r)), names[i], value, 0)
	}
	if got := st.stats.entries.Load(); got != keys {
		b.Fatalf("%d entries cached, want %d", got, keys)
	}
	// The draws, made before the clock starts: Zipf(0.99) by inverting
	// the cumulative weights.
	cdf := make([]float64, keys)
	sum := 0.0
	for i := range cdf {
		sum += 1 / math.Pow(float64(i+1), 0.99)
		cdf[i] = sum
	}
	rng := rand.New(rand.NewPCG(1, 2))
	draws := make([]int, 1<<20)
	for i := range draws {
		draws[i] = sort.SearchFloat64s(cdf, rng.Float64()*sum)
	}
	ctx := context.Background()
	r := enginetest.Req("GET", "key:0")
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	i := 0
	for b.Loop() {
		r.Reset()
		r.Session = enginetest.Session
		r.Cmd.Args = append(r.Cmd.Args, []byte("GET"), names[draws[i%len(draws)]])
		r.Cmd.Spec = specGet
		engine.Do(ctx, p.root, r)
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(i), "cpu-ns/op")
	if raw := r.Raw(); len(raw) != len(value) {
		b.Fatalf("last reply %q, want the cached value", raw)
	}
}

// cpuTime is the process's user and system CPU time, in nanoseconds.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
