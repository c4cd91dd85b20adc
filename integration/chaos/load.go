//go:build chaos

// Package chaos is Keyway's fault suite: real keyway-control, keyway-proxy
// and redis-server processes, a verifying load through the proxy, and one
// fault per scenario. `make chaos` runs every scenario once and prints a
// table; `make soak` runs one system for an hour with a fault every
// minute. Neither is part of `make test`: they take minutes and measure,
// where tests assert.
//
// What every scenario asserts, whatever its fault: no wrong reply (a read
// never returns a value other than the last acknowledged write of its key
// or a write whose outcome the client could not know), no lost write
// (every acknowledged write is in Redis at the end), and no hung request
// (every call ends, with a reply or an error, well within the client's
// own deadline). Errors are counted and asserted zero where the fault is
// one the proxy must hide (a dead control plane, reloads, a refused
// version, a hostile neighbour).
package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

var digits = regexp.MustCompile(`[0-9]+`)

// hungAfter is how long a call may take before it counts as hung: far
// above the proxy's per-request deadline (1 s in the scenarios' policies),
// so only a request the proxy lost track of reaches it.
const hungAfter = 5 * time.Second

// load is a verifying load generator: workers that each own a set of
// keys, write numbered values and read them back, checking every reply
// against what they know was acknowledged.
type load struct {
	workers []*worker
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stats   stats
}

type stats struct {
	ops, errs, wrong, hung atomic.Int64
	maxLatency             atomic.Int64 // nanoseconds

	mu       sync.Mutex
	lastErr  time.Time
	errTexts map[string]int
	wrongs   []string
}

// worker owns keys chaos:<id>:<k> and is their only writer, so it knows
// what each must hold.
type worker struct {
	id   int
	c    *redis.Client
	seq  int64
	keys []keyState
}

// keyState is what a worker knows of one key: the sequence number of the
// last acknowledged write, and the writes after it whose outcome is
// unknown (they failed with an error that does not say whether Redis ran
// them, so a later read may see any of them).
type keyState struct {
	acked   int64
	pending []int64
}

// startLoad starts workers clients against addr, each owning keys keys.
func startLoad(addr string, workers, keys int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, stats: stats{errTexts: map[string]int{}}}
	for i := range workers {
		w := &worker{
			id: i,
			c: redis.NewClient(&redis.Options{
				Addr: addr, MaxRetries: -1, PoolSize: 1,
				DialTimeout: 2 * time.Second, ReadTimeout: 2 * hungAfter, WriteTimeout: 2 * hungAfter,
			}),
			keys: make([]keyState, keys),
		}
		l.workers = append(l.workers, w)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.run(ctx, w)
		}()
	}
	return l
}

func (l *load) run(ctx context.Context, w *worker) {
	for ctx.Err() == nil {
		k := rand.IntN(len(w.keys))
		key := fmt.Sprintf("chaos:%d:%d", w.id, k)
		st := &w.keys[k]
		start := time.Now()
		if rand.IntN(2) == 0 {
			w.seq++
			err := w.c.Set(ctx, key, strconv.FormatInt(w.seq, 10), 0).Err()
			if ctx.Err() != nil {
				st.pending = append(st.pending, w.seq)
				return // cut by the end of the load, not by the proxy
			}
			l.record(start, err)
			if err == nil {
				st.acked, st.pending = w.seq, nil
			} else {
				st.pending = append(st.pending, w.seq)
			}
			continue
		}
		got, err := w.c.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			got, err = "", nil
		}
		if ctx.Err() != nil {
			return
		}
		l.record(start, err)
		if err == nil {
			if msg := st.observe(got); msg != "" {
				l.stats.wrong.Add(1)
				l.stats.mu.Lock()
				if len(l.stats.wrongs) < 5 {
					l.stats.wrongs = append(l.stats.wrongs, key+": "+msg)
				}
				l.stats.mu.Unlock()
			}
		}
	}
}

// observe checks a value read from the key and learns from it: a pending
// write that shows up was run, so it becomes the acknowledged one. It
// returns why the value is wrong, or "".
func (st *keyState) observe(got string) string {
	var seq int64
	if got != "" {
		n, err := strconv.ParseInt(got, 10, 64)
		if err != nil {
			return fmt.Sprintf("value %q was never written", got)
		}
		seq = n
	}
	if seq == st.acked {
		return ""
	}
	if i := slices.Index(st.pending, seq); i >= 0 && seq > st.acked {
		st.acked, st.pending = seq, st.pending[i+1:]
		return ""
	}
	return fmt.Sprintf("read %d; acknowledged %d, unknown outcome %v", seq, st.acked, st.pending)
}

func (l *load) record(start time.Time, err error) {
	took := time.Since(start)
	l.stats.ops.Add(1)
	for {
		old := l.stats.maxLatency.Load()
		if int64(took) <= old || l.stats.maxLatency.CompareAndSwap(old, int64(took)) {
			break
		}
	}
	if took >= hungAfter {
		l.stats.hung.Add(1)
	}
	if err == nil {
		return
	}
	l.stats.errs.Add(1)
	// Addresses and numbers make every error text unique; the table wants
	// the kinds.
	text := digits.ReplaceAllString(err.Error(), "N")
	l.stats.mu.Lock()
	l.stats.lastErr = time.Now()
	l.stats.errTexts[text]++
	l.stats.mu.Unlock()
}

// stop ends the load and waits for every worker.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
	for _, w := range l.workers {
		_ = w.c.Close()
	}
}

// verify reads every key from Redis directly, after stop, and returns
// how many acknowledged writes are missing, with a few examples.
func (l *load) verify(ctx context.Context, direct redis.UniversalClient) (int, []string, error) {
	lost := 0
	var examples []string
	for _, w := range l.workers {
		for k := range w.keys {
			key := fmt.Sprintf("chaos:%d:%d", w.id, k)
			got, err := direct.Get(ctx, key).Result()
			if errors.Is(err, redis.Nil) {
				got, err = "", nil
			}
			if err != nil {
				return 0, nil, fmt.Errorf("read %s from redis: %w", key, err)
			}
			st := w.keys[k]
			if msg := st.observe(got); msg != "" {
				lost++
				if len(examples) < 5 {
					examples = append(examples, key+": "+msg)
				}
			}
		}
	}
	return lost, examples, nil
}

// counts is what the load saw, for the table.
type counts struct {
	ops, errs, wrong, hung int64
	maxLatency             time.Duration
	lastErr                time.Time
	errTexts               map[string]int
	wrongs                 []string
}

func (l *load) counts() counts {
	l.stats.mu.Lock()
	defer l.stats.mu.Unlock()
	texts := make(map[string]int, len(l.stats.errTexts))
	for k, v := range l.stats.errTexts {
		texts[k] = v
	}
	return counts{
		ops: l.stats.ops.Load(), errs: l.stats.errs.Load(), wrong: l.stats.wrong.Load(), hung: l.stats.hung.Load(),
		maxLatency: time.Duration(l.stats.maxLatency.Load()), lastErr: l.stats.lastErr,
		errTexts: texts, wrongs: slices.Clone(l.stats.wrongs),
	}
}

// waitOps waits until the load has made n more calls, so a fault lands
// on a load that is running, not on one still connecting.
func (l *load) waitOps(ctx context.Context, n int64) error {
	target := l.stats.ops.Load() + n
	for l.stats.ops.Load() < target {
		if ctx.Err() != nil {
			return fmt.Errorf("load made %d of %d calls: %w", l.stats.ops.Load()-(target-n), n, ctx.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}
