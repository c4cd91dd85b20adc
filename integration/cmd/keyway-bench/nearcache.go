package main

// `keyway-bench nearcache` measures the near cache (docs/near-cache.md):
// one redis-server, and keyway-proxy in front of it twice, once with a
// policy that forwards and once with a near_cache, under the same load:
// keys drawn from a Zipf(s) distribution over a large key space, a share
// of them read (GET) and the rest written (SET), unpipelined clients. It
// prints throughput, p50/p99 latency, Redis's CPU per request and in
// cores, the commands Redis executed per client request (INFO
// commandstats), and the near cache's hit ratio and coalesced requests
// from the proxy's /metrics, and the ratios near cache / plain.
//
// It runs each pair under several CPU placements (--setups), because
// which process is the bottleneck decides what a near cache can show:
// "shared" puts Redis and the proxy on one CPU and the load generator on
// the other; "redis-alone" gives Redis a CPU of its own and puts the
// proxy with the load generator. On a machine this small the proxy and
// the clients saturate first either way, so the report also gives the
// Redis-bound throughput: requests per second of Redis CPU, what one
// Redis core could serve when Redis, not the proxy tier, is the scarce
// resource (a fleet of proxies in front of the node holding the hot
// keys). It is derived from measured CPU, not measured at saturation,
// and the report says so.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type ncConfig struct {
	proxyBin   string
	keys       int
	zipf       float64
	reads      float64
	clients    int
	pipeline   int
	requests   int
	warmup     int
	valueSize  int
	maxBytes   int
	admit      int
	coalesce   bool
	reps       int
	out        string
	pin        bool
	loadCPUs   string
	serverCPUs string
	setups     []string
}

// ncSetups are the CPU placements of --setups: which of the two CPU
// lists (--load-cpus, --server-cpus) Redis and the proxy run on. The
// load generator always runs on --load-cpus.
var ncSetups = map[string]struct{ redisOnServer, proxyOnServer bool }{
	"shared":      {true, true},
	"redis-alone": {true, false},
}

// ncResult is one measured run of one target.
type ncResult struct {
	Target      string  `json:"target"`
	Setup       string  `json:"setup"`
	Rep         int     `json:"rep"`
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	Seconds     float64 `json:"seconds"`
	OpsPerSec   float64 `json:"ops_per_sec"`
	P50Micros   float64 `json:"p50_us"`
	P99Micros   float64 `json:"p99_us"`
	RedisCPU    float64 `json:"redis_cpu_seconds"`
	RedisCores  float64 `json:"redis_cores"`
	RedisUsPerK float64 `json:"redis_cpu_us_per_request"`
	ProxyCPU    float64 `json:"proxy_cpu_seconds"`
	Hits        uint64  `json:"hits"`
	Misses      uint64  `json:"misses"`
	Coalesced   uint64  `json:"coalesced"`
	HitRatio    float64 `json:"hit_ratio"`
	// Every near cache counter's change during the run (fills,
	// fills_refused, invalidations, evictions, ...): where misses come
	// from.
	Events map[string]uint64 `json:"events,omitempty"`
	// What Redis executed during the run (INFO commandstats deltas):
	// calls per command, calls per client request, and the time Redis
	// reports spending in commands (not in I/O) per client request.
	RedisCalls      map[string]uint64 `json:"redis_calls"`
	RedisCallsPerOp float64           `json:"redis_calls_per_request"`
	RedisCmdUsPerOp float64           `json:"redis_command_us_per_request"`
	// RedisBoundOps is requests per second of Redis CPU: the throughput
	// one Redis core would allow if it were the bottleneck (derived).
	RedisBoundOps float64 `json:"redis_bound_ops_per_sec"`
}

func mainNearCache(args []string) {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := runNearCache(ctx, args, os.Stdout, os.Stderr, log)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		log.Error("keyway-bench nearcache failed", "err", err)
		stop()
		os.Exit(1)
	}
}

