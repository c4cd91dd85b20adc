package telemetry

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/proto/latency"
)

// numKinds is the number of error kinds counted, engine.KindUpstream
// through engine.KindProxy.
const numKinds = int(engine.KindProxy)

// Kinds lists the counted error kinds in the order Series.Errors uses.
var Kinds = [numKinds]engine.ErrorKind{engine.KindUpstream, engine.KindTimeout, engine.KindRefused, engine.KindProxy}

// Labels identify a series.
type Labels struct {
	Domain, Track, Command, Upstream string
}

// shard is one core's slice of a series' counters. The request count is
// the sum of the buckets, so an observation costs one atomic add less.
type shard struct {
	buckets    [latency.NumBuckets]atomic.Uint64
	sumNanos   atomic.Uint64
	reqBytes   atomic.Uint64
	replyBytes atomic.Uint64
	errors     [numKinds]atomic.Uint64
	// Keeps the hot tail of one shard off the next shard's first line.
	_ [64]byte
}

// Series counts the requests of one (domain, track, command, upstream).
// Callers that can keep a *Series (for example per connection and
// command) may call its Observe and skip the Recorder's lookup.
type Series struct {
	labels Labels
	shards []shard
	mask   uint32
}

func newSeries(l Labels, shards int) *Series {
	return &Series{labels: l, shards: make([]shard, shards), mask: uint32(shards - 1)}
}

// Labels are the series' labels after folding.
func (s *Series) Labels() Labels { return s.labels }

// Observe counts one answered request. It does not allocate or lock.
func (s *Series) Observe(kind engine.ErrorKind, reqBytes, replyBytes int, took time.Duration) {
	// A random shard spreads concurrent writers without knowing which
	// core they run on; rand/v2's global source is per-thread and lock-free.
	sh := &s.shards[rand.Uint32()&s.mask]
	sh.buckets[latency.BucketOf(took)].Add(1)
	if took > 0 {
		sh.sumNanos.Add(uint64(took))
	}
	if reqBytes > 0 {
		sh.reqBytes.Add(uint64(reqBytes))
	}
	if replyBytes > 0 {
		sh.replyBytes.Add(uint64(replyBytes))
	}
	if kind > engine.KindNone && int(kind) <= numKinds {
		sh.errors[kind-1].Add(1)
	}
}

// SeriesSnapshot is a series' cumulative counts at one moment.
type SeriesSnapshot struct {
	Labels
	Latency      Histogram
	Errors       [numKinds]uint64
	RequestBytes uint64
	ReplyBytes   uint64
}

// Requests is the number of observed requests.
func (s *SeriesSnapshot) Requests() uint64 { return s.Latency.Count() }

// ErrorCount is the number of failed requests of any kind.
func (s *SeriesSnapshot) ErrorCount() uint64 {
	var n uint64
	for _, e := range s.Errors {
		n += e
	}
	return n
}

// Sub is s minus an earlier snapshot of the same series.
func (s *SeriesSnapshot) Sub(prev *SeriesSnapshot) SeriesSnapshot {
	d := SeriesSnapshot{Labels: s.Labels, Latency: s.Latency.Sub(&prev.Latency)}
	for i := range s.Errors {
		d.Errors[i] = s.Errors[i] - prev.Errors[i]
	}
	d.RequestBytes = s.RequestBytes - prev.RequestBytes
	d.ReplyBytes = s.ReplyBytes - prev.ReplyBytes
	return d
}

// snapshot sums the shards into dst. Concurrent observations may land on
// either side of the read; each counter is still exact and monotonic.
func (s *Series) snapshot(dst *SeriesSnapshot) {
	*dst = SeriesSnapshot{Labels: s.labels}
	for i := range s.shards {
		sh := &s.shards[i]
		for b := range sh.buckets {
			dst.Latency.Buckets[b] += sh.buckets[b].Load()
		}
		dst.Latency.SumNanos += sh.sumNanos.Load()
		dst.RequestBytes += sh.reqBytes.Load()
		dst.ReplyBytes += sh.replyBytes.Load()
		for k := range sh.errors {
			dst.Errors[k] += sh.errors[k].Load()
		}
	}
}
