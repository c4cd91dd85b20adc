package main

// `keyway-bench nearcache` measures the near cache (docs/near-cache.md):
// one redis-server, and keyway-proxy in front of it twice, once with a
// policy that forwards and once with a near_cache, under the same load:
// keys drawn from a Zipf(s) distribution over a large key space, a share
// of them read (GET) and the rest written (SET), unpipelined clients. It
// prints throughput, p50/p99 latency, Redis's CPU per request and in
// cores, and the near cache's hit ratio and coalesced requests from the
// proxy's /metrics, and the ratios near cache / plain.

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
}

// ncResult is one measured run of one target.
type ncResult struct {
	Target      string  `json:"target"`
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
	fs.IntVar(&c.warmup, "warmup", 100_000, "requests before each measurement (fills the near cache)")
	fs.IntVar(&c.valueSize, "value-size", 64, "value size, in bytes")
	fs.IntVar(&c.maxBytes, "max-bytes", 256<<20, "the near cache's max_bytes")
	fs.IntVar(&c.admit, "admit-reads", 2, "the near cache's admit_reads (within 10s)")
	fs.BoolVar(&c.coalesce, "coalescing", true, "the near cache's coalescing")
	fs.IntVar(&c.reps, "reps", 2, "repetitions; the target order alternates")
	fs.StringVar(&c.out, "out", "", "results directory (default: a new /tmp/keyway-bench-nearcache-DATE)")
	noPin := fs.Bool("no-pin", false, "do not pin processes to CPUs")
	fs.StringVar(&c.loadCPUs, "load-cpus", "0", "CPUs of the load generator (taskset list)")
	fs.StringVar(&c.serverCPUs, "server-cpus", "1", "CPUs redis-server and the proxy share")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.pin = !*noPin
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
	for rep := range cfg.reps {
		order := []string{"plain", "near_cache"}
		if rep%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, name := range order {
			r, err := ncRun(ctx, cfg, ps, rs, name, policies[name], cdf, rep, log)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			results = append(results, r)
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
func ncRun(ctx context.Context, cfg ncConfig, ps *procs, rs *proc, name, policy string, cdf []float64, rep int, log *slog.Logger) (ncResult, error) {
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
	p, err := ps.start(fmt.Sprintf("keyway-proxy-%s-%d", name, rep), cfg.serverCPUs, cfg.proxyBin,
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
	if _, err := ncLoad(ctx, p.addr, cfg, cdf, cfg.warmup, 1000+uint64(rep)); err != nil {
		return ncResult{}, err
	}
	before, err := scrapeNearCache(metrics)
	if err != nil {
		return ncResult{}, err
	}
	r0, err1 := cpuSeconds(rs.pid())
	p0, err2 := cpuSeconds(p.pid())
	if err := errors.Join(err1, err2); err != nil {
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
	if err := errors.Join(err1, err2, err3); err != nil {
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
	if n := out.Hits + out.Misses; n > 0 {
		out.HitRatio = float64(out.Hits) / float64(n)
	}
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

// scrapeNearCache reads the near cache's events from the proxy's
// /metrics: hits, misses, coalesced.
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
		for _, ev := range []string{"hits", "misses", "coalesced"} {
			if strings.Contains(line, `event="`+ev+`"`) {
				f := strings.Fields(line)
				v, err := strconv.ParseUint(f[len(f)-1], 10, 64)
				if err == nil {
					out[ev] += v
				}
			}
		}
	}
	return out, sc.Err()
}

// ncReport prints each run and the medians' ratios.
func ncReport(w io.Writer, cfg ncConfig, rs []ncResult) {
	fmt.Fprintf(w, "\nnear cache: Zipf(%.2f) over %d keys, %.0f%% GET, %d clients, pipelines of %d, %d requests per run\n\n",
		cfg.zipf, cfg.keys, cfg.reads*100, cfg.clients, cfg.pipeline, cfg.requests)
	fmt.Fprintf(w, "%-11s %3s %10s %9s %9s %11s %11s %9s %9s\n", "TARGET", "REP", "OPS/S", "P50", "P99", "REDIS CPU", "REDIS µs/op", "HIT%", "COALESCED")
	for _, r := range rs {
		hit := "-"
		if r.Target == "near_cache" {
			hit = fmt.Sprintf("%.1f", r.HitRatio*100)
		}
		fmt.Fprintf(w, "%-11s %3d %10.0f %7.0fµs %7.0fµs %9.2f c %11.2f %9s %9d\n",
			r.Target, r.Rep, r.OpsPerSec, r.P50Micros, r.P99Micros, r.RedisCores, r.RedisUsPerK, hit, r.Coalesced)
	}
	med := func(target string, f func(ncResult) float64) float64 {
		var v []float64
		for _, r := range rs {
			if r.Target == target {
				v = append(v, f(r))
			}
		}
		sort.Float64s(v)
		switch {
		case len(v) == 0:
			return 0
		case len(v)%2 == 0:
			return (v[len(v)/2-1] + v[len(v)/2]) / 2
		}
		return v[len(v)/2]
	}
	ops := func(r ncResult) float64 { return r.OpsPerSec }
	cpu := func(r ncResult) float64 { return r.RedisUsPerK }
	cores := func(r ncResult) float64 { return r.RedisCores }
	p99 := func(r ncResult) float64 { return r.P99Micros }
	fmt.Fprintf(w, "\nnear_cache / plain (medians): throughput %.2fx, p99 %.2fx, Redis CPU per request %.2fx, Redis CPU %.2fx\n",
		med("near_cache", ops)/med("plain", ops), med("near_cache", p99)/med("plain", p99),
		med("near_cache", cpu)/med("plain", cpu), med("near_cache", cores)/med("plain", cores))
	fmt.Fprintf(w, "results: %s\n", filepath.Join(cfg.out, "nearcache.json"))
}
