package main

// keyway-bench xds: one keyway-control, N simulated proxies speaking raw
// ADS the way dataplane/xdsclient does (xdstest.Sim), pushes, and what
// they cost.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	"keyway.dev/controlplane/store"
	"keyway.dev/controlplane/xds/xdstest"
	"keyway.dev/dataplane/xdsclient"
	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// fleetConfig is what `keyway-bench xds` flags set.
type fleetConfig struct {
	controlBin string
	proxies    int
	conns      int
	pushes     int
	domains    int
	timeout    time.Duration
	out        string
	restart    string
	replicas   int
	legacy     bool
}

func parseFleetFlags(args []string, stderr io.Writer) (fleetConfig, error) {
	var cfg fleetConfig
	fs := flag.NewFlagSet("keyway-bench xds", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.controlBin, "control-bin", "", "keyway-control binary (default: bin/keyway-control of the checkout)")
	fs.IntVar(&cfg.proxies, "proxies", 1000, "simulated proxies")
	fs.IntVar(&cfg.conns, "conns", 0, "gRPC connections the proxies share; 0 gives each proxy its own, as real ones have")
	fs.IntVar(&cfg.pushes, "pushes", 5, "policy pushes measured after the fleet is connected")
	fs.IntVar(&cfg.domains, "domains", 3, "workload domains of the pushed policy")
	fs.DurationVar(&cfg.timeout, "timeout", 2*time.Minute, "bound on each phase (connect, each push)")
	fs.StringVar(&cfg.restart, "restart", "", "after the pushes, stop keyway-control with SIGTERM (term) or SIGKILL (kill), start it again and time until every proxy is back")
	fs.IntVar(&cfg.replicas, "replicas", 1, "keyway-control replicas sharing the benchmark's etcd; proxy i connects to replica i mod N, pushes go to the first")
	fs.BoolVar(&cfg.legacy, "legacy", false, "simulate proxies from before ProxyConfig pairing by content: every push resends ProxyConfig")
	fs.StringVar(&cfg.out, "out", "", "directory for keyway-control's log and data (default: a new temporary one)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if cfg.proxies < 1 || cfg.pushes < 1 || cfg.domains < 1 || cfg.conns < 0 || cfg.replicas < 1 {
		return cfg, errors.New("--proxies, --pushes, --domains and --replicas must be positive, --conns not negative")
	}
	if cfg.restart != "" && cfg.replicas > 1 {
		return cfg, errors.New("--restart restarts the one replica: use it with --replicas 1")
	}
	if cfg.restart != "" && cfg.restart != "term" && cfg.restart != "kill" {
		return cfg, fmt.Errorf("--restart: %q is neither term nor kill", cfg.restart)
	}
	if cfg.controlBin == "" {
		cfg.controlBin = filepath.Join(repoRoot(), "bin", "keyway-control")
	}
	return cfg, nil
}

// runFleet is `keyway-bench xds`.
func runFleet(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	cfg, err := parseFleetFlags(args, stderr)
	if err != nil {
		return err
	}
	raiseFileLimit(log)
	dir := cfg.out
	if dir == "" {
		if dir, err = os.MkdirTemp("", "keyway-bench-xds-"); err != nil {
			return err
		}
	}
	// etcd's data is the run's bulk (hundreds of MB at 10,000 proxies)
	// and of no use afterwards; deferred first, it goes after etcd stops.
	defer os.RemoveAll(filepath.Join(dir, "etcd"))
	// etcd runs in this process, so the benchmark can count every write
	// keyway-control makes; keyway-control reaches it by its socket, as
	// it would an external cluster.
	etcd, err := store.StartEmbedded(filepath.Join(dir, "etcd"))
	if err != nil {
		return err
	}
	defer etcd.Close()
	ps := &procs{dir: dir}
	defer ps.stopAll()
	var addrs []string
	var argv []string
	var cps []*proc
	for r := range cfg.replicas {
		port, err := freePort()
		if err != nil {
			return err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		name := "keyway-control"
		if r > 0 {
			name = fmt.Sprintf("keyway-control-%d", r+1)
		}
		argv = []string{cfg.controlBin, "--listen", addr,
			"--etcd-endpoints", strings.Join(etcd.Endpoints(), ","), "--data-dir", filepath.Join(dir, name), "--log-level", "warn"}
		cp, err := ps.start(name, "", argv...)
		if err != nil {
			return err
		}
		addrs, cps = append(addrs, addr), append(cps, cp)
	}
	f := &fleet{cfg: cfg, cp: cps[0], cps: cps, addr: addrs[0], etcd: etcd.Client(), log: log, restart: func() (*proc, error) {
		return ps.start("keyway-control-restarted", "", argv...)
	}}
	if err := f.run(ctx, addrs); err != nil {
		return fmt.Errorf("%w (keyway-control's log: %s)", err, filepath.Join(dir, "keyway-control*.log"))
	}
	f.report(stdout)
	return nil
}

// raiseFileLimit lifts the soft limit on open files to the hard one, for
// this process and keyway-control, which inherits it: each simulated
// proxy holds a socket on both sides.
func raiseFileLimit(log *slog.Logger) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		log.Warn("cannot raise the open files limit", "err", err)
	}
}

