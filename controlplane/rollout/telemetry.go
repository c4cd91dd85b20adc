package rollout

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TopFunc answers a per-domain traffic summary over a window, with the
// domain's per-track drill-down: (*telemetry.Aggregator).Top.
type TopFunc func(window time.Duration, domain string) *keywayv1.TopResponse

// FromTop reads guard readings from the telemetry aggregator's Top, so the
// guards see exactly the numbers `keyway top` shows for the tracks.
func FromTop(top TopFunc) Telemetry { return topTelemetry(top) }

type topTelemetry TopFunc

// TrackReading implements Telemetry.
func (t topTelemetry) TrackReading(domain, track string, window time.Duration) *keywayv1.TrackReading {
	for _, d := range t(window, domain).GetDomains() {
		if d.GetDomain() != domain {
			continue
		}
		for _, tr := range d.GetTracks() {
			if tr.GetTrack() != track {
				continue
			}
			tf := tr.GetTraffic()
			return &keywayv1.TrackReading{
				Requests:  tf.GetRequests(),
				Errors:    tf.GetErrors(),
				ErrorRate: tf.GetErrorRate(),
				P99:       durationpb.New(time.Duration(tf.GetP99Seconds() * float64(time.Second))),
			}
		}
	}
	return &keywayv1.TrackReading{}
}

// TopSinceFunc is (*telemetry.Aggregator).TopSince: Top counting only
// reports whose interval began at or after since.
type TopSinceFunc func(window time.Duration, since time.Time, domain string) *keywayv1.TopResponse

// FromTopSince is FromTop for a source that can leave out traffic from
// before a rollout began; keyway-control uses it so that one rollout's
// canary errors never count against the next one's.
func FromTopSince(top TopSinceFunc) Telemetry { return topSinceTelemetry(top) }

type topSinceTelemetry TopSinceFunc

// TrackReading implements Telemetry.
func (t topSinceTelemetry) TrackReading(domain, track string, window time.Duration) *keywayv1.TrackReading {
	return t.TrackReadingSince(domain, track, window, time.Time{})
}

// TrackReadingSince implements SinceTelemetry.
func (t topSinceTelemetry) TrackReadingSince(domain, track string, window time.Duration, since time.Time) *keywayv1.TrackReading {
	return topTelemetry(func(w time.Duration, d string) *keywayv1.TopResponse { return t(w, since, d) }).TrackReading(domain, track, window)
}
