package engine

import "context"

// Pin is a dedicated upstream connection a client holds while state lives
// on it: a transaction, watched keys, a blocking command. A request that
// carries one is still served by the whole tree, so policy applies to it
// as to any other command; only the last hop changes: the leaf that would
// hand the request to its shared upstream calls Forward instead, and the
// pin decides whether the request belongs on its connection.
//
// The server sets Request.Pin only on a pinned client's requests and
// serves those one at a time, so a pin never sees two batches at once.
// Requests an engine makes up on its own (mirror copies, sub-requests)
// carry no pin and take the shared path.
type Pin interface {
	// Forward answers every request of b, which the tree sent to up, on
	// the pinned connection, or refuses them when the connection is to
	// another upstream than up.
	Forward(ctx context.Context, up Upstream, b Batch)
}
