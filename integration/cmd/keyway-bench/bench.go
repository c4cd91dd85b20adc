package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// workloadTests are the tests of each workload, in the order they run.
var workloadTests = map[string][]string{
	"W0": {"GET"},
	"W1": {"GET", "SET"},
	"W2": {"GET", "SET"},
	"W3": {"MGET"},
	"W5": {"GET", "SET"},
	"W4": {"storm"},
	"C1": {"MGET"},
	"C2": {"GET", "SET"},
	"C3": {"GET", "SET"},
}

// bench is one run: the servers it started and what it measured.
type bench struct {
	cfg     config
	log     *slog.Logger
	ps      *procs
	redis   *proc
	targets []target
	admin   string // keyway-proxy's admin address
	dataset string
	records []*record

	// The cluster workloads' servers, started when the first runs.
	cluster        *redisCluster
	clusterTargets []clusterTarget
	keySet         keySet
	closers        []func() error // go-redis clients, closed before the servers stop
}

// requests scales a base request count, never below 1,000.
func (b *bench) requests(base int) int {
	return max(1000, int(float64(base)*b.cfg.scale))
}

// spec is the load of one test of a workload.
func (b *bench) spec(wl, test string) loadSpec {
	s := loadSpec{cmd: test, clients: b.cfg.clients, pipeline: 1, keys: b.cfg.keys,
		valueSize: b.cfg.valueSize, mgetKeys: b.cfg.mgetKeys, timeout: b.cfg.timeout, resp3: b.cfg.resp3}
	switch wl {
	case "W0":
		s.clients, s.requests = 1, b.requests(20_000)
	case "W1":
		s.requests = b.requests(200_000)
	case "W2":
		s.pipeline, s.requests = b.cfg.pipeline, b.requests(1_000_000)
	case "W3":
		s.requests = b.requests(150_000)
	case "W5":
		s.keys, s.valueSize, s.requests = b.cfg.bigKeys, b.cfg.bigSize, b.requests(20_000)
	}
	return s
}

// useDataset fills redis with the data set a workload reads, unless it
// holds it already.
func (b *bench) useDataset(wl string) error {
	want, keys, size := "small", b.cfg.keys, b.cfg.valueSize
	if wl == "W5" {
		want, keys, size = "big", b.cfg.bigKeys, b.cfg.bigSize
	}
	if b.dataset == want {
		return nil
	}
	b.log.Info("filling redis", "dataset", want, "keys", keys, "value_size", size)
	if err := fill(b.redis.addr, keys, size); err != nil {
		return err
	}
	b.dataset = want
	return nil
}

// run starts everything, runs every workload on every target, prints the
// tables and writes results.json.
func run(ctx context.Context, cfg config, taskset string, log *slog.Logger) error {
	out := cfg.out
	if out == "" {
		out = filepath.Join(os.TempDir(), "keyway-bench-"+time.Now().Format("20060102-150405"))
	}
	dir := filepath.Join(out, "run")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	b := &bench{cfg: cfg, log: log, ps: &procs{dir: dir, taskset: taskset}}
	defer b.ps.stopAll()
	defer func() {
		for _, c := range b.closers {
			_ = c()
		}
	}()

	for _, wl := range cfg.workloads {
		if isCluster(wl) {
			if err := b.runClusterWorkload(ctx, wl); err != nil {
				return err
			}
			continue
		}
		if err := b.ensureStandalone(ctx, out); err != nil {
			return err
		}
		if err := b.useDataset(wl); err != nil {
			return err
		}
		for _, test := range workloadTests[wl] {
			for rep := range cfg.reps {
				for _, tg := range rotate(b.targets, rep) {
					if err := ctx.Err(); err != nil {
						return fmt.Errorf("interrupted: %w", err)
					}
					r, err := b.runTest(ctx, wl, test, tg, rep+1)
					if err != nil {
						return err
					}
					b.records = append(b.records, r)
					b.progress(r)
				}
			}
		}
	}
	sums := summarize(b.records, b.rowOrder())
	fmt.Println()
	printTables(os.Stdout, sums)
	fmt.Println()
	headline(os.Stdout, sums)
	path := filepath.Join(out, "results.json")
	if err := writeResults(path, b, sums); err != nil {
		return err
	}
	fmt.Printf("\nresults: %s\n", path)
	if cfg.profileDir != "" {
		if err := b.ensureStandalone(ctx, out); err != nil {
			return err
		}
		return b.profile(ctx)
	}
	return nil
}

