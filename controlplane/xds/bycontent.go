package xds

import (
	"slices"
	"strings"

	core "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"

	"keyway.dev/policy/snapshot"
)

// ProxyConfigByContent, among a proxy's node client_features, says the
// proxy pairs a policy version's Domains with the ProxyConfig whose
// content hash the Domains' version carries, not with the ProxyConfig of
// the same policy version. A push then costs such a proxy one response
// and one ACK instead of two: a ProxyConfig whose content did not change
// is not resent under the new policy version.
//
// Versions are "<policy version>-<hash>". A Domain version's hash is 16
// hex digits, its Domains' 8 followed by its ProxyConfig's 8; a
// ProxyConfig version's is its 8. Proxies without the feature pair by
// policy version ("v6" of both) and are sent both types on every push, as
// before; all-hex hashes keep their version parsing working.
// dataplane/reload holds the proxy's side of this.
const ProxyConfigByContent = "keyway.proxy_config_by_content"

// byContent reports whether node pairs ProxyConfigs by content.
func byContent(node *core.Node) bool {
	return slices.Contains(node.GetClientFeatures(), ProxyConfigByContent)
}

// hashOf is the part of a version after its policy version: "0123abcd"
// of "v6-0123abcd".
func hashOf(version string) string {
	_, h, _ := strings.Cut(version, "-")
	return h
}

// carried is the ProxyConfig content hash a Domain version carries, or ""
// for a version from before ProxyConfigByContent.
func carried(domainVersion string) string {
	h := hashOf(domainVersion)
	if len(h) != 16 {
		return ""
	}
	return h[8:]
}

// runsProxyConfig returns the ProxyConfig version of the policy version a
// proxy's applied Domains belong to, when the ProxyConfig it applied has
// the content that Domain version carries: the ProxyConfig it runs under
// another policy version's name ("v5-<p>" under Domains "v6-<d><p>" is
// "v6-<p>"). ok is false when they do not pair by content.
func runsProxyConfig(applied map[string]string) (version string, ok bool) {
	d, p := applied[shortType(snapshot.DomainType)], applied[shortType(snapshot.ProxyConfigType)]
	c := carried(d)
	if c == "" || hashOf(p) != c {
		return "", false
	}
	policy, _, _ := strings.Cut(d, "-")
	return policy + "-" + c, true
}
