// Package upstream is the proxy's connection layer to Redis. A Node
// multiplexes every caller's requests onto a few pipelined connections to
// one address, a Client sends a tree's batches to a standalone Redis, and
// Pools hands out clients by upstream identity so that trees built from
// different snapshots share connections. Dedicated connections serve the
// commands that leave state on a connection (MULTI, SUBSCRIBE, blocking
// pops).
package upstream

import (
	"time"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Options size and time the connections to each node. The zero value is
// valid: every unset field takes its default.
type Options struct {
	// Connections is the number of shared, pipelined connections per node.
	Connections int
	// Timeout bounds one request when its context has no earlier deadline.
	Timeout time.Duration
	// ConnectTimeout bounds dialing, the TLS handshake and AUTH.
	ConnectTimeout time.Duration
	// DedicatedMax bounds the dedicated connections open per node.
	DedicatedMax int
	// DedicatedIdle is how many released dedicated connections a node
	// keeps open for reuse; the rest are closed.
	DedicatedIdle int
	// BreakerThreshold is the number of consecutive connection failures
	// after which a node's breaker opens.
	BreakerThreshold int
	// BreakerCooldown is how long an open breaker fails requests before a
	// probe connection is tried.
	BreakerCooldown time.Duration
	// MinBandwidth, in bytes per second, is the slowest transfer a
	// request's deadline allows for: big requests and replies get their
	// size at this rate on top of Timeout (transfer.go).
	MinBandwidth int64
	// ReconnectMin and ReconnectMax bound the exponential backoff between
	// connection attempts.
	ReconnectMin, ReconnectMax time.Duration
}

// Defaults.
const (
	DefaultConnections      = 2
	DefaultTimeout          = time.Second
	DefaultConnectTimeout   = 500 * time.Millisecond
	DefaultDedicatedMax     = 64
	DefaultDedicatedIdle    = 2
	DefaultBreakerThreshold = 5
	DefaultBreakerCooldown  = time.Second
	DefaultReconnectMin     = 10 * time.Millisecond
	DefaultReconnectMax     = 2 * time.Second
)

// withDefaults fills unset fields.
func (o Options) withDefaults() Options {
	if o.Connections <= 0 {
		o.Connections = DefaultConnections
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MinBandwidth <= 0 {
		o.MinBandwidth = DefaultMinBandwidth
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.DedicatedMax <= 0 {
		o.DedicatedMax = DefaultDedicatedMax
	}
	if o.DedicatedIdle <= 0 {
		o.DedicatedIdle = DefaultDedicatedIdle
	}
	if o.DedicatedIdle > o.DedicatedMax {
		o.DedicatedIdle = o.DedicatedMax
	}
	if o.BreakerThreshold <= 0 {
		o.BreakerThreshold = DefaultBreakerThreshold
	}
	if o.BreakerCooldown <= 0 {
		o.BreakerCooldown = DefaultBreakerCooldown
	}
	if o.ReconnectMin <= 0 {
		o.ReconnectMin = DefaultReconnectMin
	}
	if o.ReconnectMax < o.ReconnectMin {
		o.ReconnectMax = max(DefaultReconnectMax, o.ReconnectMin)
	}
	return o
}

// WithPool returns o with the policy's pool settings, where set, taking
// precedence over the proxy's, and defaults filled in.
func (o Options) WithPool(p *keywayv1.Pool) Options {
	if n := p.GetConnections(); n > 0 {
		o.Connections = int(n)
	}
	if n := p.GetDedicatedMax(); n > 0 {
		o.DedicatedMax = int(n)
	}
	if d := p.GetTimeout().AsDuration(); p.GetTimeout() != nil && d > 0 {
		o.Timeout = d
	}
	if d := p.GetConnectTimeout().AsDuration(); p.GetConnectTimeout() != nil && d > 0 {
		o.ConnectTimeout = d
	}
	return o.withDefaults()
}