func parseNearCache(args []string, stderr io.Writer) (ncConfig, error) {
	var c ncConfig
	fs := flag.NewFlagSet("keyway-bench nearcache", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.proxyBin, "proxy-bin", "", "keyway-proxy binary (default: bin/keyway-proxy of the checkout)")
	fs.IntVar(&c.keys, "keys", 1_000_000, "keys in the data set")
	fs.Float64Var(&c.zipf, "zipf", 0.99, "Zipf exponent of the key distribution (0 < s, s != 1)")
	fs.Float64Var(&c.reads, "reads", 0.95, "share of reads (GET); the rest are SETs")
	fs.IntVar(&c.clients, "clients", 50, "client connections")
	fs.IntVar(&c.pipeline, "pipeline", 1, "requests each client sends per write")
	fs.IntVar(&c.requests, "requests", 400_000, "measured requests per target and repetition")
	fs.IntVar(&c.warmup, "warmup", 2_000_000, "requests before each measurement, in pipelines of at least 16 (fills the near cache)")
	fs.IntVar(&c.valueSize, "value-size", 64, "value size, in bytes")
	fs.IntVar(&c.maxBytes, "max-bytes", 256<<20, "the near cache's max_bytes")
	fs.IntVar(&c.admit, "admit-reads", 2, "the near cache's admit_reads (within 10s)")
	fs.BoolVar(&c.coalesce, "coalescing", true, "the near cache's coalescing")
	fs.IntVar(&c.reps, "reps", 2, "repetitions; the target order alternates")
	fs.StringVar(&c.out, "out", "", "results directory (default: a new /tmp/keyway-bench-nearcache-DATE)")
	noPin := fs.Bool("no-pin", false, "do not pin processes to CPUs")
	fs.StringVar(&c.loadCPUs, "load-cpus", "0", "CPUs of the load generator (taskset list)")
	fs.StringVar(&c.serverCPUs, "server-cpus", "1", "CPUs of redis-server, and of the proxy in the shared setup")
	setups := fs.String("setups", "shared,redis-alone", "CPU placements to run, in order: shared (Redis and proxy on --server-cpus), redis-alone (Redis alone on --server-cpus, the proxy on --load-cpus)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.pin = !*noPin
	for _, name := range strings.Split(*setups, ",") {
		name = strings.TrimSpace(name)
		if _, ok := ncSetups[name]; !ok {
			return c, fmt.Errorf("--setups: unknown setup %q (want shared or redis-alone)", name)
		}
		c.setups = append(c.setups, name)
	}
	switch {
	case c.keys < 1:
		return c, fmt.Errorf("--keys %d: want at least 1", c.keys)
	case !(c.zipf > 0) || c.zipf == 1:
		return c, fmt.Errorf("--zipf %v: want a positive exponent other than 1", c.zipf)
	case c.reads < 0 || c.reads > 1:
		return c, fmt.Errorf("--reads %v: want a share in [0, 1]", c.reads)
	case c.clients < 1 || c.requests < c.clients || c.reps < 1 || c.warmup < 0 || c.pipeline < 1:
		return c, errors.New("--clients, --pipeline, --requests and --reps must be positive, --requests at least --clients")
	case c.maxBytes < 1<<20:
		return c, fmt.Errorf("--max-bytes %d: want at least 1 MiB", c.maxBytes)
	}
	return c, nil
}

func runNearCache(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	cfg, err := parseNearCache(args, stderr)
	if err != nil {
		return err
	}
	if cfg.out == "" {
		cfg.out = "/tmp/keyway-bench-nearcache-" + time.Now().Format("20060102-150405")
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	if cfg.proxyBin == "" {
		cfg.proxyBin = filepath.Join(repoRoot(), "bin", "keyway-proxy")
	}
	ps := &procs{dir: cfg.out}
	if cfg.pin {
		if path, err := exec.LookPath("taskset"); err == nil {
			ps.taskset = path
			_ = exec.Command(path, "-pc", cfg.loadCPUs, strconv.Itoa(os.Getpid())).Run()
		}
	}
	defer ps.stopAll()
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis-server not installed (scripts/deps.sh --bench): %w", err)
	}
	rs, err := startRedis(ctx, ps, redisBin, cfg.serverCPUs)
	if err != nil {
		return err
	}
	log.Info("filling redis", "keys", cfg.keys, "value_size", cfg.valueSize)
	if err := fill(rs.addr, cfg.keys, cfg.valueSize); err != nil {
		return err
	}
	policies := map[string]string{
		"plain": fmt.Sprintf("main = redis(\"main\", %q)\ndomain(\"default\", main)\n", rs.addr),
		"near_cache": fmt.Sprintf("main = redis(\"main\", %q)\ndomain(\"default\", near_cache(main, max_bytes = %d, prefixes = [\"key:\"], admit_reads = %d, admit_window = \"10s\", coalescing = %s, label = \"bench\"))\n",
			rs.addr, cfg.maxBytes, cfg.admit, map[bool]string{true: "True", false: "False"}[cfg.coalesce]),
	}
	cdf := zipfCDF(cfg.keys, cfg.zipf)
	var results []ncResult
	for _, setup := range cfg.setups {
		place := ncSetups[setup]
		redisCPUs, proxyCPUs := cfg.loadCPUs, cfg.loadCPUs
		if place.redisOnServer {
			redisCPUs = cfg.serverCPUs
		}
		if place.proxyOnServer {
			proxyCPUs = cfg.serverCPUs
		}
		if ps.taskset != "" {
			if out, err := exec.Command(ps.taskset, "-pc", redisCPUs, strconv.Itoa(rs.pid())).CombinedOutput(); err != nil {
				return fmt.Errorf("pin redis-server to CPUs %s: %w: %s", redisCPUs, err, out)
			}
		}
		for rep := range cfg.reps {
			order := []string{"plain", "near_cache"}
			if rep%2 == 1 {
				order[0], order[1] = order[1], order[0]
			}
			for _, name := range order {
				r, err := ncRun(ctx, cfg, ps, rs, name, policies[name], cdf, rep, proxyCPUs, log)
				if err != nil {
					return fmt.Errorf("%s, %s: %w", setup, name, err)
				}
				r.Setup = setup
				results = append(results, r)
			}
		}
	}
	data, _ := json.MarshalIndent(results, "", "  ")
	if err := os.WriteFile(filepath.Join(cfg.out, "nearcache.json"), data, 0o644); err != nil {
		return err
	}
	ncReport(stdout, cfg, results)
	return nil
}

// ncRun starts a proxy with policy, warms it up, measures, and stops it.
func ncRun(ctx context.Context, cfg ncConfig, ps *procs, rs *proc, name, policy string, cdf []float64, rep int, proxyCPUs string, log *slog.Logger) (ncResult, error) {
	path := filepath.Join(cfg.out, name+".star")
	if err := os.WriteFile(path, []byte(policy), 0o644); err != nil {
		return ncResult{}, err
	}
	port, err := freePort()
	if err != nil {
		return ncResult{}, err
	}
	admin, err := freePort()
	if err != nil {
		return ncResult{}, err
	}
	p, err := ps.start(fmt.Sprintf("keyway-proxy-%s-%d", name, rep), proxyCPUs, cfg.proxyBin,
		"--listen", "127.0.0.1:"+strconv.Itoa(port), "--policy", path,
		"--admin", "127.0.0.1:"+strconv.Itoa(admin), "--log-level", "warn")
	if err != nil {
		return ncResult{}, err
	}
	defer p.stop()
	p.addr = "127.0.0.1:" + strconv.Itoa(port)
	if err := waitPing(ctx, p); err != nil {
		return ncResult{}, err
	}
	metrics := "http://127.0.0.1:" + strconv.Itoa(admin) + "/metrics"
	log.Info("warming up", "target", name, "rep", rep, "requests", cfg.warmup)
	// Pipelined, whatever the measured load: a Zipf(0.99) tail keeps
	// bringing first reads for millions of requests, and the warm-up is
	// there to get the cache near its steady state, not to be measured.
	warm := cfg
	warm.pipeline = max(cfg.pipeline, 16)
	if _, err := ncLoad(ctx, p.addr, warm, cdf, cfg.warmup, 1000+uint64(rep)); err != nil {
		return ncResult{}, err
	}
	before, err := scrapeNearCache(metrics)
	if err != nil {
		return ncResult{}, err
	}
	calls0, err0 := commandStats(rs.addr)
	r0, err1 := cpuSeconds(rs.pid())
	p0, err2 := cpuSeconds(p.pid())
	if err := errors.Join(err0, err1, err2); err != nil {
		return ncResult{}, err
	}
	log.Info("measuring", "target", name, "rep", rep, "requests", cfg.requests)
	res, err := ncLoad(ctx, p.addr, cfg, cdf, cfg.requests, uint64(rep))
	if err != nil {
		return ncResult{}, err
	}
	r1, err1 := cpuSeconds(rs.pid())
	p1, err2 := cpuSeconds(p.pid())
	after, err3 := scrapeNearCache(metrics)
	calls1, err4 := commandStats(rs.addr)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return ncResult{}, err
	}
	secs := res.elapsed.Seconds()
	out := ncResult{
		Target: name, Rep: rep, Requests: res.requests, Errors: res.errors, Seconds: secs,
		OpsPerSec: float64(res.requests) / secs,
		P50Micros: float64(res.hist.quantile(0.50)) / 1e3, P99Micros: float64(res.hist.quantile(0.99)) / 1e3,
		RedisCPU: r1 - r0, RedisCores: (r1 - r0) / secs, RedisUsPerK: (r1 - r0) / float64(res.requests) * 1e6,
		ProxyCPU:  p1 - p0,
		Hits:      after["hits"] - before["hits"],
		Misses:    after["misses"] - before["misses"],
		Coalesced: after["coalesced"] - before["coalesced"],
	}
	for ev, v := range after {
		if v > before[ev] {
			if out.Events == nil {
				out.Events = map[string]uint64{}
			}
			out.Events[ev] = v - before[ev]
		}
	}
	if n := out.Hits + out.Misses; n > 0 {
		out.HitRatio = float64(out.Hits) / float64(n)
	}
	if out.RedisCPU > 0 {
		out.RedisBoundOps = float64(res.requests) / out.RedisCPU
	}
	out.RedisCalls = map[string]uint64{}
	var calls, usec uint64
	for cmd, c1 := range calls1 {
		c0 := calls0[cmd]
		// The two INFO calls themselves are not the load's.
		if cmd == "info" || c1.calls <= c0.calls {
			continue
		}
		out.RedisCalls[cmd] = c1.calls - c0.calls
		calls += c1.calls - c0.calls
		usec += c1.usec - c0.usec
	}
	out.RedisCallsPerOp = float64(calls) / float64(res.requests)
	out.RedisCmdUsPerOp = float64(usec) / float64(res.requests)
	if res.errors > 0 {
		return out, fmt.Errorf("%d error replies", res.errors)
	}
	return out, nil
}

