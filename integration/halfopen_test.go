package integration

import (
	"testing"
	"time"

	"keyway.dev/controlplane/xds/xdstest"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
)

// TestHalfOpenStreamReconnects: keyway-proxy reaches keyway-control
// through a relay that the test freezes (it stops forwarding both ways
// without closing, as a dead host or a dropped NAT flow would). The proxy
// cannot tell from TCP that its stream is gone; its keepalive pings go
// unanswered, it drops the connection, reconnects through the relay and
// is ACKed on the version pushed meanwhile, within its keepalive bound
// (15s without a frame, then 5s for the ping's answer) plus a reconnect.
func TestHalfOpenStreamReconnects(t *testing.T) {
	ra, rb := redistest.Start(t), redistest.Start(t)
	cp := harness.StartControl(t, "", "")
	relay := xdstest.NewRelay(t, cp.Addr)
	p := harness.StartProxy(t, "proxy-half-open", relay.Addr)

	mustPush(t, cp, harness.WritePolicy(t, map[string]string{"main.star": policyV1(ra.Addr, rb.Addr)}), "v1")
	waitApplied(t, cp, "v1", p)
	before := relay.Accepted()
	if n := relay.Freeze(); n == 0 {
		t.Fatal("the relay had no connection to freeze")
	}
	frozen := time.Now()
	mustPush(t, cp, harness.WritePolicy(t, map[string]string{"main.star": policyV2(ra.Addr, rb.Addr)}), "v2")
	// waitApplied allows 30s, the bound the fleet promises: 20s of
	// keepalive, a reconnect and a round trip fit with room to spare.
	waitApplied(t, cp, "v2", p)
	t.Logf("ACKed on v2 %v after the freeze, over %d new connection(s)", time.Since(frozen).Round(100*time.Millisecond), relay.Accepted()-before)
	if relay.Accepted() == before {
		t.Fatal("v2 arrived without a new connection: the frozen one was not frozen")
	}
}
