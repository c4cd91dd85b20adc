package upstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/redistest"
)

func TestNodeRepliesInOrder(t *testing.T) {
	s := redistest.Start(t)
	n := startNode(t, standalone("main", s.Addr), s.Addr, Options{})
	for _, tc := range []struct {
		name             string
		callers, batches int
		depth            int
	}{
		{"many callers, single commands", 200, 20, 1},
		{"pipelines", 100, 10, 50},
		{"one deep pipeline", 1, 2, 5000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, tc.callers)
			for g := range tc.callers {
				wg.Go(func() {
					for k := range tc.batches {
						b := make(engine.Batch, tc.depth)
						for i := range b {
							b[i] = req("ECHO", fmt.Sprintf("%d/%d/%d", g, k, i))
						}
						n.Serve(context.Background(), "main", b)
						for i, r := range b {
							want := bulk(fmt.Sprintf("%d/%d/%d", g, k, i))
							if got := string(r.Raw()); got != want || r.Upstream != "" {
								errs <- fmt.Errorf("caller %d batch %d request %d: reply %q, want %q", g, k, i, got, want)
								return
							}
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		})
	}
}

func TestNodeBoundsConnections(t *testing.T) {
	s := redistest.Start(t)
	const conns = 3
	n := startNode(t, standalone("main", s.Addr), s.Addr, Options{Connections: conns})
	// Keys a blocked caller can wait on would need dedicated connections;
	// instead every caller sends a pipeline big enough to overlap.
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := 0
	start := make(chan struct{})
	for g := range 1000 {
		wg.Go(func() {
			<-start
			b := engine.Batch{req("INCR", "counter"), req("ECHO", strconv.Itoa(g))}
			n.Serve(context.Background(), "main", b)
			if b[0].Kind() != engine.KindNone || string(b[1].Raw()) != bulk(strconv.Itoa(g)) {
				mu.Lock()
				failed++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if failed > 0 {
		t.Fatalf("%d of 1000 callers got a wrong reply", failed)
	}
	if got := s.Do("GET", "counter"); got != "1000" {
		t.Fatalf("counter = %q, want 1000", got)
	}
	if got := clients(t, s); got != conns {
		t.Fatalf("redis sees %d connections, want %d", got, conns)
	}
}

func TestNodeDeadFailsFastWithoutDelayingOthers(t *testing.T) {
	healthy := redistest.Start(t)
	deadAddr := redistest.DeadAddr(t)
	// A timeout no test run reaches: if the dead node waited for it
	// instead of failing fast, the test would not finish.
	opts := Options{Timeout: time.Hour}
	dead := startNode(t, standalone("cache", deadAddr), deadAddr, opts)
	good := startNode(t, standalone("main", healthy.Addr), healthy.Addr, opts)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	goodErr := make(chan error, 1)
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				goodErr <- nil
				return
			default:
			}
			if r := do(good, "main", "ECHO", strconv.Itoa(i)); string(r.Raw()) != bulk(strconv.Itoa(i)) {
				goodErr <- fmt.Errorf("healthy node answered %q", r.Raw())
				return
			}
		}
	})
	for range 50 {
		r := do(dead, "cache", "GET", "k")
		if r.Kind() != engine.KindProxy {
			t.Fatalf("dead node: kind %v, reply %q; want proxy", r.Kind(), r.Raw())
		}
		want := "-ERR keyway: upstream cache (" + deadAddr + ") is unavailable: "
		if !strings.HasPrefix(string(r.Raw()), want) || !errors.Is(r.Err(), ErrUnavailable) {
			t.Fatalf("dead node reply %q, want prefix %q", r.Raw(), want)
		}
	}
	close(stop)
	wg.Wait()
	if err := <-goodErr; err != nil {
		t.Fatal(err)
	}
}

func TestNodeStuckTimesOut(t *testing.T) {
	stuck := redistest.Start(t)
	healthy := redistest.Start(t)
	const timeout = 200 * time.Millisecond
	n := startNode(t, standalone("slow", stuck.Addr), stuck.Addr, Options{Timeout: timeout})
	other := startNode(t, standalone("main", healthy.Addr), healthy.Addr, Options{Timeout: timeout})
	if r := do(n, "slow", "PING"); string(r.Raw()) != "+PONG\r\n" {
		t.Fatalf("before pause: %q", r.Raw())
	}
	// Redis stops answering everyone, this test's own client included,
	// so the pause is set with a deadline long enough for several of the
	// node's timeouts and its connection replacement.
	stuck.Do("CLIENT", "PAUSE", "1500", "ALL")

	want := fmt.Sprintf("-TIMEOUT keyway: upstream slow (%s) did not answer within %v\r\n", stuck.Addr, timeout)
	for i := range 3 {
		b := engine.Batch{req("SET", "k", strconv.Itoa(i)), req("GET", "k")}
		n.Serve(context.Background(), "slow", b)
		for _, r := range b {
			if r.Kind() != engine.KindTimeout || string(r.Raw()) != want || !errors.Is(r.Err(), ErrTimeout) {
				t.Fatalf("paused node: kind %v reply %q; want timeout %q", r.Kind(), r.Raw(), want)
			}
		}
		if r := do(other, "main", "ECHO", "alive"); string(r.Raw()) != bulk("alive") {
			t.Fatalf("healthy node during the pause: %q", r.Raw())
		}
	}
	// After the pause, replies to timed-out requests arrive and must be
	// dropped without shifting anyone else's reply.
	eventually(t, "the paused node to answer again", func() bool {
		r := do(n, "slow", "ECHO", "after")
		if r.Kind() != engine.KindNone {
			return false // timed out, or sent on the connection being replaced
		}
		if string(r.Raw()) != bulk("after") {
			t.Fatalf("after the pause: reply %q, want %q (FIFO misaligned?)", r.Raw(), bulk("after"))
		}
		return true
	})
	for i := range 20 {
		v := "x" + strconv.Itoa(i)
		if r := do(n, "slow", "ECHO", v); string(r.Raw()) != bulk(v) {
			t.Fatalf("after recovery: %q, want %q", r.Raw(), bulk(v))
		}
	}
}

func TestNodeContextDeadline(t *testing.T) {
	s := redistest.Start(t)
	n := startNode(t, standalone("main", s.Addr), s.Addr, Options{Timeout: time.Hour})
	s.Do("CLIENT", "PAUSE", "1000", "WRITE")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	r := req("SET", "k", "v")
	n.Serve(ctx, "main", engine.Batch{r})
	if r.Kind() != engine.KindTimeout || !strings.HasPrefix(string(r.Raw()), "-TIMEOUT keyway: upstream main") {
		t.Fatalf("kind %v reply %q; want a timeout from the context deadline", r.Kind(), r.Raw())
	}

	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	r = req("SET", "k", "v")
	n.Serve(ctx, "main", engine.Batch{r})
	if r.Kind() != engine.KindProxy || !errors.Is(r.Err(), ErrCanceled) {
		t.Fatalf("kind %v reply %q; want canceled", r.Kind(), r.Raw())
	}
}

func TestNodeReconnectsAfterRestart(t *testing.T) {
	s := redistest.Start(t)
	n := startNode(t, standalone("main", s.Addr), s.Addr, Options{})
	if r := do(n, "main", "SET", "k", "v"); string(r.Raw()) != "+OK\r\n" {
		t.Fatalf("SET: %q", r.Raw())
	}
	s.Stop()
	eventually(t, "the node to notice redis is gone", func() bool {
		return do(n, "main", "PING").Kind() == engine.KindProxy
	})
	restart(t, s)
	eventually(t, "the node to reconnect", func() bool {
		return string(do(n, "main", "PING").Raw()) == "+PONG\r\n"
	})
	eventually(t, "every connection to be back", func() bool { return n.Stats().Connections == DefaultConnections })
	if got := clients(t, s); got != DefaultConnections {
		t.Fatalf("redis sees %d connections after the reconnect, want %d", got, DefaultConnections)
	}
}

func TestNodeBreaker(t *testing.T) {
	s := redistest.Start(t)
	opts := Options{BreakerThreshold: 2, BreakerCooldown: 50 * time.Millisecond}
	n := startNode(t, standalone("main", s.Addr), s.Addr, opts)
	if got := n.Stats().Breaker; got != BreakerClosed {
		t.Fatalf("breaker %v at start", got)
	}
	if r := do(n, "main", "PING"); string(r.Raw()) != "+PONG\r\n" {
		t.Fatalf("PING: %q", r.Raw())
	}
	s.Stop()
	eventually(t, "the breaker to open", func() bool { return n.Stats().Breaker != BreakerClosed })
	r := do(n, "main", "PING")
	if r.Kind() != engine.KindProxy || !strings.Contains(string(r.Raw()), "is unavailable: ") || !strings.Contains(string(r.Raw()), "refused") {
		t.Fatalf("with the breaker open: kind %v reply %q", r.Kind(), r.Raw())
	}
	restart(t, s)
	eventually(t, "the breaker to close", func() bool { return n.Stats().Breaker == BreakerClosed })
	eventually(t, "requests to flow", func() bool { return string(do(n, "main", "PING").Raw()) == "+PONG\r\n" })
}

func TestNodeRefusesStatefulCommands(t *testing.T) {
	s := redistest.Start(t)
	n := startNode(t, standalone("main", s.Addr), s.Addr, Options{})
	for _, tc := range []struct {
		name string
		b    engine.Batch
		ok   []bool
	}{
		{"multi alone", engine.Batch{req("MULTI")}, []bool{false}},
		{"subscribe among others", engine.Batch{req("SET", "a", "1"), req("SUBSCRIBE", "ch"), req("GET", "a")}, []bool{true, false, true}},
		{"blocking pop", engine.Batch{req("BLPOP", "q", "0")}, []bool{false}},
		{"xread without block is fine", engine.Batch{req("XREAD", "STREAMS", "s", "0")}, []bool{true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n.Serve(context.Background(), "main", tc.b)
			for i, r := range tc.b {
				refused := r.Kind() == engine.KindRefused && errors.Is(r.Err(), ErrNeedsDedicated)
				if !r.Done() || refused == tc.ok[i] {
					t.Fatalf("request %d (%s): kind %v reply %q", i, r.Cmd.Name(), r.Kind(), r.Raw())
				}
			}
		})
	}
	// The connection was not left in a transaction or subscribed.
	if r := do(n, "main", "GET", "a"); string(r.Raw()) != bulk("1") {
		t.Fatalf("GET after refusals: %q", r.Raw())
	}
}

func TestNodeClose(t *testing.T) {
	s := redistest.Start(t)
	n := startNode(t, standalone("main", s.Addr), s.Addr, Options{})
	if r := do(n, "main", "PING"); string(r.Raw()) != "+PONG\r\n" {
		t.Fatalf("PING: %q", r.Raw())
	}
	n.Close()
	r := do(n, "main", "PING")
	if !errors.Is(r.Err(), ErrClosed) {
		t.Fatalf("after Close: kind %v reply %q", r.Kind(), r.Raw())
	}
	eventually(t, "redis to see the connections close", func() bool { return clients(t, s) == 0 })
}