// fleet is one run.
type fleet struct {
	cfg     fleetConfig
	cp      *proc   // the replica pushes go to, and --restart restarts
	cps     []*proc // every replica, cp first
	addr    string  // where cp listens
	etcd    *clientv3.Client
	log     *slog.Logger
	restart func() (*proc, error)

	sims    []*xdstest.Sim
	index   map[*xdstest.Sim]int
	acks    []simAcks
	target  atomic.Pointer[string] // version prefix a phase waits for, "v3-"
	types   []string               // types a phase waits for
	reached atomic.Int64
	allIn   chan struct{}

	status *statusCounter

	// results
	connect   phase
	pushes    []phase
	rssBefore int64
	rssAfter  int64
	back      time.Duration // after --restart, until every proxy was back
	stopped   time.Duration // how long the stop took
	timeline  restartTimeline
}

// restartTimeline is when, after the restarted keyway-control's start,
// it answered health checks and how many proxies had a stream to it and
// were recorded back in etcd: where a slow recovery spends its time.
type restartTimeline struct {
	healthy          time.Duration
	streams, records [3]time.Duration // half, 99 %, all
}

// simAcks is when one sim ACKed the phase's target on every type.
type simAcks struct {
	mu  sync.Mutex
	ver map[string]string
	at  time.Time
}

// phase is one measured step: connecting the fleet or one push.
type phase struct {
	lat        []time.Duration // per sim, sorted
	all        time.Duration   // until the last sim ACKed
	settled    time.Duration   // until etcd held every sim's new status
	cpu        float64         // keyway-control CPU seconds over the phase
	puts, txns int             // status writes over the phase
	revs       int64           // every etcd revision over the phase
}

