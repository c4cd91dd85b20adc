package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterClient is the baseline of the cluster workloads: go-redis's
// ClusterClient talking to the nodes itself, as an application does
// without a proxy.
const clusterClient = "clusterclient"

// clusterPrimaries is the size of the benchmark's Redis Cluster.
const clusterPrimaries = 3

// isCluster tells the cluster workloads (C1, C2, C3) from the
// standalone ones.
func isCluster(wl string) bool { return strings.HasPrefix(wl, "C") }

// clusterTarget is a target of the cluster workloads with the go-redis
// client the load goes through: a plain Client to keyway-proxy, or a
// ClusterClient to the nodes.
type clusterTarget struct {
	target
	client redis.UniversalClient
	// mgetAsPipeline: see clusterSpec.
	mgetAsPipeline bool
}

// clusterSpec is the load of one test of a cluster workload.
func (b *bench) clusterSpec(wl, test string) clusterSpec {
	s := clusterSpec{op: opGet, clients: b.cfg.clients, pipeline: 1, keys: b.cfg.keys,
		valueSize: b.cfg.valueSize, mgetKeys: b.cfg.mgetKeys, timeout: b.cfg.timeout}
	switch test {
	case "SET":
		s.op = opSet
	case "MGET":
		s.op = opMGet
	}
	switch wl {
	case "C1":
		s.requests = b.requests(30_000)
	case "C2":
		s.pipeline, s.requests = b.cfg.pipeline, b.requests(300_000)
	case "C3":
		s.requests = b.requests(40_000)
	}
	return s
}

// clientTimeout bounds a go-redis dial, read or write.
const clientTimeout = 10 * time.Second

// startCluster starts the Redis Cluster, fills it and starts the cluster
// targets, leaving out one that fails the smoke test.
func (b *bench) startCluster(ctx context.Context) error {
	redisBin, err := exec.LookPath("redis-server")
	if err != nil {
		return fmt.Errorf("redis-server not installed (scripts/deps.sh --bench): %w", err)
	}
	if b.cluster, err = startCluster(ctx, b.ps, redisBin, b.cfg.serverCPUs, clusterPrimaries); err != nil {
		return err
	}
	// Both targets speak RESP2 without CLIENT SETINFO, as the raw load
	// does, never retry (every failure is counted), and pool as many
	// connections per node as there are workers.
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: b.cluster.seeds(), Protocol: 2, DisableIdentity: true,
		MaxRetries: -1, PoolSize: b.cfg.clients, DialTimeout: clientTimeout, ReadTimeout: clientTimeout, WriteTimeout: clientTimeout})
	b.closers = append(b.closers, cc.Close)
	b.keySet = newKeySet(b.cfg.keys)
	b.log.Info("filling redis cluster", "nodes", b.cluster.seeds(), "keys", b.cfg.keys, "value_size", b.cfg.valueSize)
	if err := fillCluster(ctx, cc, b.keySet, b.cfg.valueSize); err != nil {
		return err
	}
	for _, name := range b.cfg.clusterTargets {
		tg := clusterTarget{target: target{name: name}}
		switch name {
		case clusterClient:
			tg.client, tg.mgetAsPipeline = cc, true
		case keyway:
			p, err := b.startKeywayCluster(ctx)
			if err != nil {
				return err
			}
			tg.addr, tg.pid = p.addr, p.pid()
			c := redis.NewClient(&redis.Options{Addr: p.addr, Protocol: 2, DisableIdentity: true,
				MaxRetries: -1, PoolSize: b.cfg.clients, DialTimeout: clientTimeout, ReadTimeout: clientTimeout, WriteTimeout: clientTimeout})
			b.closers = append(b.closers, c.Close)
			tg.client = c
		}
		if err := clusterSmoke(ctx, tg, cc); err != nil {
			b.log.Warn("cluster target failed the SET/GET/MGET smoke test; left out", "target", name, "err", err)
			continue
		}
		b.clusterTargets = append(b.clusterTargets, tg)
	}
	if len(b.clusterTargets) == 0 {
		return errors.New("no usable cluster target")
	}
	b.log.Info("cluster up", "nodes", b.cluster.seeds(), "targets", b.clusterNames())
	return nil
}

