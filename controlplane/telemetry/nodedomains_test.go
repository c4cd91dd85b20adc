package telemetry

import (
	"slices"
	"testing"
	"time"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestNodeDomains(t *testing.T) {
	c := &clock{t: time.Unix(1_000_000, 0)}
	a := New(Options{Now: c.now})
	c.advance(time.Minute)
	r := rep("proxy-1", time.Minute, c.t, cmd("payments", "GET", 60, time.Millisecond, nil))
	r.Domains = []*keywayv1.DomainGauge{{Domain: "search", Connections: 3}, {Domain: "payments", Connections: 1}, {Domain: "idle", Connections: 0}}
	if err := a.Ingest(r); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if got, want := a.NodeDomains("proxy-1"), []string{"payments", "search"}; !slices.Equal(got, want) {
		t.Errorf("NodeDomains = %v, want %v (a domain without connections is left out)", got, want)
	}
	if got := a.NodeDomains("nobody"); len(got) != 0 {
		t.Errorf("unknown node's domains = %v, want none", got)
	}
	c.advance(time.Hour)
	if got := a.NodeDomains("proxy-1"); len(got) != 0 {
		t.Errorf("domains of a node that stopped reporting = %v, want none", got)
	}
}
