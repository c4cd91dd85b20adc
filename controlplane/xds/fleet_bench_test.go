package xds_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"keyway.dev/controlplane/xds"
	"keyway.dev/controlplane/xds/xdstest"
)

// BenchmarkFleetPush pushes to a fleet of simulated proxies in this
// process, one gRPC connection each, and times each push until every
// proxy ACKed what changed: the Domains, and the ProxyConfig too for
// proxies without xds.ProxyConfigByContent (KEYWAY_BENCH_LEGACY=1 makes
// every sim one). It reports the server's live heap and goroutines per
// proxy. KEYWAY_BENCH_SIMS sets the fleet's size (default 1000);
// keyway-bench xds measures the real process.
//
// The simulated proxies share the process, so CPU profiles hold both
// sides: focus them on the server, e.g. -focus 'serverv3|xds\.|transport\.\(\*http2Server'.
func BenchmarkFleetPush(b *testing.B) {
	n := simCount(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	gr0 := runtime.NumGoroutine()
	srv := xds.New(ctx, xds.Options{})
	gs := grpc.NewServer()
	srv.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()
	if err := srv.Publisher().SetActive(ctx, version(1, "d0", "d1", "d2")); err != nil {
		b.Fatal(err)
	}
	heapServer := liveHeap()
	stack0 := stackInuse()

	var target atomic.Pointer[string]
	var reached atomic.Int64
	var allIn atomic.Pointer[chan struct{}]
	type acked struct {
		mu   sync.Mutex
		ver  map[string]string
		done bool
	}
	acks := make([]acked, n)
	index := map[*xdstest.Sim]int{}
	arm := func(v string) chan struct{} {
		ch := make(chan struct{})
		reached.Store(0)
		for i := range acks {
			acks[i].mu.Lock()
			acks[i].done = false
			acks[i].mu.Unlock()
		}
		allIn.Store(&ch)
		target.Store(&v)
		return ch
	}
	onAck := func(s *xdstest.Sim, typeURL, v string) {
		a := &acks[index[s]]
		a.mu.Lock()
		a.ver[typeURL] = v
		done := !a.done && xdstest.OnPolicy(a.ver, *target.Load())
		a.done = a.done || done
		a.mu.Unlock()
		if done && reached.Add(1) == int64(n) {
			close(*allIn.Load())
		}
	}
	sims := make([]*xdstest.Sim, n)
	legacy := os.Getenv("KEYWAY_BENCH_LEGACY") != ""
	for i := range sims {
		sims[i] = &xdstest.Sim{ID: fmt.Sprintf("sim-%05d", i), Listeners: "10.0.0.1:6380", OnAck: onAck, Legacy: legacy}
		index[sims[i]] = i
		acks[i].ver = map[string]string{}
	}
	var wg sync.WaitGroup
	simCtx, stopSims := context.WithCancel(ctx)
	defer func() { stopSims(); wg.Wait() }()
	ch := arm("v1-")
	var clientHeap uint64
	for _, s := range sims {
		cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		wg.Go(func() { s.Run(simCtx, cc) })
	}
	wait(b, ch, "connect")
	// What the server holds per proxy cannot be told apart from the
	// sims' share in one process; the sims' streams cost about as much
	// as the server's, so half of the growth is reported as an upper
	// bound of the server's.
	clientHeap = (liveHeap() - heapServer) / 2
	if path := os.Getenv("KEYWAY_BENCH_HEAP"); path != "" {
		// The fleet connected: what each stream holds, by allocation site.
		if err := writeHeap(path); err != nil {
			b.Fatal(err)
		}
	}
	goroutines := runtime.NumGoroutine() - gr0
	stacks := stackInuse() - stack0

	v := uint64(1)
	cpu0 := cpuTime()
	r0, w0 := syscalls()
	b.ResetTimer()
	for b.Loop() {
		v++
		ch := arm(fmt.Sprintf("v%d-", v))
		if err := srv.Publisher().SetActive(ctx, version(v, "d0", "d1", fmt.Sprintf("push%d", v))); err != nil {
			b.Fatal(err)
		}
		wait(b, ch, fmt.Sprintf("push %d", v))
	}
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/push")
	r1, w1 := syscalls()
	b.ReportMetric(float64(r1-r0)/float64(b.N)/float64(n), "reads/push/proxy")
	b.ReportMetric(float64(w1-w0)/float64(b.N)/float64(n), "writes/push/proxy")
	b.ReportMetric(float64(clientHeap)/float64(n), "heap-B/proxy")
	b.ReportMetric(float64(goroutines)/float64(n), "goroutines/proxy")
	b.ReportMetric(float64(stacks)/float64(goroutines), "stack-B/goroutine")
}

// simCount is the fleet's size: KEYWAY_BENCH_SIMS, default 1000.
func simCount(b *testing.B) int {
	b.Helper()
	s := os.Getenv("KEYWAY_BENCH_SIMS")
	if s == "" {
		return 1000
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		b.Fatalf("KEYWAY_BENCH_SIMS=%q is not a positive count", s)
	}
	return n
}

func wait(b *testing.B, ch chan struct{}, what string) {
	b.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Minute):
		b.Fatalf("%s: not every proxy ACKed within 5 minutes", what)
	}
}

// cpuTime is the CPU time of this process, sims included: on a shared
// machine a steadier figure than the wall time per push.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// syscalls is how many read and write system calls this process made,
// sims included, from /proc/self/io; zero where it cannot be read.
func syscalls() (reads, writes int64) {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, ": ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "syscr":
			reads = n
		case "syscw":
			writes = n
		}
	}
	return reads, writes
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

func stackInuse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.StackInuse
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
