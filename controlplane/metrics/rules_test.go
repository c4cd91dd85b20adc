package metrics_test

import (
	"context"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	"keyway.dev/controlplane/metrics"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// exercised returns metrics with a sample in every family, since a label
// vector shows nothing until it has one.
func exercised(t *testing.T) *metrics.Control {
	t.Helper()
	m := metrics.New()
	m.ObserveRender(time.Millisecond, nil)
	m.ObserveActivation(&keywayv1.PolicyVersion{Version: 2}, time.Millisecond)
	m.ObserveNode(&keywayv1.Node{Id: "p", Connected: true, PolicyVersion: "v1"})
	m.ObserveNode(&keywayv1.Node{Id: "p", Connected: true, PolicyVersion: "v2",
		LastNack: &keywayv1.Nack{Type: "Domain", Time: timestamppb.Now()}})
	m.SetLeader(true)
	m.WatchRollouts(func(context.Context) ([]*keywayv1.Rollout, error) {
		return []*keywayv1.Rollout{{Domain: "web", State: keywayv1.RolloutState_ROLLOUT_STATE_RUNNING, Percent: 10,
			Guards: &keywayv1.GuardReadings{Stable: &keywayv1.TrackReading{Requests: 1}, Canary: &keywayv1.TrackReading{Requests: 1}}}}, nil
	})
	_, _ = m.UnaryServer()(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/keyway.v1.PolicyService/Push"},
		func(context.Context, any) (any, error) { return nil, nil })
	_ = m.UnaryClient()(context.Background(), "/etcdserverpb.KV/Range", nil, nil, nil,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			return errors.New("down")
		})
	return m
}

// Every keyway-control metric the alert rules and the dashboard name is
// one keyway-control registers, so a renamed metric cannot silently
// disarm an alert.
func TestDeployNamesRegisteredMetrics(t *testing.T) {
	m := exercised(t)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	for _, f := range fams {
		registered[f.GetName()] = true
	}
	ref := regexp.MustCompile(`\b(keyway_control_[a-z_]+|keyway_build_info)\b`)
	for _, file := range []string{"../../deploy/prometheus/control-rules.yml", "../../deploy/grafana/keyway-control.json"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		names := ref.FindAllString(string(b), -1)
		if len(names) == 0 {
			t.Fatalf("%s names no keyway-control metric", file)
		}
		for _, n := range names {
			base := n
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				if b, ok := strings.CutSuffix(n, suf); ok && registered[b] {
					base = b
				}
			}
			// Recorded series (keyway_control:...) are not metric names.
			if !registered[base] {
				t.Errorf("%s names %s, which keyway-control does not export", file, n)
			}
		}
	}
}

func TestShortMethodAndLabels(t *testing.T) {
	m := exercised(t)
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"keyway_control_grpc_requests_total":       `method="PolicyService/Push"`,
		"keyway_control_etcd_request_errors_total": `method="KV/Range"`,
		"keyway_control_nacks_total":               `type="Domain"`,
	}
	for _, f := range fams {
		w, ok := want[f.GetName()]
		if !ok {
			continue
		}
		var got []string
		for _, l := range f.GetMetric()[0].GetLabel() {
			got = append(got, l.GetName()+`="`+l.GetValue()+`"`)
		}
		if !slices.Contains(got, w) {
			t.Errorf("%s: labels %v lack %s", f.GetName(), got, w)
		}
		delete(want, f.GetName())
	}
	if len(want) > 0 {
		t.Errorf("families missing: %v", want)
	}
}
