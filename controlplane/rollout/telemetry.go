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