// ensureStandalone starts the standalone workloads' servers unless they
// run already.
func (b *bench) ensureStandalone(ctx context.Context, out string) error {
	if b.redis != nil {
		return nil
	}
	if err := b.startAll(ctx); err != nil {
		return err
	}
	b.log.Info("servers up", "redis", b.redis.addr, "targets", b.names(), "pinned", b.ps.taskset != "", "out", out)
	return nil
}

// startAll starts redis-server and every target, and leaves out a target
// that fails the smoke test.
func (b *bench) startAll(ctx context.Context) error {
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis-server not installed (scripts/deps.sh --bench): %w", err)
	}
	if b.redis, err = startRedis(ctx, b.ps, redisBin, b.cfg.serverCPUs); err != nil {
		return err
	}
	for _, name := range b.cfg.targets {
		tg, err := b.startTarget(ctx, name)
		if err != nil {
			return err
		}
		if err := smoke(tg, b.redis.addr); err != nil {
			b.log.Warn("target failed the SET/GET/MGET smoke test; left out", "target", name, "err", err)
			continue
		}
		b.targets = append(b.targets, tg)
	}
	if len(b.targets) == 0 {
		return errors.New("no usable target")
	}
	return nil
}

func (b *bench) startTarget(ctx context.Context, name string) (target, error) {
	if name == direct {
		return target{name: direct, addr: b.redis.addr}, nil
	}
	port, err := freePort()
	if err != nil {
		return target{}, err
	}
	aux, err := freePort() // twemproxy's stats port, keyway-proxy's admin port
	if err != nil {
		return target{}, err
	}
	var start func(ctx context.Context) (*proc, error)
	switch name {
	case twemproxy:
		bin, err := lookSbin("nutcracker")
		if err != nil {
			return target{}, fmt.Errorf("nutcracker (twemproxy) not installed (scripts/deps.sh --bench): %w", err)
		}
		start = func(ctx context.Context) (*proc, error) {
			return startTwemproxy(ctx, b.ps, bin, b.cfg.serverCPUs, b.redis.addr, port, aux)
		}
	case keyway:
		bin := b.cfg.proxyBin
		if bin == "" {
			bin = filepath.Join(repoRoot(), "bin", "keyway-proxy")
		}
		if _, err := os.Stat(bin); err != nil {
			return target{}, fmt.Errorf("keyway-proxy binary (make build): %w", err)
		}
		b.admin = "127.0.0.1:" + strconv.Itoa(aux)
		start = func(ctx context.Context) (*proc, error) {
			return startKeyway(ctx, b.ps, bin, b.cfg.serverCPUs, b.redis.addr, port, aux, strings.Fields(b.cfg.proxyArgs))
		}
	}
	p, err := start(ctx)
	if err != nil {
		return target{}, err
	}
	tg := target{name: name, addr: p.addr, pid: p.pid()}
	tg.restart = func(ctx context.Context) (int, error) {
		p.stop()
		if p, err = start(ctx); err != nil {
			return 0, err
		}
		return p.pid(), nil
	}
	return tg, nil
}

// lookSbin finds a program on PATH or in the sbin directories where
// Debian installs daemons such as nutcracker.
func lookSbin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

