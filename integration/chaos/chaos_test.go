//go:build chaos

package chaos

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
)

const (
	workers = 16
	keys    = 64
)

// row is one line of the results table.
type row struct {
	scenario string
	c        counts
	lost     int
	recovery time.Duration // from the fault's end to the proxy serving; 0 when not measured
	rssMiB   float64
	note     string
}

var (
	tableMu sync.Mutex
	table   []row
)

func report(r row) {
	tableMu.Lock()
	defer tableMu.Unlock()
	table = append(table, r)
}

// scenario runs fault against a fresh system under load, then checks and
// reports. errorsAllowed says whether the fault is one clients may see
// (Redis itself gone or frozen); it never allows wrong replies, lost
// writes or hung calls.
type scenario struct {
	name          string
	errorsAllowed bool
	fault         func(t *testing.T, s *system, l *load) (recovery time.Duration, note string)
}

func TestChaos(t *testing.T) {
	scenarios := []scenario{
		{name: "baseline, no fault", fault: func(t *testing.T, s *system, l *load) (time.Duration, string) {
			hold(2 * time.Second)
			return 0, ""
		}},
		{name: "control plane SIGKILL, restart, push", fault: func(t *testing.T, s *system, l *load) (time.Duration, string) {
			s.cp.Kill()
			hold(3 * time.Second)
			s.restartControl()
			s.push("v2", policy(s.redis.Addr, 3), true)
			return s.waitRunning("v2"), "recovery: push after restart to proxy running it"
		}},
		{name: "upstream SIGKILL, restart", errorsAllowed: true, fault: func(t *testing.T, s *system, l *load) (time.Duration, string) {
			s.redis.Kill()
			hold(2 * time.Second)
			s.redis.Restart()
			return recovery(t, s.proxy.Addr), "Redis down 2 s; appendfsync always"
		}},
		{name: "upstream SIGSTOP 3 s", errorsAllowed: true, fault: func(t *testing.T, s *system, l *load) (time.Duration, string) {
			if err := s.redis.Pause(); err != nil {
				t.Fatal(err)
			}
			hold(3 * time.Second)
			if err := s.redis.Resume(); err != nil {
				t.Fatal(err)
			}
			return recovery(t, s.proxy.Addr), "calls time out at the 1 s deadline"
		}},
		{name: "reloads at 10 Hz for 5 s", fault: func(t *testing.T, s *system, l *load) (time.Duration, string) {
			s.push("va", policy(s.redis.Addr, 3), false)
			s.push("vb", policy(s.redis.Addr, 5), false)
			for i := range 50 {
				name := "va"
				if i%2 == 1 {
					name = "vb"
				}
				if err := s.activate(name); err != nil {
					t.Fatalf("activate %s: %v", name, err)
				}
				hold(100 * time.Millisecond)
			}
			return s.waitRunning("vb"), "recovery: last activation to proxy running it"
		}},
		{name: "NACKed version", fault: func(t *testing.T, s *system, l *load) (time.Duration, string) {
			s.push("locked", lockedPolicy(s.redis.Addr), true)
			harness.Eventually(t, 30*time.Second, "the locked version is refused", func() error {
				n, err := fleetNack(s)
				if err != nil {
					return err
				}
				if !strings.Contains(n, "KEYWAY_CHAOS_UNSET") {
					return fmt.Errorf("last NACK %q", n)
				}
				return nil
			})
			hold(2 * time.Second)
			if v, err := policyInfo(s.proxy); err != nil || v != "v1" {
				t.Errorf("after the refusal the proxy runs %q (%v); want v1", v, err)
			}
			return 0, "proxy stays on v1"
		}},
		{name: "hostile neighbours: malformed input, slow readers", fault: func(t *testing.T, s *system, l *load) (time.Duration, string) {
			n := hostile(t, s, 3*time.Second)
			return 0, fmt.Sprintf("%d hostile connections", n)
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { runScenario(t, sc) })
	}
	t.Run("SIGTERM drain of pipelines", testDrain)
	t.Run("cluster failover and reshard", testCluster)
	printTable(t)
}

// hold lets a fault last: the suite injects faults for a time, as an
// operator's outage would; nothing waits on it for a result.
func hold(d time.Duration) { time.Sleep(d) }

func runScenario(t *testing.T, sc scenario) {
	s := startSystem(t)
	l := startLoad(s.proxy.Addr, workers, keys)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := l.waitOps(ctx, 2000); err != nil {
		l.stop()
		t.Fatalf("load before the fault: %v", err)
	}
	rec, note := sc.fault(t, s, l)
	// Run on after the fault, so what it left behind shows.
	if err := l.waitOps(ctx, 2000); err != nil {
		l.stop()
		t.Fatalf("load after the fault: %v", err)
	}
	l.stop()
	lost, examples, err := l.verify(ctx, direct(t, s.redis.Addr))
	if err != nil {
		t.Fatal(err)
	}
	c := l.counts()
	report(row{scenario: sc.name, c: c, lost: lost, recovery: rec, rssMiB: rss(s.proxy.Pid()), note: note})
	check(t, c, lost, examples, sc.errorsAllowed)
}

func check(t *testing.T, c counts, lost int, examples []string, errorsAllowed bool) {
	t.Helper()
	if c.wrong > 0 {
		t.Errorf("%d wrong replies, e.g. %v", c.wrong, c.wrongs)
	}
	if lost > 0 {
		t.Errorf("%d acknowledged writes lost, e.g. %v", lost, examples)
	}
	if c.hung > 0 {
		t.Errorf("%d calls took %v or more", c.hung, hungAfter)
	}
	if c.errs > 0 && !errorsAllowed {
		t.Errorf("%d errors where the proxy must hide the fault: %v", c.errs, c.errTexts)
	}
}

// hostile opens connections that misbehave next to the load for d:
// malformed RESP of several kinds, announced sizes far over the limits,
// and readers that pipeline requests and never read the replies. It
// returns how many it opened.
func hostile(t *testing.T, s *system, d time.Duration) int {
	if err := direct(t, s.redis.Addr).Set(context.Background(), "chaos:big", strings.Repeat("x", 64<<10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	addr := s.proxy.Addr
	payloads := [][]byte{
		[]byte("*2\r\n$3\r\nGET\r\n$-5\r\n"), // negative length
		[]byte("*99999999999\r\n"),           // count over the limit
		[]byte("*1\r\n$2147483647\r\nxx"),    // bulk over the limit
		[]byte("*2\r\n$3\r\nGET\r\n:1\r\n"),  // an integer as an argument
		[]byte("\x00\x01\x02garbage\r\n"),    // not RESP at all
		[]byte("*3\r\n$3\r\nSET\r\n$1\r\nk"), // cut short, then silence
		[]byte("GET \"a\r\n"),                // unbalanced quotes inline
	}
	// Hostile connections come 50 at a time for d, each a goroutine:
	// one that sends a malformed request waits for the proxy's error
	// line (or its close), a slow reader pipelines reads of a 64 KiB
	// value and never reads a reply until the end.
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	var opened atomic.Int64
	for g := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; time.Now().Before(deadline); i += 50 {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					continue
				}
				opened.Add(1)
				if i%4 == 3 {
					var b strings.Builder
					for range 2000 {
						b.WriteString("*2\r\n$3\r\nGET\r\n$9\r\nchaos:big\r\n")
					}
					_ = c.SetWriteDeadline(deadline)
					_, _ = c.Write([]byte(b.String()))
					time.Sleep(time.Until(deadline))
					_ = c.Close()
					continue
				}
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				_, _ = c.Write(payloads[rand.IntN(len(payloads))])
				_, _ = bufio.NewReader(c).ReadString('\n')
				_ = c.Close()
			}
		}()
	}
	wg.Wait()
	return int(opened.Load())
}