func (b *bench) startKeywayCluster(ctx context.Context) (*proc, error) {
	bin := b.cfg.proxyBin
	if bin == "" {
		bin = filepath.Join(repoRoot(), "bin", "keyway-proxy")
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("keyway-proxy binary (make build): %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	admin, err := freePort()
	if err != nil {
		return nil, err
	}
	return startKeywayCluster(ctx, b.ps, bin, b.cfg.serverCPUs, b.cluster.seeds(), port, admin, strings.Fields(b.cfg.proxyArgs))
}

// clusterSmoke refuses a target that does not store where a cluster
// client finds it, or does not answer an MGET whose keys span slots: an
// endpoint that answers errors quickly would otherwise look fast.
func clusterSmoke(ctx context.Context, tg clusterTarget, cc *redis.ClusterClient) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	keys := []string{"keyway-bench:smoke:a", "keyway-bench:smoke:b", "keyway-bench:smoke:c"}
	for i, k := range keys {
		if err := tg.client.Set(ctx, k, "v"+strconv.Itoa(i), 0).Err(); err != nil {
			return fmt.Errorf("%s SET: %w", tg.name, err)
		}
		if got, err := cc.Get(ctx, k).Result(); err != nil || got != "v"+strconv.Itoa(i) {
			return fmt.Errorf("%s SET %s: the cluster holds %q (%v)", tg.name, k, got, err)
		}
	}
	if tg.mgetAsPipeline { // a ClusterClient refuses MGET and DEL across slots itself
		for _, k := range keys {
			if err := cc.Del(ctx, k).Err(); err != nil {
				return fmt.Errorf("%s DEL: %w", tg.name, err)
			}
		}
		return nil
	}
	vals, err := tg.client.MGet(ctx, keys...).Result()
	if err != nil {
		return fmt.Errorf("%s MGET across slots: %w", tg.name, err)
	}
	if fmt.Sprint(vals) != "[v0 v1 v2]" {
		return fmt.Errorf("%s MGET across slots: %v", tg.name, vals)
	}
	if n, err := tg.client.Del(ctx, keys...).Result(); err != nil || n != 3 {
		return fmt.Errorf("%s DEL across slots: %d, %v", tg.name, n, err)
	}
	return nil
}

func (b *bench) clusterNames() []string {
	n := make([]string, len(b.clusterTargets))
	for i, t := range b.clusterTargets {
		n[i] = t.name
	}
	return n
}

// runClusterWorkload runs every test of a cluster workload on every
// cluster target, rotating their order each repetition.
func (b *bench) runClusterWorkload(ctx context.Context, wl string) error {
	if b.cluster == nil {
		if err := b.startCluster(ctx); err != nil {
			return err
		}
	}
	for _, test := range workloadTests[wl] {
		for rep := range b.cfg.reps {
			k := rep % len(b.clusterTargets)
			order := append(append([]clusterTarget(nil), b.clusterTargets[k:]...), b.clusterTargets[:k]...)
			for _, tg := range order {
				if err := ctx.Err(); err != nil {
					return fmt.Errorf("interrupted: %w", err)
				}
				spec := b.clusterSpec(wl, test)
				spec.mgetAsPipeline = tg.mgetAsPipeline
				r, err := b.measure(ctx, wl, test, tg.target, rep+1, b.cluster.pids(), func() (*record, error) {
					res, err := runClusterLoad(ctx, tg.client, b.keySet, spec)
					if err != nil {
						return nil, err
					}
					return loadRecord(res), nil
				})
				if err != nil {
					return err
				}
				b.records = append(b.records, r)
				b.progress(r)
			}
		}
	}
	return nil
}
