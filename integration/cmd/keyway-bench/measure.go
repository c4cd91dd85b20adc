package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

// record is one test on one target in one repetition; results.json holds
// every record.
type record struct {
	Workload   string       `json:"wl"`
	Test       string       `json:"test"`
	Target     string       `json:"target"`
	Rep        int          `json:"rep"`
	Requests   int          `json:"n"`
	Errors     int          `json:"errors"`
	Ops        float64      `json:"ops"`
	WallS      float64      `json:"wall_s"`
	P50Us      float64      `json:"p50_us"`
	P99Us      float64      `json:"p99_us"`
	P999Us     float64      `json:"p999_us"`
	MaxUs      float64      `json:"max_us"`
	LoadCPUS   float64      `json:"loadgen_cpu_s"`
	ProxyCPUS  float64      `json:"proxy_cpu_s"`
	RedisCPUS  float64      `json:"redis_cpu_s"`
	OtherCPUS  float64      `json:"other_cpu_s"`
	ProxyRSSKB int64        `json:"proxy_rss_kb,omitempty"`
	Tries      int          `json:"tries"`
	Storm      *stormResult `json:"storm,omitempty"`
}

// otherShare is the share of one CPU that processes outside the
// benchmark used during the test: the noise on a shared machine.
func (r *record) otherShare() float64 {
	if r.WallS <= 0 {
		return 0
	}
	return r.OtherCPUS / r.WallS
}

// cpuSnap is the CPU time of everything a test accounts for.
type cpuSnap struct {
	self, proxy, redis, busy float64
	at                       time.Time
}

func snap(proxyPID int, redisPIDs []int) (cpuSnap, error) {
	s := cpuSnap{at: time.Now()}
	var err error
	if s.self, err = cpuSeconds(os.Getpid()); err != nil {
		return s, err
	}
	if proxyPID != 0 {
		if s.proxy, err = cpuSeconds(proxyPID); err != nil {
			return s, err
		}
	}
	for _, pid := range redisPIDs {
		cpu, err := cpuSeconds(pid)
		if err != nil {
			return s, err
		}
		s.redis += cpu
	}
	if s.busy, err = busySeconds(); err != nil {
		return s, err
	}
	return s, nil
}

// account fills r's CPU and wall figures from two snapshots.
func (r *record) account(a, b cpuSnap) {
	r.WallS = b.at.Sub(a.at).Seconds()
	r.LoadCPUS = b.self - a.self
	r.ProxyCPUS = b.proxy - a.proxy
	r.RedisCPUS = b.redis - a.redis
	r.OtherCPUS = max(0, (b.busy-a.busy)-r.LoadCPUS-r.ProxyCPUS-r.RedisCPUS)
}

// measure runs one test on tg, whose requests end at the redis-servers
// redisPIDs, retrying up to retries times while other
// processes took more than noiseMax of a CPU, and keeps the quietest try.
func (b *bench) measure(ctx context.Context, wl, test string, tg target, rep int, redisPIDs []int, run func() (*record, error)) (*record, error) {
	var best *record
	for try := 1; try <= 1+b.cfg.noiseRetries; try++ {
		before, err := snap(tg.pid, redisPIDs)
		if err != nil {
			return nil, err
		}
		r, err := run()
		if err != nil {
			return nil, fmt.Errorf("%s %s on %s: %w", wl, test, tg.name, err)
		}
		after, err := snap(tg.pid, redisPIDs)
		if err != nil {
			return nil, err
		}
		r.Workload, r.Test, r.Target, r.Rep, r.Tries = wl, test, tg.name, rep, try
		r.account(before, after)
		if tg.pid != 0 {
			r.ProxyRSSKB, _ = rssKB(tg.pid)
		}
		if best == nil || r.otherShare() < best.otherShare() {
			best = r
		}
		if r.otherShare() <= b.cfg.noiseMax || ctx.Err() != nil {
			break
		}
		b.log.Info("noisy test, running it again", "wl", wl, "test", test, "target", tg.name, "other_cpu_pct", int(r.otherShare()*100))
	}
	best.Tries = max(best.Tries, 1)
	return best, nil
}

// loadRecord turns a load's result into a record.
func loadRecord(res loadResult) *record {
	r := &record{
		Requests: res.requests,
		Errors:   res.errors,
		P50Us:    us(res.hist.quantile(0.50)),
		P99Us:    us(res.hist.quantile(0.99)),
		P999Us:   us(res.hist.quantile(0.999)),
		MaxUs:    us(res.hist.max),
	}
	if res.elapsed > 0 {
		r.Ops = float64(res.requests) / res.elapsed.Seconds()
	}
	return r
}