func (f *fleet) run(ctx context.Context, addrs []string) error {
	var pol keywayv1.PolicyServiceClient
	for i, addr := range addrs {
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer cc.Close()
		if err := f.waitHealthy(ctx, cc, f.cps[i]); err != nil {
			return err
		}
		if i == 0 {
			pol = keywayv1.NewPolicyServiceClient(cc)
		}
	}
	parent, err := f.push(ctx, pol, 0, 0)
	if err != nil {
		return err
	}
	f.status = watchStatus(ctx, f.etcd)
	if f.rssBefore, err = f.rss(); err != nil {
		return err
	}

	// Connect: every sim at once, each waiting for all three types.
	n := f.cfg.proxies
	f.index = make(map[*xdstest.Sim]int, n)
	f.acks = make([]simAcks, n)
	for i := range n {
		s := &xdstest.Sim{ID: fmt.Sprintf("sim-%05d", i), Listeners: fmt.Sprintf("10.%d.%d.%d:6380", i>>16&255, i>>8&255, i&255), OnAck: f.onAck, OnClaim: f.onAck, Legacy: f.cfg.legacy}
		f.sims = append(f.sims, s)
		f.index[s] = i
		f.acks[i].ver = map[string]string{}
	}
	conns, err := f.dial(addrs)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	simCtx, stopSims := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopSims(); wg.Wait() }()
	version := fmt.Sprintf("v%d-", parent)
	f.arm(version, xdstest.TypeURLs)
	start := phaseStart(f)
	for i, s := range f.sims {
		c := conns[i%len(conns)]
		wg.Go(func() { s.Run(simCtx, c) })
	}
	if f.connect, err = f.finish(ctx, "connect", start, version); err != nil {
		return err
	}
	if f.rssAfter, err = f.rss(); err != nil {
		return err
	}

	// Pushes: a new version each, waiting for what changed: the Domains,
	// and the ProxyConfig for proxies that do not pair it by content.
	for k := range f.cfg.pushes {
		version := fmt.Sprintf("v%d-", parent+1)
		f.arm(version, []string{snapshot.DomainType, snapshot.ProxyConfigType})
		start := phaseStart(f)
		if parent, err = f.push(ctx, pol, parent, k+1); err != nil {
			return err
		}
		p, err := f.finish(ctx, fmt.Sprintf("push %d", k+1), start, version)
		if err != nil {
			return err
		}
		f.pushes = append(f.pushes, p)
		f.log.Info("push", "n", k+1, "all_acked", p.all.Round(time.Millisecond), "p99", pct(p.lat, 99).Round(time.Millisecond), "cpu_s", fmt.Sprintf("%.2f", p.cpu), "status_puts", p.puts)
	}
	if f.cfg.restart != "" {
		return f.restartStorm(ctx, fmt.Sprintf("v%d-", parent))
	}
	return nil
}

