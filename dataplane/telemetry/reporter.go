package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// ReporterOptions configure a Reporter. Zero values take the defaults.
type ReporterOptions struct {
	// NodeID names this proxy in the control plane's fleet view.
	NodeID string
	// Interval between reports; default 5s.
	Interval time.Duration
	// MaxFold is how many unsent intervals are folded into the next report
	// before they are dropped, so a long outage does not produce one report
	// spanning it; default 60.
	MaxFold int
	// HotKeys is the number of hot keys reported per domain; default 10.
	HotKeys int
	// Logger receives send failures (once per outage); default slog.Default.
	Logger *slog.Logger
	// Now is the clock, for tests; default time.Now.
	Now func() time.Time
}

// Reporter sends a Recorder's interval summaries to the control plane's
// TelemetryService. It runs beside the data path and never blocks it: the
// Recorder's counters are only read.
type Reporter struct {
	rec    *Recorder
	client keywayv1.TelemetryServiceClient
	opts   ReporterOptions

	// Owned by the goroutine calling Run or Flush.
	prev    map[*Series]SeriesSnapshot
	since   time.Time
	folded  uint32
	pending map[string][]HotKey
	failing bool
	// ncPrev is the near caches' counters at the last delivered report.
	ncPrev map[ncKey]ncTotals
}

// NewReporter returns a Reporter of rec's counts to client. client's
// connection should carry gRPC keepalive (keyway-proxy dials it with
// xdsclient.DefaultKeepalive): each report is a short RPC with a timeout,
// and without pings a half-open connection would fail every report until
// the kernel gave up on it, minutes later.
func NewReporter(rec *Recorder, client keywayv1.TelemetryServiceClient, opts ReporterOptions) *Reporter {
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Second
	}
	if opts.MaxFold <= 0 {
		opts.MaxFold = 60
	}
	if opts.HotKeys <= 0 {
		opts.HotKeys = 10
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Reporter{rec: rec, client: client, opts: opts, prev: map[*Series]SeriesSnapshot{},
		since: opts.Now(), pending: map[string][]HotKey{}}
}

// Run reports every Interval until ctx is done, then tries one last report
// so a proxy that shuts down cleanly loses nothing. Failures are logged and
// folded, never returned: telemetry must not stop the proxy.
func (p *Reporter) Run(ctx context.Context) {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.sendTimeout())
			_ = p.Flush(final) // logged by Flush
			cancel()
			return
		case <-t.C:
			// Stopping must not cut a send short: a report the control
			// plane already ingested would be folded and counted twice.
			// send bounds it with its own timeout.
			_ = p.Flush(context.WithoutCancel(ctx))
		}
	}
}

// Flush sends everything counted since the last delivered report. When the
// send fails the interval is kept and folded into the next call, up to
// MaxFold intervals; after that the oldest counts are dropped. Not safe to
// call concurrently with Run or another Flush.
func (p *Reporter) Flush(ctx context.Context) error {
	now := p.opts.Now()
	list, cur := p.rec.snapshot()
	p.mergeHot(p.rec.TakeHotKeys(p.opts.HotKeys))
	req := p.build(now, list, cur)
	ncCur, ncBytes := p.rec.nearCacheTotals()
	req.NearCache = nearCacheStats(ncCur, p.ncPrev, ncBytes)
	err := p.send(ctx, req)
	if err == nil {
		p.rec.reportsSent.Add(1)
		if p.failing {
			p.opts.Logger.Info("telemetry reports delivered again", "folded_intervals", p.folded)
			p.failing = false
		}
		p.advance(now, list, cur)
		p.ncPrev = ncCur
		return nil
	}
	if !p.failing {
		p.opts.Logger.Warn("telemetry report not delivered; folding into the next", "err", err)
		p.failing = true
	}
	p.folded++
	p.rec.reportsFolded.Add(1)
	if int(p.folded) > p.opts.MaxFold {
		p.rec.reportsDropped.Add(uint64(p.folded))
		p.advance(now, list, cur)
		p.ncPrev = ncCur
	}
	return err
}

// advance makes cur the baseline of the next interval.
func (p *Reporter) advance(now time.Time, list []*Series, cur []SeriesSnapshot) {
	for i, s := range list {
		p.prev[s] = cur[i]
	}
	p.since = now
	p.folded = 0
	clear(p.pending)
}

