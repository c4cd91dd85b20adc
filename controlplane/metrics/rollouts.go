package metrics

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// RolloutSource returns each domain's newest rollout.
type RolloutSource func(ctx context.Context) ([]*keywayv1.Rollout, error)

// rolloutCollector reads the rollouts from etcd at each scrape, so every
// replica shows the same state and the guard readings the leader last
// stored, and a replica that becomes leader needs no warm-up.
type rolloutCollector struct {
	src                             RolloutSource
	state, percent, reqs, errs, p99 *prometheus.Desc
	readErrs                        prometheus.Counter
}

// WatchRollouts exports the state of every domain's newest rollout and
// its last guard readings, read through src at each scrape.
func (c *Control) WatchRollouts(src RolloutSource) {
	rc := &rolloutCollector{
		src: src,
		state: prometheus.NewDesc("keyway_control_rollout_state",
			"1 for the state (running, paused, completed, aborted) of each domain's newest rollout.", []string{"domain", "state"}, nil),
		percent: prometheus.NewDesc("keyway_control_rollout_canary_percent",
			"Share of a domain's traffic on the canary version, while a rollout runs or is paused.", []string{"domain"}, nil),
		reqs: prometheus.NewDesc("keyway_control_rollout_guard_requests",
			"Requests the last guard reading of a rollout counted, by track.", []string{"domain", "track"}, nil),
		errs: prometheus.NewDesc("keyway_control_rollout_guard_error_rate",
			"Error rate of the last guard reading of a rollout, by track.", []string{"domain", "track"}, nil),
		p99: prometheus.NewDesc("keyway_control_rollout_guard_p99_seconds",
			"p99 latency of the last guard reading of a rollout, by track.", []string{"domain", "track"}, nil),
		readErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "keyway_control_rollout_read_errors_total",
			Help: "Scrapes that could not read the rollouts from etcd.",
		}),
	}
	c.reg.MustRegister(rc, rc.readErrs)
}

func (rc *rolloutCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{rc.state, rc.percent, rc.reqs, rc.errs, rc.p99} {
		ch <- d
	}
}

func (rc *rolloutCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rs, err := rc.src(ctx)
	if err != nil {
		rc.readErrs.Inc()
		return
	}
	for _, r := range rs {
		d := r.GetDomain()
		state := strings.ToLower(strings.TrimPrefix(r.GetState().String(), "ROLLOUT_STATE_"))
		ch <- prometheus.MustNewConstMetric(rc.state, prometheus.GaugeValue, 1, d, state)
		running := r.GetState() == keywayv1.RolloutState_ROLLOUT_STATE_RUNNING || r.GetState() == keywayv1.RolloutState_ROLLOUT_STATE_PAUSED
		if !running {
			continue
		}
		ch <- prometheus.MustNewConstMetric(rc.percent, prometheus.GaugeValue, float64(r.GetPercent()), d)
		g := r.GetGuards()
		for track, tr := range map[string]*keywayv1.TrackReading{"stable": g.GetStable(), "canary": g.GetCanary()} {
			if tr == nil {
				continue
			}
			ch <- prometheus.MustNewConstMetric(rc.reqs, prometheus.GaugeValue, float64(tr.GetRequests()), d, track)
			ch <- prometheus.MustNewConstMetric(rc.errs, prometheus.GaugeValue, tr.GetErrorRate(), d, track)
			ch <- prometheus.MustNewConstMetric(rc.p99, prometheus.GaugeValue, tr.GetP99().AsDuration().Seconds(), d, track)
		}
	}
}
