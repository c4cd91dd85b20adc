package nearcache

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// BenchmarkInvalidationDelay measures, on loopback, the time from a
// direct write's acknowledgement to the moment the proxy has dropped the
// key: the window in which another proxy's client may still read the old
// value (docs/near-cache.md). It reports the median and the 99th
// percentile; ns/op is the whole round (fill, write, wait).
func BenchmarkInvalidationDelay(b *testing.B) {
	s := redistest.Start(b)
	p := newProxy(b, standalone(s.Addr), &keywayv1.NearCache{})
	conn, err := net.Dial("tcp", s.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	set := func(v string) {
		fmt.Fprintf(conn, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n%s\r\n", len(v), v)
		if line, err := br.ReadString('\n'); err != nil || line != "+OK\r\n" {
			b.Fatalf("SET: %q %v", line, err)
		}
	}
	var delays []time.Duration
	for i := 0; b.Loop(); i++ {
		p.sync()
		p.do("GET", "k")
		if p.entry("GET", "k") == nil {
			b.Fatal("not cached after a synced fill")
		}
		set(strconv.Itoa(i))
		acked := time.Now()
		for p.entry("GET", "k") != nil {
			runtime.Gosched()
		}
		delays = append(delays, time.Since(acked))
	}
	slices.Sort(delays)
	b.ReportMetric(float64(delays[len(delays)/2])/1e3, "p50-µs")
	b.ReportMetric(float64(delays[len(delays)*99/100])/1e3, "p99-µs")
	b.ReportMetric(float64(delays[len(delays)-1])/1e3, "max-µs")
}

// BenchmarkHit is the cost of a read answered from memory, against one
// sent to Redis through the same engine with caching out of reach (a key
// outside the prefixes).
func BenchmarkHit(b *testing.B) {
	s := redistest.Start(b)
	p := newProxy(b, standalone(s.Addr), &keywayv1.NearCache{Prefixes: []string{"hot:"}})
	s.Do("SET", "hot:1", "v")
	s.Do("SET", "cold:1", "v")
	p.sync()
	ctx := context.Background()
	for _, key := range []string{"hot:1", "cold:1"} {
		b.Run(key[:len(key)-2], func(b *testing.B) {
			r := enginetest.Req("GET", key)
			b.ReportAllocs()
			for b.Loop() {
				r.Reset()
				r.Session = enginetest.Session
				r.Cmd.Args = append(r.Cmd.Args, []byte("GET"), []byte(key))
				r.Cmd.Spec = specGet
				engine.Do(ctx, p.root, r)
			}
		})
	}
}
