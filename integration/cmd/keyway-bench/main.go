// Command keyway-bench compares keyway-proxy with direct redis-server and
// with twemproxy in one run on loopback, and prints ratios and the
// proxy's CPU per request. It starts every server itself on free
// 127.0.0.1 ports, pins the load generator and the servers to separate
// CPUs when taskset is available, and stops what it started when done.
//
// Workloads: W0 GET with one client, unpipelined (the hop's latency); W1
// GET and SET with 50 clients, unpipelined; W2 the same with pipelines of
// 16; W3 MGET of 10 keys; W5 100 KB values; W4 5,000 connections opened
// at once and held, counting the upstream connections redis sees and the
// proxy's memory per idle connection.
//
// Cluster workloads run against a 3-primary Redis Cluster the benchmark
// starts, comparing keyway-proxy (a --policy with one redis_cluster
// upstream, reached with go-redis's plain Client) with go-redis's
// ClusterClient talking to the nodes itself: C1 MGET of 10 keys across
// slots (a pipeline of 10 GETs on ClusterClient, which does not split
// MGET), C2 pipelines of 16 GETs or SETs across slots, C3 single GET and
// SET, all with 50 clients.
//
// `keyway-bench xds` measures the control plane instead: it starts
// keyway-control, connects simulated proxies speaking raw ADS, pushes,
// and prints the push to all-ACK latency, the control plane's CPU per
// push and memory per proxy, and the etcd writes of each (fleet.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config is everything the flags set.
type config struct {
	resp3          bool
	proxyBin       string
	proxyArgs      string
	targets        []string
	clusterTargets []string
	workloads      []string
	reps           int
	scale          float64
	clients        int
	pipeline       int
	mgetKeys       int
	keys           int
	valueSize      int
	bigSize        int
	bigKeys        int
	stormConns     int
	stormGets      int
	out            string
	pin            bool
	loadCPUs       string
	serverCPUs     string
	timeout        time.Duration
	noiseMax       float64
	noiseRetries   int
	profileDir     string
	profileFor     time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	var targets, clusterTargets, workloads string
	var quick bool
	var noisePct float64
	fs := flag.NewFlagSet("keyway-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.proxyBin, "proxy-bin", "", "keyway-proxy binary (default: bin/keyway-proxy of the checkout)")
	fs.StringVar(&cfg.proxyArgs, "proxy-args", "", "extra flags for keyway-proxy, space separated")
	fs.StringVar(&targets, "targets", "direct,twemproxy,keyway", "targets to compare: direct, twemproxy, keyway")
	fs.StringVar(&clusterTargets, "cluster-targets", clusterClient+","+keyway, "targets of the cluster workloads: clusterclient (go-redis ClusterClient to the nodes), keyway")
	fs.StringVar(&workloads, "workloads", "W0,W1,W2,W3,W5,W4,C1,C2,C3", "workloads to run, in order (C1-C3 run on a Redis Cluster)")
	fs.IntVar(&cfg.reps, "reps", 3, "repetitions; the target order rotates each one")
	fs.Float64Var(&cfg.scale, "scale", 1, "multiplies every request count")
	fs.BoolVar(&quick, "quick", false, "a smoke run of about a minute: --scale 0.1 --reps 1 --storm-conns 1000 unless set")
	fs.BoolVar(&cfg.resp3, "resp3", false, "load clients speak RESP3 (HELLO 3 first); twemproxy does not, so pair it with --targets direct,keyway")
	fs.IntVar(&cfg.clients, "clients", 50, "client connections of W1, W2, W3 and W5")
	fs.IntVar(&cfg.pipeline, "pipeline", 16, "pipeline depth of W2")
	fs.IntVar(&cfg.mgetKeys, "mget-keys", 10, "keys per MGET in W3")
	fs.IntVar(&cfg.keys, "keys", 100_000, "keys in the small data set")
	fs.IntVar(&cfg.valueSize, "value-size", 64, "value size of the small data set, in bytes")
	fs.IntVar(&cfg.bigSize, "big-size", 100<<10, "value size of W5, in bytes")
	fs.IntVar(&cfg.bigKeys, "big-keys", 1000, "keys of W5")
	fs.IntVar(&cfg.stormConns, "storm-conns", 5000, "connections W4 opens at once")
	fs.IntVar(&cfg.stormGets, "storm-gets", 3, "GETs each W4 connection sends before it idles")
	fs.StringVar(&cfg.out, "out", "", "results directory (default: a new /tmp/keyway-bench-DATE)")
	noPin := fs.Bool("no-pin", false, "do not pin processes to CPUs")
	fs.StringVar(&cfg.loadCPUs, "load-cpus", "0", "CPUs of the load generator (taskset list)")
	fs.StringVar(&cfg.serverCPUs, "server-cpus", "1", "CPUs redis-server and the proxy under test share")
	fs.DurationVar(&cfg.timeout, "timeout", 5*time.Minute, "bound on one load run")
	fs.Float64Var(&noisePct, "noise-max", 30, "re-run a test once when other processes used more than this % of a CPU")
	fs.IntVar(&cfg.noiseRetries, "noise-retries", 1, "re-runs of a noisy test")
	fs.StringVar(&cfg.profileDir, "profile", "", "after the run, write CPU profiles of keyway-proxy under W1 GET, W2 GET and W5 SET to this directory (the proxy must serve /debug/pprof; see --proxy-args)")
	fs.DurationVar(&cfg.profileFor, "profile-seconds", 10*time.Second, "length of each CPU profile")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if quick {
		if !set["scale"] {
			cfg.scale = 0.1
		}
		if !set["reps"] {
			cfg.reps = 1
		}
		if !set["storm-conns"] {
			cfg.stormConns = 1000
		}
	}
	cfg.pin = !*noPin
	cfg.noiseMax = noisePct / 100
	cfg.targets = splitList(targets)
	cfg.workloads = splitList(workloads)
	cfg.clusterTargets = splitList(clusterTargets)
	for _, t := range cfg.clusterTargets {
		if t != clusterClient && t != keyway {
			return cfg, fmt.Errorf("--cluster-targets: unknown target %q", t)
		}
	}
	for _, t := range cfg.targets {
		if t != direct && t != twemproxy && t != keyway {
			return cfg, fmt.Errorf("--targets: unknown target %q", t)
		}
	}
	for _, w := range cfg.workloads {
		if _, ok := workloadTests[w]; !ok {
			return cfg, fmt.Errorf("--workloads: unknown workload %q", w)
		}
	}
	if cfg.reps < 1 || cfg.scale <= 0 || cfg.clients < 1 || cfg.pipeline < 1 || cfg.keys < 1 || cfg.bigKeys < 1 {
		return cfg, errors.New("--reps, --scale, --clients, --pipeline, --keys and --big-keys must be positive")
	}
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, strings.TrimSpace(f))
	}
	return out
}

// pinnedEnv marks the re-executed, pinned copy of the benchmark.
const pinnedEnv = "KEYWAY_BENCH_PINNED"

// pinSelf re-executes the benchmark under taskset on the load CPUs, so
// that the load generator (this process) and the servers never share a
// core. It returns only when it did not re-execute.
func pinSelf(cfg config) (tasksetPath string) {
	if !cfg.pin {
		return ""
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return ""
	}
	if os.Getenv(pinnedEnv) != "" {
		return ts
	}
	self, err := os.Executable()
	if err != nil {
		return ts
	}
	argv := append([]string{"taskset", "-c", cfg.loadCPUs, self}, os.Args[1:]...)
	env := append(os.Environ(), pinnedEnv+"=1")
	if err := syscall.Exec(ts, argv, env); err != nil {
		return ts // run unpinned rather than not at all
	}
	return ts
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "xds" {
		mainFleet(os.Args[2:])
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "nearcache" {
		mainNearCache(os.Args[2:])
		return
	}
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyway-bench:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	taskset := pinSelf(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, taskset, log); err != nil {
		log.Error("keyway-bench failed", "err", err)
		stop()
		os.Exit(1)
	}
}

// repoRoot is the directory holding go.work above the working directory,
// or "" outside a checkout.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
