package engine

import "time"

// Trace is the upstream timing of a request the proxy traces. The server
// sets Request.Trace only on sampled requests, so the upstream layer's
// check costs one nil comparison on every other request. Sent is when
// the request joined an upstream connection's write queue; Received is
// when its reply was read from that connection. Both stay zero when no
// upstream was asked (a reply of the proxy's own, a failure before the
// queue) or when an engine served the request through sub-requests,
// which do not carry it.
type Trace struct {
	Sent, Received time.Time
}
