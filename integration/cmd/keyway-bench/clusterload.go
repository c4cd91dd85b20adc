package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterOp is one request of a cluster workload as an application
// would send it: C1 an MGET of mgetKeys keys, C2 a pipeline of GETs or
// SETs, C3 one GET or SET.
type clusterOp int

const (
	opGet clusterOp = iota
	opSet
	opMGet
)

// clusterSpec is one closed-loop load through go-redis: clients workers,
// each with its own connection per node, until requests are answered.
type clusterSpec struct {
	op        clusterOp
	clients   int
	pipeline  int // commands per round trip; 1 is unpipelined
	requests  int // logical requests: an MGET counts once, each pipelined command once
	keys      int
	valueSize int
	mgetKeys  int
	// mgetAsPipeline sends an MGET as a pipeline of GETs: go-redis's
	// ClusterClient does not split an MGET across slots (Redis answers
	// CROSSSLOT), so that is how its users read several keys at once.
	mgetAsPipeline bool
	timeout        time.Duration
}

// keySet is every key of the data set, formatted once so the load
// generator spends its CPU on requests, not on formatting.
type keySet []string

func newKeySet(n int) keySet {
	ks := make(keySet, n)
	var buf []byte
	for i := range ks {
		buf = appendKey(buf[:0], i)
		ks[i] = string(buf)
	}
	return ks
}

// runClusterLoad runs spec through c (a plain client to the proxy or a
// ClusterClient to the nodes) and measures it as runLoad does.
func runClusterLoad(ctx context.Context, c redis.UniversalClient, ks keySet, spec clusterSpec) (loadResult, error) {
	ctx, cancel := context.WithTimeout(ctx, spec.timeout)
	defer cancel()
	if spec.keys > len(ks) {
		return loadResult{}, fmt.Errorf("load needs %d keys, the set has %d", spec.keys, len(ks))
	}
	value := make([]byte, spec.valueSize)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	w := clusterWorker{c: c, ks: ks[:spec.keys], spec: &spec, value: string(value)}
	// Every worker sends one pipeline before the clock starts, so the
	// pools hold their connections and the client knows the slot map.
	var warm sync.WaitGroup
	warmErrs := make([]error, spec.clients)
	for i := range spec.clients {
		warm.Go(func() {
			// Sixteen keys reach every node of a small cluster.
			_, warmErrs[i] = c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for j := range 16 {
					p.Get(ctx, w.ks[(i*16+j)%len(w.ks)])
				}
				return nil
			})
		})
	}
	warm.Wait()
	if err := errors.Join(warmErrs...); err != nil {
		return loadResult{}, fmt.Errorf("warm up: %w", err)
	}

	var left atomic.Int64
	left.Store(int64(spec.requests))
	hists := make([]hist, spec.clients)
	done := make([]int, spec.clients)
	bad := make([]int, spec.clients)
	startGate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range spec.clients {
		wg.Go(func() {
			<-startGate
			done[i], bad[i] = w.run(ctx, &left, &hists[i], uint64(i))
		})
	}
	t0 := time.Now()
	close(startGate)
	wg.Wait()
	res := loadResult{elapsed: time.Since(t0)}
	for i := range spec.clients {
		res.hist.merge(&hists[i])
		res.requests += done[i]
		res.errors += bad[i]
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("cluster load: %w", err)
	}
	return res, nil
}

// clusterWorker holds what every worker of one load shares.
type clusterWorker struct {
	c     redis.UniversalClient
	ks    keySet
	spec  *clusterSpec
	value string
}

// run is one worker: it claims a round trip's worth of requests, sends
// it, checks every reply and records its latency for each request. It
// stops when the requests are used up or ctx ends.
func (w *clusterWorker) run(ctx context.Context, left *atomic.Int64, h *hist, seed uint64) (done, bad int) {
	rng := rand.New(rand.NewPCG(seed, 0x6b6579776179))
	pipe := w.c.Pipeline()
	keys := make([]string, w.spec.mgetKeys)
	for ctx.Err() == nil {
		n := int64(w.spec.pipeline)
		if got := left.Add(-n); got < 0 {
			n += got // the last round trip takes what is left
			if n <= 0 {
				return done, bad
			}
		}
		t0 := time.Now()
		switch {
		case w.spec.op == opMGet && !w.spec.mgetAsPipeline:
			for i := range keys {
				keys[i] = w.ks[rng.IntN(len(w.ks))]
			}
			if !w.mgetOK(w.c.MGet(ctx, keys...)) {
				bad++
			}
		case w.spec.op == opMGet || n > 1:
			bad += w.pipelined(ctx, pipe, rng, int(n))
		case w.spec.op == opSet:
			if w.c.Set(ctx, w.ks[rng.IntN(len(w.ks))], w.value, 0).Val() != "OK" {
				bad++
			}
		default:
			if v, err := w.c.Get(ctx, w.ks[rng.IntN(len(w.ks))]).Result(); err != nil || len(v) != w.spec.valueSize {
				bad++
			}
		}
		h.record(time.Since(t0), int(n))
		done += int(n)
	}
	return done, bad
}

func (w *clusterWorker) mgetOK(cmd *redis.SliceCmd) bool {
	vals, err := cmd.Result()
	if err != nil || len(vals) != w.spec.mgetKeys {
		return false
	}
	for _, v := range vals {
		if s, ok := v.(string); !ok || len(s) != w.spec.valueSize {
			return false
		}
	}
	return true
}

// pipelined sends n requests in one pipeline and returns how many were
// answered wrongly. For an MGET sent as a pipeline of GETs, n is 1 and
// the request is wrong when any GET is.
func (w *clusterWorker) pipelined(ctx context.Context, pipe redis.Pipeliner, rng *rand.Rand, n int) int {
	cmds, per := n, 1
	if w.spec.op == opMGet {
		cmds, per = w.spec.mgetKeys, w.spec.mgetKeys
	}
	for range cmds {
		k := w.ks[rng.IntN(len(w.ks))]
		if w.spec.op == opSet {
			pipe.Set(ctx, k, w.value, 0)
		} else {
			pipe.Get(ctx, k)
		}
	}
	replies, err := pipe.Exec(ctx)
	if err != nil && len(replies) == 0 {
		return n
	}
	bad := 0
	for i := 0; i < len(replies); i += per {
		for _, r := range replies[i:min(i+per, len(replies))] {
			if !w.replyOK(r) {
				bad++
				break
			}
		}
	}
	return bad
}

func (w *clusterWorker) replyOK(c redis.Cmder) bool {
	switch c := c.(type) {
	case *redis.StringCmd:
		v, err := c.Result()
		return err == nil && len(v) == w.spec.valueSize
	case *redis.StatusCmd:
		return c.Val() == "OK"
	}
	return false
}

// fillCluster empties every primary and writes keys values of size bytes
// through c, a ClusterClient, in pipelines.
func fillCluster(ctx context.Context, c *redis.ClusterClient, ks keySet, size int) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	err := c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		return n.FlushAll(ctx).Err()
	})
	if err != nil {
		return fmt.Errorf("flush cluster: %w", err)
	}
	value := make([]byte, size)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	const batch = 1000
	for i := 0; i < len(ks); i += batch {
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range ks[i:min(i+batch, len(ks))] {
				p.Set(ctx, k, value, 0)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("fill cluster: %w", err)
		}
	}
	return nil
}
