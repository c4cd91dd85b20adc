package xds_test

import (
	"context"
	"strings"
	"testing"

	"keyway.dev/controlplane/xds"
	"keyway.dev/policy/snapshot"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestProxyConfigByContent: a proxy with xds.ProxyConfigByContent is
// sent a push's Domains alone when the ProxyConfig's content did not
// change, is not resent it on reconnect, and is recorded as running the
// new version's ProxyConfig; a proxy without it gets both, as before.
func TestProxyConfigByContent(t *testing.T) {
	srv, _, addr := serve(t)
	ctx := context.Background()
	if err := srv.Publisher().SetActive(ctx, version(1, "web")); err != nil {
		t.Fatal(err)
	}
	fresh := dial(t, addr, "proxy-new")
	fresh.node.ClientFeatures = []string{"envoy.lb.does_not_support_overprovisioning", xds.ProxyConfigByContent}
	fresh.subscribe(nil)
	first := fresh.next(3)
	for _, r := range first {
		fresh.ack(r)
	}
	old := dial(t, addr, "proxy-old")
	old.subscribe(nil)
	for _, r := range old.next(3) {
		old.ack(r)
	}

	if err := srv.Publisher().SetActive(ctx, version(2, "web", "api")); err != nil {
		t.Fatal(err)
	}
	if got := old.next(2); got[snapshot.DomainType] == nil || got[snapshot.ProxyConfigType] == nil {
		t.Fatalf("a proxy without the feature got %v, want Domain and ProxyConfig", got)
	}
	got := fresh.next(1)
	dom := got[snapshot.DomainType]
	if dom == nil {
		t.Fatalf("got %v, want the Domains alone", got)
	}
	fresh.quiet()
	pc := first[snapshot.ProxyConfigType].GetVersionInfo()
	hash := strings.TrimPrefix(pc, "v1-")
	if v := dom.GetVersionInfo(); !strings.HasPrefix(v, "v2-") || !strings.HasSuffix(v, hash) {
		t.Fatalf("domain version %q does not carry the ProxyConfig hash %s", v, hash)
	}
	fresh.ack(dom)
	n := waitNode(t, srv, "proxy-new", func(n *keywayv1.Node) bool { return n.GetPolicyVersion() == "v2" })
	if got := n.GetApplied()["ProxyConfig"]; got != "v2-"+hash {
		t.Errorf("applied ProxyConfig %q, want v2-%s: the content it runs is v2's", got, hash)
	}

	// Another process on v3 with the same ProxyConfig content: the proxy
	// reconnects claiming the v1 ProxyConfig it holds and gets only v3's
	// Domains.
	srv2, _, addr2 := serve(t)
	if err := srv2.Publisher().SetActive(ctx, version(3, "web")); err != nil {
		t.Fatal(err)
	}
	back := dial(t, addr2, "proxy-new")
	back.node.ClientFeatures = []string{xds.ProxyConfigByContent}
	back.subscribe(map[string]string{
		snapshot.ProxyConfigType: pc,
		snapshot.DomainType:      dom.GetVersionInfo(),
		snapshot.FlagType:        first[snapshot.FlagType].GetVersionInfo(),
	})
	got = back.next(1)
	d3 := got[snapshot.DomainType]
	if d3 == nil || !strings.HasPrefix(d3.GetVersionInfo(), "v3-") {
		t.Fatalf("after reconnecting got %v, want v3's Domains alone", got)
	}
	back.quiet()
	back.ack(d3)

	// A ProxyConfig whose content changes is sent, with Domains naming it.
	v4 := version(4, "web")
	v4.Rendered.Identity = &keywayv1.Identity{DefaultDomain: "web"}
	if err := srv2.Publisher().SetActive(ctx, v4); err != nil {
		t.Fatal(err)
	}
	got = back.next(2)
	p4 := got[snapshot.ProxyConfigType].GetVersionInfo()
	if p4 == "" || strings.HasSuffix(p4, hash) || !strings.HasSuffix(got[snapshot.DomainType].GetVersionInfo(), strings.TrimPrefix(p4, "v4-")) {
		t.Fatalf("a changed ProxyConfig: got %v", got)
	}
}