// zipfCDF is the cumulative distribution of ranks 0..n-1 with weights
// 1/(rank+1)^s; rank i is key i, so the hottest keys are the first.
func zipfCDF(n int, s float64) []float64 {
	cdf := make([]float64, n)
	sum := 0.0
	for i := range n {
		sum += 1 / math.Pow(float64(i+1), s)
		cdf[i] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return cdf
}

func zipfKey(cdf []float64, rng *rand.Rand) int {
	return min(sort.SearchFloat64s(cdf, rng.Float64()), len(cdf)-1)
}

// ncLoad runs n requests over cfg.clients connections to addr.
func ncLoad(ctx context.Context, addr string, cfg ncConfig, cdf []float64, n int, seed uint64) (loadResult, error) {
	conns := make([]net.Conn, 0, cfg.clients)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	deadline := time.Now().Add(10 * time.Minute)
	for range cfg.clients {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return loadResult{}, fmt.Errorf("connect load client to %s: %w", addr, err)
		}
		_ = c.SetDeadline(deadline)
		conns = append(conns, c)
	}
	stop := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			_ = c.SetDeadline(time.Now())
		}
	})
	defer stop()
	value := make([]byte, cfg.valueSize)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	var left atomic.Int64
	left.Store(int64(n))
	hists := make([]hist, len(conns))
	done := make([]int, len(conns))
	bad := make([]int, len(conns))
	fails := make([]error, len(conns))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			<-gate
			done[i], bad[i], fails[i] = ncWork(c, cfg, cdf, &left, &hists[i], value, seed<<16|uint64(i))
		})
	}
	t0 := time.Now()
	close(gate)
	wg.Wait()
	res := loadResult{elapsed: time.Since(t0)}
	for i := range conns {
		res.hist.merge(&hists[i])
		res.requests += done[i]
		res.errors += bad[i]
	}
	return res, errors.Join(fails...)
}