func (p *Reporter) build(now time.Time, list []*Series, cur []SeriesSnapshot) *keywayv1.ReportRequest {
	req := &keywayv1.ReportRequest{
		NodeId:          p.opts.NodeID,
		Start:           timestamppb.New(p.since),
		End:             timestamppb.New(now),
		FoldedIntervals: p.folded,
	}
	for i := range cur {
		prev := p.prev[list[i]]
		d := cur[i].Sub(&prev)
		if d.Requests() == 0 && d.RequestBytes == 0 && d.ReplyBytes == 0 {
			continue
		}
		req.Commands = append(req.Commands, commandStats(&d))
	}
	conns := p.rec.DomainConns()
	for _, name := range sortedKeys(conns) {
		req.Domains = append(req.Domains, &keywayv1.DomainGauge{Domain: name, Connections: conns[name]})
	}
	for _, domain := range sortedKeys(p.pending) {
		for _, k := range p.pending[domain] {
			req.HotKeys = append(req.HotKeys, &keywayv1.HotKey{Domain: domain, Key: k.Key, Count: k.Count})
		}
	}
	return req
}

func commandStats(d *SeriesSnapshot) *keywayv1.CommandStats {
	c := &keywayv1.CommandStats{
		Domain:       d.Domain,
		Track:        d.Track,
		Command:      d.Command,
		Upstream:     d.Upstream,
		Requests:     d.Requests(),
		RequestBytes: d.RequestBytes,
		ReplyBytes:   d.ReplyBytes,
		Latency:      HistogramProto(&d.Latency),
	}
	for k, n := range d.Errors {
		if n > 0 {
			if c.Errors == nil {
				c.Errors = map[string]uint64{}
			}
			c.Errors[Kinds[k].String()] = n
		}
	}
	return c
}

// HistogramProto is h as a report's LatencyHistogram, without trailing
// empty buckets.
func HistogramProto(h *Histogram) *keywayv1.LatencyHistogram {
	n := len(h.Buckets)
	for n > 0 && h.Buckets[n-1] == 0 {
		n--
	}
	return &keywayv1.LatencyHistogram{
		Buckets:    append([]uint64(nil), h.Buckets[:n]...),
		Count:      h.Count(),
		SumSeconds: float64(h.SumNanos) / 1e9,
	}
}

// mergeHot adds this interval's hot keys to those not yet delivered,
// keeping the HotKeys hottest per domain.
func (p *Reporter) mergeHot(fresh map[string][]HotKey) {
	for domain, keys := range fresh {
		old := p.pending[domain]
		if len(old) == 0 {
			p.pending[domain] = keys
			continue
		}
		sum := map[string]uint64{}
		for _, k := range old {
			sum[k.Key] += k.Count
		}
		for _, k := range keys {
			sum[k.Key] += k.Count
		}
		merged := make([]HotKey, 0, len(sum))
		for k, n := range sum {
			merged = append(merged, HotKey{Key: k, Count: n})
		}
		sortHot(merged)
		if len(merged) > p.opts.HotKeys {
			merged = merged[:p.opts.HotKeys]
		}
		p.pending[domain] = merged
	}
}

// send delivers req on a stream of its own: closing the stream and reading
// the response confirms the control plane ingested it, so an interval is
// only ever counted as sent when it was.
func (p *Reporter) send(ctx context.Context, req *keywayv1.ReportRequest) error {
	if p.client == nil {
		return errNoClient
	}
	ctx, cancel := context.WithTimeout(ctx, p.sendTimeout())
	defer cancel()
	stream, err := p.client.Report(ctx)
	if err != nil {
		return fmt.Errorf("open telemetry stream: %w", err)
	}
	if err := stream.Send(req); err != nil {
		// The real cause comes with the stream's status.
		if _, rerr := stream.CloseAndRecv(); rerr != nil {
			err = rerr
		}
		return fmt.Errorf("send telemetry report: %w", err)
	}
	if _, err := stream.CloseAndRecv(); err != nil {
		return fmt.Errorf("close telemetry stream: %w", err)
	}
	return nil
}

// minSendTimeout keeps a short Interval from failing sends that only need
// a round trip or a reconnect.
const minSendTimeout = 2 * time.Second

// sendTimeout bounds one report: a hung control plane delays the next
// report, never the data path.
func (p *Reporter) sendTimeout() time.Duration { return max(p.opts.Interval, minSendTimeout) }

// errNoClient is returned when a Reporter has no client to send to.
var errNoClient = errors.New("no telemetry client")