// restartStorm stops keyway-control, starts it again on the same address
// and etcd, and waits until the new process has recorded every proxy as
// connected on the current version (the proxies claim it on their new
// streams, so nothing is resent and nothing ACKed).
func (f *fleet) restartStorm(ctx context.Context, version string) error {
	sig := syscall.SIGTERM
	if f.cfg.restart == "kill" {
		sig = syscall.SIGKILL
	}
	t0 := time.Now()
	if err := f.cp.cmd.Process.Signal(sig); err != nil {
		return err
	}
	select {
	case <-f.cp.done:
	case <-time.After(f.cfg.timeout):
		return errors.New("keyway-control did not stop")
	}
	f.stopped = time.Since(t0)
	mark, err := f.revision()
	if err != nil {
		return err
	}
	cp, err := f.restart()
	if err != nil {
		return err
	}
	f.cp, f.cps[0] = cp, cp
	start := time.Now()
	healthy := make(chan time.Duration, 1)
	hcc, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1, MaxDelay: 20 * time.Millisecond}, MinConnectTimeout: time.Second}))
	if err != nil {
		return err
	}
	defer hcc.Close()
	hctx, stopHealth := context.WithCancel(ctx)
	defer stopHealth()
	go func() {
		if err := f.waitHealthy(hctx, hcc, cp); err == nil {
			healthy <- time.Since(start)
		}
	}()
	tl := &f.timeline
	n := len(f.sims)
	deadline := start.Add(f.cfg.timeout)
	for {
		recorded := f.status.rewrittenSince(mark, version)
		since := time.Since(start)
		select {
		case d := <-healthy:
			tl.healthy = d
		default:
		}
		for k, want := range []int{(n + 1) / 2, n - n/100, n} {
			if tl.records[k] == 0 && recorded >= want {
				tl.records[k] = since
			}
		}
		if recorded >= n {
			break
		}
		if cp.exited() {
			return errors.New("restarted keyway-control exited")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("restart: %d of %d proxies back within %v", recorded, n, f.cfg.timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	f.back = time.Since(start)
	// When each sim's new stream opened, as the sim saw it: this loop
	// polls on a machine the fleet keeps busy, so it may see them late.
	var opened []time.Duration
	for _, s := range f.sims {
		opened = append(opened, s.Opened().Sub(start))
	}
	slices.Sort(opened)
	tl.streams = [3]time.Duration{pct(opened, 50), pct(opened, 99), opened[len(opened)-1]}
	return nil
}

func (f *fleet) waitHealthy(ctx context.Context, cc *grpc.ClientConn, cp *proc) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := healthpb.NewHealthClient(cc).Check(cctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil {
			return nil
		}
		if cp.exited() || time.Now().After(deadline) {
			return fmt.Errorf("keyway-control never answered: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dial opens one connection per sim, or --conns shared ones, with the
// proxy's keepalive and reconnect pacing; connection i goes to replica i
// mod N.
func (f *fleet) dial(addrs []string) ([]*grpc.ClientConn, error) {
	n := f.cfg.conns
	if n == 0 {
		n = f.cfg.proxies
	}
	out := make([]*grpc.ClientConn, 0, n)
	for i := range n {
		c, err := grpc.NewClient(addrs[i%len(addrs)], grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithKeepaliveParams(xdsclient.DefaultKeepalive), grpc.WithConnectParams(xdsclient.ConnectParams(xdsclient.Backoff{})))
		if err != nil {
			for _, c := range out {
				c.Close()
			}
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// push stores and activates policy number k (each differs from the
// last) and returns its version.
func (f *fleet) push(ctx context.Context, pol keywayv1.PolicyServiceClient, parent uint64, k int) (uint64, error) {
	var b strings.Builder
	b.WriteString("main = redis(\"main\", \"127.0.0.1:6379\")\n")
	for d := range f.cfg.domains {
		fmt.Fprintf(&b, "domain(\"d%d\", route(routes = {\"push%d:\": main}, default = main))\n", d, k)
	}
	b.WriteString("identity(default_domain = \"d0\")\n")
	resp, err := pol.Push(ctx, &keywayv1.PushRequest{
		Bundle:  &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(b.String())}},
		Parent:  parent,
		Author:  "keyway-bench",
		Message: fmt.Sprintf("fleet benchmark push %d", k),
	})
	if err != nil {
		return 0, fmt.Errorf("push %d: %w", k, err)
	}
	return resp.GetVersion().GetVersion(), nil
}

// arm resets every sim's record for a phase waiting for version on types.
func (f *fleet) arm(version string, types []string) {
	f.types = types
	for i := range f.acks {
		a := &f.acks[i]
		a.mu.Lock()
		a.at = time.Time{}
		a.mu.Unlock()
	}
	f.reached.Store(0)
	f.allIn = make(chan struct{})
	f.target.Store(&version)
}

// onAck notes a sim's ACK, or its claim of a version on a new stream
// (it applied the version but its ACK was lost with the old stream); the
// last sim to reach the target closes allIn.
func (f *fleet) onAck(s *xdstest.Sim, typeURL, version string) {
	now := time.Now()
	a := &f.acks[f.index[s]]
	target := *f.target.Load()
	a.mu.Lock()
	a.ver[typeURL] = version
	done := a.at.IsZero() && xdstest.OnPolicy(a.ver, target)
	if slices.Contains(f.types, snapshot.FlagType) {
		done = done && a.ver[snapshot.FlagType] != "" // flags are versioned apart: "f-<hash>"
	}
	if done {
		a.at = now
	}
	a.mu.Unlock()
	if done && f.reached.Add(1) == int64(len(f.sims)) {
		close(f.allIn)
	}
}

// missing describes up to n sims that have not reached the phase's
// target: what they accepted and how many streams they opened.
func (f *fleet) missing(n int) string {
	var out []string
	for i, s := range f.sims {
		a := &f.acks[i]
		a.mu.Lock()
		reached := !a.at.IsZero()
		a.mu.Unlock()
		if reached {
			continue
		}
		if len(out) == n {
			out = append(out, "...")
			break
		}
		out = append(out, fmt.Sprintf("%s (streams %d, accepted %v)", s.ID, s.Streams(), s.Versions()))
	}
	return strings.Join(out, "; ")
}

type phaseMark struct {
	at  time.Time
	cpu float64
	rev int64
}

func phaseStart(f *fleet) phaseMark {
	f.status.take()
	cpu := f.cpu()
	rev, _ := f.revision()
	return phaseMark{at: time.Now(), cpu: cpu, rev: rev}
}

// cpu is the CPU seconds of every replica.
func (f *fleet) cpu() float64 {
	var sum float64
	for _, cp := range f.cps {
		c, _ := cpuSeconds(cp.pid())
		sum += c
	}
	return sum
}

// rss is the resident memory of every replica, in KB.
func (f *fleet) rss() (int64, error) {
	var sum int64
	for _, cp := range f.cps {
		kb, err := rssKB(cp.pid())
		if err != nil {
			return 0, err
		}
		sum += kb
	}
	return sum, nil
}

func (f *fleet) revision() (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := f.etcd.Get(ctx, "/keyway/", clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	return resp.Header.Revision, nil
}

// finish waits until every sim ACKed the phase's version and etcd holds
// every sim's status on it, then measures.
func (f *fleet) finish(ctx context.Context, name string, m phaseMark, version string) (phase, error) {
	select {
	case <-f.allIn:
	case <-time.After(f.cfg.timeout):
		return phase{}, fmt.Errorf("%s: %d of %d proxies ACKed %s within %v; missing: %s", name, f.reached.Load(), len(f.sims), version, f.cfg.timeout, f.missing(5))
	case <-ctx.Done():
		return phase{}, ctx.Err()
	}
	all := time.Since(m.at)
	deadline := time.Now().Add(f.cfg.timeout)
	for !f.status.allOn(len(f.sims), version) {
		if time.Now().After(deadline) {
			return phase{}, fmt.Errorf("%s: etcd never held every proxy's status on %s", name, version)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p := phase{all: all, settled: time.Since(m.at)}
	cpu := f.cpu()
	rev, _ := f.revision()
	p.cpu, p.revs = cpu-m.cpu, rev-m.rev
	p.puts, p.txns = f.status.take()
	for i := range f.acks {
		p.lat = append(p.lat, f.acks[i].at.Sub(m.at))
	}
	slices.Sort(p.lat)
	return p, nil
}

// statusCounter follows the fleet's status records in etcd.
type statusCounter struct {
	mu     sync.Mutex
	puts   int
	revs   map[int64]bool
	domain map[string]string // node -> applied Domain version
	rev    map[string]int64  // node -> revision of its last connected record
}

const statusPrefix = "/keyway/default/status/"

func watchStatus(ctx context.Context, cli *clientv3.Client) *statusCounter {
	s := &statusCounter{revs: map[int64]bool{}, domain: map[string]string{}, rev: map[string]int64{}}
	wch := cli.Watch(clientv3.WithRequireLeader(ctx), statusPrefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	<-wch // created
	go func() {
		for wr := range wch {
			s.mu.Lock()
			for _, ev := range wr.Events {
				s.revs[ev.Kv.ModRevision] = true
				id := strings.TrimPrefix(string(ev.Kv.Key), statusPrefix)
				if ev.Type == clientv3.EventTypeDelete {
					delete(s.domain, id)
					continue
				}
				s.puts++
				n := &keywayv1.Node{}
				if proto.Unmarshal(ev.Kv.Value, n) == nil && n.GetConnected() &&
					strings.HasPrefix(n.GetApplied()["ProxyConfig"], strings.SplitN(n.GetApplied()["Domain"], "-", 2)[0]+"-") {
					s.domain[id] = n.GetApplied()["Domain"]
					s.rev[id] = ev.Kv.ModRevision
				}
			}
			s.mu.Unlock()
		}
	}()
	return s
}

// take returns and resets the puts and transactions seen.
func (s *statusCounter) take() (puts, txns int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	puts, txns = s.puts, len(s.revs)
	s.puts, s.revs = 0, map[int64]bool{}
	return puts, txns
}

// allOn reports whether n nodes' records show version on Domain and
// ProxyConfig alike.
func (s *statusCounter) allOn(n int, version string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	on := 0
	for _, v := range s.domain {
		if strings.HasPrefix(v, version) {
			on++
		}
	}
	return on >= n
}

// rewrittenSince counts the nodes whose record was last written after
// revision rev, connected and on version.
func (s *statusCounter) rewrittenSince(rev int64, version string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, r := range s.rev {
		if r > rev && strings.HasPrefix(s.domain[id], version) {
			n++
		}
	}
	return n
}

// pct is the p-th percentile of sorted d.
func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(float64(len(d))*p/100+0.5) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func (f *fleet) report(w io.Writer) {
	n := f.cfg.proxies
	conns := "one each"
	if f.cfg.conns > 0 {
		conns = fmt.Sprintf("%d shared", f.cfg.conns)
	}
	replicas := "one keyway-control"
	if len(f.cps) > 1 {
		replicas = fmt.Sprintf("%d keyway-control replicas sharing one etcd (CPU and RSS are their sums)", len(f.cps))
	}
	kind := "pairing ProxyConfig by content"
	if f.cfg.legacy {
		kind = "legacy: ProxyConfig resent on every push"
	}
	fmt.Fprintf(w, "keyway-bench xds: %d simulated proxies (%s; gRPC connections: %s), %s, %d domains, %d pushes\n\n", n, kind, conns, replicas, f.cfg.domains, len(f.pushes))
	c := f.connect
	fmt.Fprintf(w, "connect: first snapshot ACKed by all in %v (p50 %v, p99 %v); keyway-control CPU %.2fs; status puts %d in %d transactions (%.2f per proxy); etcd revisions %d\n",
		c.all.Round(time.Millisecond), pct(c.lat, 50).Round(time.Millisecond), pct(c.lat, 99).Round(time.Millisecond), c.cpu, c.puts, c.txns, float64(c.puts)/float64(n), c.revs)
	fmt.Fprintf(w, "memory: keyway-control RSS %.0f MB before connect, %.0f MB connected: %.1f KB per proxy\n\n",
		float64(f.rssBefore)/1024, float64(f.rssAfter)/1024, float64(f.rssAfter-f.rssBefore)/float64(n))
	fmt.Fprintf(w, "%-6s %10s %10s %10s %10s %9s %11s %6s %6s\n", "push", "p50", "p99", "max", "settled", "cp cpu", "status puts", "txns", "revs")
	var p50s, p99s, maxs, cpus, puts []float64
	for i, p := range f.pushes {
		fmt.Fprintf(w, "%-6d %10v %10v %10v %10v %8.2fs %11d %6d %6d\n", i+1,
			pct(p.lat, 50).Round(time.Millisecond), pct(p.lat, 99).Round(time.Millisecond), p.all.Round(time.Millisecond),
			p.settled.Round(time.Millisecond), p.cpu, p.puts, p.txns, p.revs)
		p50s = append(p50s, pct(p.lat, 50).Seconds())
		p99s = append(p99s, pct(p.lat, 99).Seconds())
		maxs = append(maxs, p.all.Seconds())
		cpus = append(cpus, p.cpu)
		puts = append(puts, float64(p.puts))
	}
	fmt.Fprintf(w, "%-6s %9.3fs %9.3fs %9.3fs %10s %8.2fs %11.0f\n", "median", median(p50s), median(p99s), median(maxs), "", median(cpus), median(puts))
	if f.cfg.restart != "" {
		tl := f.timeline
		r := func(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
		fmt.Fprintf(w, "\nrestart (SIG%s): stopped in %v; every proxy back, connected to the new process on the current version, %v after it started\n",
			strings.ToUpper(f.cfg.restart), f.stopped.Round(time.Millisecond), f.back.Round(time.Millisecond))
		fmt.Fprintf(w, "  healthy after %v; proxies with a new stream: half %v, 99%% %v, all %v; recorded back in etcd: half %v, 99%% %v, all %v\n",
			r(tl.healthy), r(tl.streams[0]), r(tl.streams[1]), r(tl.streams[2]), r(tl.records[0]), r(tl.records[1]), r(tl.records[2]))
	}
	fmt.Fprintln(w, "\nTimes are from the push RPC's start to each proxy's ACK of what changed (the Domains; ProxyConfig too when its content changed or, with --legacy, always); settled is until etcd held every proxy's new status.")
	fmt.Fprintln(w, "CPU is keyway-control's own (etcd runs inside keyway-bench, so its CPU is not counted); revs counts every etcd write of the phase, the push itself included.")
}

// mainFleet runs `keyway-bench xds` and exits.
func mainFleet(args []string) {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := runFleet(ctx, args, os.Stdout, os.Stderr, log)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		log.Error("keyway-bench xds failed", "err", err)
		stop()
		os.Exit(1)
	}
}