// ncWork is one client: it claims cfg.pipeline requests at a time,
// writes them at once and reads every reply, recording the batch's
// latency for each.
func ncWork(c net.Conn, cfg ncConfig, cdf []float64, left *atomic.Int64, h *hist, value []byte, seed uint64) (done, bad int, err error) {
	rng := rand.New(rand.NewPCG(seed, 0x6e656172))
	r := bufio.NewReaderSize(c, 64<<10)
	var buf []byte
	reads := make([]bool, cfg.pipeline)
	for {
		n := int64(cfg.pipeline)
		if got := left.Add(-n); got < 0 {
			n += got
			if n <= 0 {
				return done, bad, nil
			}
		}
		buf = buf[:0]
		for i := range n {
			key := zipfKey(cdf, rng)
			reads[i] = rng.Float64() < cfg.reads
			if reads[i] {
				buf = append(buf, "*2\r\n$3\r\nGET\r\n$"...)
			} else {
				buf = append(buf, "*3\r\n$3\r\nSET\r\n$"...)
			}
			buf = strconv.AppendInt(buf, keyLen, 10)
			buf = append(buf, '\r', '\n')
			buf = appendKey(buf, key)
			buf = append(buf, '\r', '\n')
			if !reads[i] {
				buf = append(buf, '$')
				buf = strconv.AppendInt(buf, int64(len(value)), 10)
				buf = append(buf, '\r', '\n')
				buf = append(buf, value...)
				buf = append(buf, '\r', '\n')
			}
		}
		t0 := time.Now()
		if _, err := c.Write(buf); err != nil {
			return done, bad, fmt.Errorf("write: %w", err)
		}
		for i := range n {
			typ, size, err := readHeader(r)
			if err != nil {
				return done, bad, err
			}
			switch {
			case reads[i] && typ == '$' && size == len(value):
				if _, err := r.Discard(size + 2); err != nil {
					return done, bad, err
				}
			case !reads[i] && typ == '+':
			default:
				bad++
				if typ == '$' && size > 0 {
					_, _ = r.Discard(size + 2)
				}
			}
		}
		h.record(time.Since(t0), int(n))
		done += int(n)
	}
}

