package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// stormSpec is W4: conns connections opened at once, gets GETs each, then
// held idle while the upstream connections and memory are read, and
// while an active load runs beside the idle crowd.
type stormSpec struct {
	conns  int
	gets   int
	keys   int
	active loadSpec
}

// stormResult is what W4 measured on one target.
type stormResult struct {
	Conns         int     `json:"conns"`
	OK            int     `json:"ok"`
	Failed        int     `json:"failed"`
	FirstError    string  `json:"first_error,omitempty"`
	OpenSeconds   float64 `json:"open_s"`
	UpstreamConns int     `json:"upstream_conns"`
	RSSBeforeKB   int64   `json:"rss_before_kb"`
	RSSHeldKB     int64   `json:"rss_held_kb"`
	KBPerConn     float64 `json:"kb_per_conn"`
	CPUUsPerConn  float64 `json:"cpu_us_per_conn"`
	CrowdP50Us    float64 `json:"crowd_p50_us"`
	CrowdP99Us    float64 `json:"crowd_p99_us"`
	CrowdErrors   int     `json:"crowd_errors"`
}

// redisClients is connected_clients from redis's INFO, minus the
// connection that asks.
func redisClients(addr string) (int, error) {
	info, err := command(addr, "INFO", "clients")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_clients:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, fmt.Errorf("connected_clients %q: %w", v, err)
			}
			return n - 1, nil
		}
	}
	return 0, fmt.Errorf("INFO clients of %s has no connected_clients", addr)
}

// upstreamConns counts the connections redis sees from tg: for a proxy
// those from its own sockets, found in /proc and matched in CLIENT LIST;
// for direct every client beyond base.
func upstreamConns(tg target, redisAddr string, base int) (int, error) {
	if tg.pid == 0 {
		n, err := redisClients(redisAddr)
		return n - base, err
	}
	_, p, _ := strings.Cut(redisAddr, ":")
	port, err := strconv.Atoi(p)
	if err != nil {
		return 0, fmt.Errorf("redis address %q: %w", redisAddr, err)
	}
	ports, err := localPortsTo(tg.pid, port)
	if err != nil {
		return 0, err
	}
	return redisSees(redisAddr, ports)
}

// runStorm opens spec.conns connections to tg at once. memPID is the
// process whose memory growth is charged to the crowd: the proxy, or
// redis itself for direct.
func runStorm(ctx context.Context, tg target, redisAddr string, memPID int, spec stormSpec) (stormResult, error) {
	res := stormResult{Conns: spec.conns}
	base, err := redisClients(redisAddr)
	if err != nil {
		return res, err
	}
	if res.RSSBeforeKB, err = rssKB(memPID); err != nil {
		return res, err
	}
	cpu0, err := cpuSeconds(memPID)
	if err != nil {
		return res, err
	}

	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var opened, closed sync.WaitGroup
	release := make(chan struct{})
	t0 := time.Now()
	for i := range spec.conns {
		opened.Add(1)
		closed.Go(func() {
			c, err := idleClient(tg.addr, spec.gets, i%spec.keys)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				opened.Done()
				return
			}
			ok.Add(1)
			opened.Done()
			select {
			case <-release:
			case <-ctx.Done():
			}
			_ = c.Close()
		})
	}
	opened.Wait()
	res.OpenSeconds = time.Since(t0).Seconds()
	res.OK, res.Failed = int(ok.Load()), int(failed.Load())
	if e, _ := firstErr.Load().(string); e != "" {
		res.FirstError = e
	}

	// Everything is held now: read what the crowd costs.
	upstream, uerr := upstreamConns(tg, redisAddr, base)
	held, rerr := rssKB(memPID)
	cpu1, cerr := cpuSeconds(memPID)
	var active loadResult
	var aerr error
	if uerr == nil && rerr == nil && cerr == nil && spec.active.requests > 0 {
		active, aerr = runLoad(ctx, tg.addr, spec.active)
	}
	close(release)
	closed.Wait()
	for _, e := range []error{uerr, rerr, cerr, aerr} {
		if e != nil {
			return res, e
		}
	}
	res.UpstreamConns = upstream
	res.RSSHeldKB = held
	if res.OK > 0 {
		res.KBPerConn = float64(held-res.RSSBeforeKB) / float64(res.OK)
		res.CPUUsPerConn = (cpu1 - cpu0) * 1e6 / float64(res.OK)
	}
	res.CrowdP50Us = us(active.hist.quantile(0.50))
	res.CrowdP99Us = us(active.hist.quantile(0.99))
	res.CrowdErrors = active.errors
	return res, nil
}

// idleClient connects, runs gets GETs one after another, and returns the
// open connection.
func idleClient(addr string, gets, key int) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 30*time.Second)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	_ = c.SetDeadline(time.Now().Add(60 * time.Second))
	r := bufio.NewReaderSize(c, 1024)
	req := appendKey([]byte("*2\r\n$3\r\nGET\r\n$"+strconv.Itoa(keyLen)+"\r\n"), key)
	req = append(req, '\r', '\n')
	for range gets {
		if _, err := c.Write(req); err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("write GET: %w", err)
		}
		t, n, err := readHeader(r)
		if err == nil && t == '$' && n >= 0 {
			_, err = r.Discard(n + 2)
		} else if err == nil && t != '$' {
			err = fmt.Errorf("GET answered with type %q", t)
		}
		if err != nil {
			_ = c.Close()
			return nil, err
		}
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