// testDrain drives ten 5,000-command pipelines and a blocked BLPOP
// through a SIGTERM of the proxy and checks that every command the proxy
// ran was answered, in order, and that it ran none it did not answer.
func testDrain(t *testing.T) {
	s := startSystem(t)
	rd := direct(t, s.redis.Addr)
	ctx := context.Background()
	if err := rd.Set(ctx, "chaos:big", strings.Repeat("x", 4096), 0).Err(); err != nil {
		t.Fatal(err)
	}
	const clients, depth = 10, 5000
	type result struct {
		replies int
		err     error
	}
	results := make([]result, clients)
	var wg sync.WaitGroup
	started := make(chan struct{}, clients)
	for i := range clients {
		c, err := net.Dial("tcp", s.proxy.Addr)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			key := fmt.Sprintf("chaos:drain:%d", i)
			cmd := fmt.Sprintf("*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n", len(key), key)
			go func() { _, _ = c.Write([]byte(strings.Repeat(cmd, depth))) }()
			r := bufio.NewReader(c)
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			for n := 1; n <= depth; n++ {
				line, err := r.ReadString('\n')
				if err != nil {
					results[i] = result{replies: n - 1, err: err}
					return
				}
				if n == 1 {
					started <- struct{}{}
				}
				if want := ":" + strconv.Itoa(n) + "\r\n"; line != want {
					results[i] = result{replies: n - 1, err: fmt.Errorf("reply %d is %q, want %q", n, line, want)}
					return
				}
			}
			results[i] = result{replies: depth}
		}()
	}
	blpop := make(chan error, 1)
	go func() {
		c := redis.NewClient(&redis.Options{Addr: s.proxy.Addr, MaxRetries: -1, ReadTimeout: 30 * time.Second})
		defer c.Close()
		err := c.BLPop(ctx, 2*time.Second, "chaos:never").Err()
		if err == redis.Nil {
			err = nil // the timeout's nil reply: answered
		}
		blpop <- err
	}()
	for range clients {
		<-started
	}
	if err := s.proxy.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	s.proxy.Wait()
	total := 0
	cut := 0
	for i, r := range results {
		ran, err := rd.Get(ctx, fmt.Sprintf("chaos:drain:%d", i)).Int()
		if err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		if r.err != nil && !strings.Contains(r.err.Error(), "EOF") {
			t.Errorf("client %d: %v", i, r.err)
		}
		if ran != r.replies {
			t.Errorf("client %d: Redis ran %d INCRs, the client got %d replies", i, ran, r.replies)
		}
		if r.replies < depth {
			cut++
		}
		total += r.replies
	}
	if err := <-blpop; err != nil {
		t.Errorf("blocked BLPOP through the drain: %v", err)
	}
	report(row{
		scenario: "SIGTERM drain of 10 x 5,000 pipelined INCR",
		c:        counts{ops: int64(total)},
		note:     fmt.Sprintf("%d of %d pipelines ended at a command boundary; every INCR run was answered", cut, clients),
	})
}