// rowOrder is the order of the targets in the tables: the cluster
// baseline first (it has rows only in cluster workloads), then every
// other target once.
func (b *bench) rowOrder() []string {
	out := []string{clusterClient}
	for _, n := range append(b.names(), b.clusterNames()...) {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func (b *bench) names() []string {
	n := make([]string, len(b.targets))
	for i, t := range b.targets {
		n[i] = t.name
	}
	return n
}

// rotate starts the order at a different target each repetition, so no
// target always runs first (on a warm or a cold machine).
func rotate(ts []target, rep int) []target {
	k := rep % len(ts)
	return append(slices.Clone(ts[k:]), ts[:k]...)
}

func (b *bench) runTest(ctx context.Context, wl, test string, tg target, rep int) (*record, error) {
	if wl == "W4" {
		// A fresh proxy, so memory an earlier workload left in its heap
		// does not hide what the idle crowd costs.
		if tg.restart != nil {
			pid, err := tg.restart(ctx)
			if err != nil {
				return nil, fmt.Errorf("restart %s before W4: %w", tg.name, err)
			}
			tg.pid = pid
			for i := range b.targets {
				if b.targets[i].name == tg.name {
					b.targets[i].pid = pid
				}
			}
		}
		memPID := tg.pid
		if memPID == 0 {
			memPID = b.redis.pid()
		}
		spec := stormSpec{conns: b.cfg.stormConns, gets: b.cfg.stormGets, keys: b.cfg.keys, active: b.spec("W1", "GET")}
		spec.active.requests = b.requests(20_000)
		r, err := b.measure(ctx, wl, test, tg, rep, []int{b.redis.pid()}, func() (*record, error) {
			st, err := runStorm(ctx, tg, b.redis.addr, memPID, spec)
			if err != nil {
				return nil, err
			}
			return &record{Requests: st.OK * spec.gets, Errors: st.Failed, Storm: &st}, nil
		})
		// Let the closed sockets leave before the next target's storm.
		time.Sleep(time.Second)
		return r, err
	}
	spec := b.spec(wl, test)
	return b.measure(ctx, wl, test, tg, rep, []int{b.redis.pid()}, func() (*record, error) {
		res, err := runLoad(ctx, tg.addr, spec)
		if err != nil {
			return nil, err
		}
		return loadRecord(res), nil
	})
}

func (b *bench) progress(r *record) {
	attrs := []any{"wl", r.Workload, "test", r.Test, "target", r.Target, "rep", r.Rep,
		"other_cpu_pct", int(r.otherShare() * 100)}
	if st := r.Storm; st != nil {
		attrs = append(attrs, "ok", st.OK, "failed", st.Failed, "open_s", fmt.Sprintf("%.2f", st.OpenSeconds),
			"upstream_conns", st.UpstreamConns, "kb_per_conn", fmt.Sprintf("%.1f", st.KBPerConn))
	} else {
		attrs = append(attrs, "ops", int(r.Ops), "p50_us", int(r.P50Us), "p99_us", int(r.P99Us), "errors", r.Errors)
		if r.Requests > 0 && r.Target != direct && r.Target != clusterClient {
			attrs = append(attrs, "proxy_cpu_us_per_req", fmt.Sprintf("%.2f", r.ProxyCPUS*1e6/float64(r.Requests)))
		}
	}
	b.log.Info("test done", attrs...)
}

// results is results.json.
type results struct {
	Env     map[string]string `json:"env"`
	Records []*record         `json:"records"`
	Summary []summary         `json:"summary"`
}

func writeResults(path string, b *bench, sums []summary) error {
	env := map[string]string{
		"date":      time.Now().UTC().Format(time.RFC3339),
		"go":        runtime.Version(),
		"cpus":      fmt.Sprint(machineCPUs()),
		"pinned":    fmt.Sprint(b.ps.taskset != ""),
		"load_cpus": b.cfg.loadCPUs, "server_cpus": b.cfg.serverCPUs,
		"reps": fmt.Sprint(b.cfg.reps), "scale": fmt.Sprint(b.cfg.scale),
		"clients": fmt.Sprint(b.cfg.clients), "pipeline": fmt.Sprint(b.cfg.pipeline),
		"storm_conns": fmt.Sprint(b.cfg.stormConns),
	}
	if host, err := os.Hostname(); err == nil {
		env["host"] = host
	}
	if v, err := exec.Command("redis-server", "--version").Output(); err == nil {
		env["redis"] = strings.TrimSpace(string(v))
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	enc := json.NewEncoder(f)
	enc.SetIndent("", "  ")
	if err := enc.Encode(results{Env: env, Records: b.records, Summary: sums}); err != nil {
		_ = f.Close()
		return fmt.Errorf("write results: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

// machineCPUs counts the machine's CPUs; runtime.NumCPU would count only
// those the pinned benchmark may use.
func machineCPUs() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.NumCPU()
	}
	return strings.Count(string(b), "\nprocessor") + strings.Count(string(b[:min(len(b), 9)]), "processor")
}