// scrapeNearCache reads the near cache's event counters from the proxy's
// /metrics: hits, misses, coalesced, fills and the rest, by event name.
func scrapeNearCache(url string) (map[string]uint64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "keyway_engine_events_total{") || !strings.Contains(line, `kind="near_cache"`) {
			continue
		}
		_, ev, ok := strings.Cut(line, `event="`)
		if !ok {
			continue
		}
		ev, _, _ = strings.Cut(ev, `"`)
		// The exposition format writes counters as floats, and from a
		// million on with an exponent (1.234567e+06).
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil || v < 0 {
			return nil, fmt.Errorf("scrape %s: counter line %q: want a non-negative number", url, line)
		}
		out[ev] += uint64(v)
	}
	return out, sc.Err()
}

// cmdStat is one command's line of INFO commandstats.
type cmdStat struct{ calls, usec uint64 }

// commandStats reads Redis's INFO commandstats: calls and microseconds
// per command, by lower-case name.
func commandStats(addr string) (map[string]cmdStat, error) {
	info, err := command(addr, "INFO", "commandstats")
	if err != nil {
		return nil, fmt.Errorf("INFO commandstats: %w", err)
	}
	return parseCommandStats(info)
}

func parseCommandStats(info string) (map[string]cmdStat, error) {
	out := map[string]cmdStat{}
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		name, fields, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var st cmdStat
		for _, f := range strings.Split(fields, ",") {
			k, v, _ := strings.Cut(f, "=")
			var err error
			switch k {
			case "calls":
				st.calls, err = strconv.ParseUint(v, 10, 64)
			case "usec":
				st.usec, err = strconv.ParseUint(v, 10, 64)
			}
			if err != nil {
				return nil, fmt.Errorf("INFO commandstats line %q: %w", line, err)
			}
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = st
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("INFO commandstats: no cmdstat_ lines in %q", info)
	}
	return out, nil
}