// testCluster runs the verifying load through a proxy in front of a
// 3-primary, 3-replica Redis Cluster while a replica takes over its
// primary and 300 slots move.
func testCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 1)
	cp := harness.StartControl(t, "", "")
	p := harness.StartProxy(t, "chaos-cluster", cp.Addr)
	quoted := make([]string, 0, len(cl.Seeds()))
	for _, a := range cl.Seeds() {
		quoted = append(quoted, strconv.Quote(a))
	}
	s := &system{t: t, cp: cp, proxy: p, versions: map[string]uint64{}}
	s.push("v1", fmt.Sprintf("c = redis_cluster(\"c\", seeds = [%s], refresh_interval = \"1s\", pool = pool(timeout = \"4s\"))\ndomain(\"default\", c)\n", strings.Join(quoted, ", ")), true)
	s.waitRunning("v1")
	l := startLoad(p.Addr, workers, keys)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := l.waitOps(ctx, 2000); err != nil {
		l.stop()
		t.Fatal(err)
	}
	start := time.Now()
	cl.Failover(cl.ReplicaOf(cl.Primaries()[0]))
	prim := cl.Primaries()
	cl.Reshard(prim[0], prim[1], 300)
	took := time.Since(start)
	if err := l.waitOps(ctx, 2000); err != nil {
		l.stop()
		t.Fatal(err)
	}
	l.stop()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Seeds()})
	defer cc.Close()
	lost, examples, err := l.verify(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	c := l.counts()
	report(row{scenario: "cluster: failover, then 300 slots resharded", c: c, lost: lost, rssMiB: rss(p.Pid()),
		note: fmt.Sprintf("both took %.1f s", took.Seconds())})
	check(t, c, lost, examples, false)
}

func printTable(t *testing.T) {
	tableMu.Lock()
	defer tableMu.Unlock()
	var b strings.Builder
	b.WriteString("\n| scenario | calls | errors | wrong | hung | lost writes | max latency | recovery | proxy RSS | note |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range table {
		rec := "-"
		if r.recovery > 0 {
			rec = fmt.Sprintf("%.2f s", r.recovery.Seconds())
		}
		mem := "-"
		if r.rssMiB > 0 {
			mem = fmt.Sprintf("%.0f MiB", r.rssMiB)
		}
		lat := "-"
		if r.c.maxLatency > 0 {
			lat = fmt.Sprintf("%.0f ms", float64(r.c.maxLatency)/float64(time.Millisecond))
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %s | %s | %s | %s |\n",
			r.scenario, r.c.ops, r.c.errs, r.c.wrong, r.c.hung, r.lost, lat, rec, mem, r.note)
	}
	kinds := map[string]int{}
	for _, r := range table {
		for k, v := range r.c.errTexts {
			kinds[r.scenario+": "+k] += v
		}
	}
	if len(kinds) > 0 {
		b.WriteString("\nErrors by kind:\n")
		names := make([]string, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			fmt.Fprintf(&b, "  %6d  %s\n", kinds[k], k)
		}
	}
	fmt.Fprint(os.Stdout, b.String())
	if out := os.Getenv("KEYWAY_CHAOS_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Errorf("write %s: %v", out, err)
		}
	}
}
