package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// target is one endpoint under test. pid is the process whose CPU and
// memory count as the proxy's; 0 for direct redis. restart, when set,
// replaces the process with a fresh one on the same address and returns
// its pid.
type target struct {
	name    string
	addr    string
	pid     int
	restart func(ctx context.Context) (int, error)
}

// Target names.
const (
	direct    = "direct"
	twemproxy = "twemproxy"
	keyway    = "keyway"
)

// startRedis starts the redis-server every target ends at.
func startRedis(ctx context.Context, ps *procs, bin, cpus string) (*proc, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := strings.Join([]string{
		"bind 127.0.0.1",
		"port " + strconv.Itoa(port),
		"protected-mode no",
		`save ""`,
		"appendonly no",
		"daemonize no",
		"dir " + ps.dir,
		"logfile " + filepath.Join(ps.dir, "redis-server.log"),
		"maxclients 20000",
		"tcp-backlog 4096",
	}, "\n") + "\n"
	path := filepath.Join(ps.dir, "redis.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("write redis.conf: %w", err)
	}
	p, err := ps.start("redis", cpus, bin, path)
	if err != nil {
		return nil, err
	}
	p.addr = "127.0.0.1:" + strconv.Itoa(port)
	return p, waitPing(ctx, p)
}

// startTwemproxy starts nutcracker in front of redis with one server
// connection, its default and the way it is usually deployed.
func startTwemproxy(ctx context.Context, ps *procs, bin, cpus, redisAddr string, port, stats int) (*proc, error) {
	conf := fmt.Sprintf(`bench:
  listen: 127.0.0.1:%d
  hash: fnv1a_64
  distribution: ketama
  redis: true
  backlog: 4096
  preconnect: true
  auto_eject_hosts: false
  server_connections: 1
  servers:
   - %s:1
`, port, redisAddr)
	path := filepath.Join(ps.dir, "nutcracker.yml")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("write nutcracker.yml: %w", err)
	}
	p, err := ps.start("twemproxy", cpus, bin, "-c", path, "-s", strconv.Itoa(stats), "-a", "127.0.0.1",
		"-o", filepath.Join(ps.dir, "nutcracker.log"), "-p", filepath.Join(ps.dir, "nutcracker.pid"))
	if err != nil {
		return nil, err
	}
	p.addr = "127.0.0.1:" + strconv.Itoa(port)
	return p, waitPing(ctx, p)
}

// startKeyway starts keyway-proxy in standalone mode in front of redis.
// Its admin listener gets a port of its own so /debug/pprof, when the
// proxy serves it, can be reached during a run.
func startKeyway(ctx context.Context, ps *procs, bin, cpus, redisAddr string, port, admin int, extra []string) (*proc, error) {
	args := []string{bin, "--listen", "127.0.0.1:" + strconv.Itoa(port), "--upstream", redisAddr,
		"--admin", "127.0.0.1:" + strconv.Itoa(admin), "--log-level", "warn"}
	p, err := ps.start("keyway-proxy", cpus, append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	p.addr = "127.0.0.1:" + strconv.Itoa(port)
	return p, waitPing(ctx, p)
}

// smoke refuses a target that does not answer SET, GET and MGET
// correctly or does not store in redis: an endpoint that answers errors
// quickly would otherwise look fast.
func smoke(tg target, redisAddr string) error {
	checks := []struct {
		addr string
		args []string
		want string
	}{
		{tg.addr, []string{"SET", "keyway-bench:smoke", "hello"}, "+OK"},
		{tg.addr, []string{"GET", "keyway-bench:smoke"}, "hello"},
		{tg.addr, []string{"MGET", "keyway-bench:smoke", "keyway-bench:smoke"}, "*2"},
		{redisAddr, []string{"GET", "keyway-bench:smoke"}, "hello"},
		{tg.addr, []string{"DEL", "keyway-bench:smoke"}, ":1"},
	}
	for _, c := range checks {
		got, err := command(c.addr, c.args...)
		if err != nil {
			return fmt.Errorf("%s %s: %w", tg.name, c.args[0], err)
		}
		if got != c.want {
			return fmt.Errorf("%s %s via %s: got %q, want %q", tg.name, c.args[0], c.addr, got, c.want)
		}
	}
	return nil
}
