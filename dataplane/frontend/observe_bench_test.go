package frontend

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/observe"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/telemetry"
)

// newRecorder is the Recorder keyway-proxy runs with.
func newRecorder() *telemetry.Recorder {
	return telemetry.New(telemetry.Options{KnownCommand: func(name string) bool { return resp.Lookup([]byte(name)) != nil }})
}

// BenchmarkTelemetryOverhead is the cost of counting, end to end: two
// servers on one redis-server, one without an Observer and one with the
// proxy's Recorder, driven alternately by the same loop so that machine
// noise hits both alike. It reports each side's time per command and the
// overhead in percent; the README's Telemetry section quotes it.
func BenchmarkTelemetryOverhead(b *testing.B) {
	r := redistest.Start(b)
	for _, depth := range []int{1, 16} {
		b.Run("pipeline"+strconv.Itoa(depth), func(b *testing.B) {
			var conns [2]*rawConn
			for i, obs := range []observe.Observer{nil, newRecorder()} {
				h := startObserved(b, obs)
				install(h.cur, "v1", map[string]engine.Engine{"default": newLeaf(b, "main", r.Addr)}, nil)
				conns[i] = dialRaw(b, h.addr)
				if got := conns[i].cmd("SET", "k", "value"); got != "+OK\r\n" {
					b.Fatalf("set = %q", got)
				}
			}
			req := []byte(strings.Repeat("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", depth))
			want := strings.Repeat("$5\r\nvalue\r\n", depth)
			buf := make([]byte, len(want))
			var spent [2]time.Duration
			n := 0
			b.ResetTimer()
			for b.Loop() {
				for j := range 2 {
					i := (n + j) % 2 // alternate which side goes first
					c := conns[i]
					start := time.Now()
					if _, err := c.c.Write(req); err != nil {
						b.Fatal(err)
					}
					if _, err := readFull(c, buf); err != nil || string(buf) != want {
						b.Fatalf("reply %q, %v", buf, err)
					}
					spent[i] += time.Since(start)
				}
				n++
			}
			cmds := float64(n * depth)
			off, on := float64(spent[0])/cmds, float64(spent[1])/cmds
			b.ReportMetric(off, "off-ns/cmd")
			b.ReportMetric(on, "on-ns/cmd")
			b.ReportMetric(100*(on-off)/off, "overhead-%")
		})
	}
}

// BenchmarkObserveRun is the counting alone: what one command of a
// 16-command run costs the server's goroutine with the Recorder, with
// nothing else in the measurement.
func BenchmarkObserveRun(b *testing.B) {
	for _, tc := range []struct {
		name string
		obs  observe.Observer
	}{{"nop", observe.Nop{}}, {"recorder", newRecorder()}} {
		b.Run(tc.name, func(b *testing.B) {
			tracer, _ := tc.obs.(observe.Tracer)
			c := &client{meter: observe.NewConn(tc.obs, tracer)}
			c.meter.ReadAt = time.Now()
			c.sess.Domain = "web"
			run := make(engine.Batch, 16)
			for i := range run {
				r := &engine.Request{}
				r.Cmd.Parse([][]byte{[]byte("GET"), []byte("user:" + strconv.Itoa(i))})
				r.Upstream = "main"
				r.Reply([]byte("$5\r\nvalue\r\n"))
				run[i] = r
				c.meter.SetSize(i, 24)
			}
			b.ReportAllocs()
			for b.Loop() {
				c.observeRun(run)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(run)), "ns/cmd")
		})
	}
}