// ncReport prints each run and the medians' ratios.
func ncReport(w io.Writer, cfg ncConfig, rs []ncResult) {
	fmt.Fprintf(w, "\nnear cache: Zipf(%.2f) over %d keys, %.0f%% GET, %d clients, pipelines of %d, %d requests per run\n",
		cfg.zipf, cfg.keys, cfg.reads*100, cfg.clients, cfg.pipeline, cfg.requests)
	fmt.Fprintf(w, "near_cache: max_bytes %d, admit_reads %d in 10s, coalescing %v; load generator on CPUs %s, Redis on %s\n\n",
		cfg.maxBytes, cfg.admit, cfg.coalesce, cfg.loadCPUs, cfg.serverCPUs)
	fmt.Fprintf(w, "%-11s %-11s %3s %9s %8s %8s %7s %9s %9s %9s %10s %6s %9s\n", "SETUP", "TARGET", "REP", "OPS/S", "P50", "P99",
		"REDIS", "REDIS", "REDIS", "PROXY", "REDIS-", "HIT%", "COALESCED")
	fmt.Fprintf(w, "%-11s %-11s %3s %9s %8s %8s %7s %9s %9s %9s %10s %6s %9s\n", "", "", "", "", "", "",
		"CORES", "µs/op", "CMDS/OP", "µs/op", "BOUND OPS", "", "")
	for _, r := range rs {
		hit := "-"
		if r.Target == "near_cache" {
			hit = fmt.Sprintf("%.1f", r.HitRatio*100)
		}
		fmt.Fprintf(w, "%-11s %-11s %3d %9.0f %6.0fµs %6.0fµs %7.2f %9.2f %9.3f %9.2f %10.0f %6s %9d\n",
			r.Setup, r.Target, r.Rep, r.OpsPerSec, r.P50Micros, r.P99Micros, r.RedisCores, r.RedisUsPerK,
			r.RedisCallsPerOp, r.ProxyCPU/float64(max(r.Requests, 1))*1e6, r.RedisBoundOps, hit, r.Coalesced)
	}
	for _, setup := range cfg.setups {
		med := func(target string, f func(ncResult) float64) float64 {
			var v []float64
			for _, r := range rs {
				if r.Target == target && r.Setup == setup {
					v = append(v, f(r))
				}
			}
			return median(v)
		}
		ratio := func(f func(ncResult) float64) float64 {
			if p := med("plain", f); p > 0 {
				return med("near_cache", f) / p
			}
			return 0
		}
		fmt.Fprintf(w, "\n%s, near_cache / plain (medians): throughput %.2fx, p99 %.2fx, Redis CPU per request %.2fx, Redis commands per request %.2fx, Redis CPU %.2fx\n",
			setup, ratio(func(r ncResult) float64 { return r.OpsPerSec }), ratio(func(r ncResult) float64 { return r.P99Micros }),
			ratio(func(r ncResult) float64 { return r.RedisUsPerK }), ratio(func(r ncResult) float64 { return r.RedisCallsPerOp }),
			ratio(func(r ncResult) float64 { return r.RedisCores }))
		fmt.Fprintf(w, "%s, Redis-bound throughput (requests per Redis CPU second, derived, not measured at saturation): plain %.0f, near_cache %.0f, %.2fx\n",
			setup, med("plain", func(r ncResult) float64 { return r.RedisBoundOps }), med("near_cache", func(r ncResult) float64 { return r.RedisBoundOps }),
			ratio(func(r ncResult) float64 { return r.RedisBoundOps }))
	}
	fmt.Fprintf(w, "results: %s\n", filepath.Join(cfg.out, "nearcache.json"))
}
