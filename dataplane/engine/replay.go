package engine

import "context"

// Admitter is implemented by engines whose only work on a request is to
// decide whether it passes (check, count, charge or delay it); the
// requests they admit go on unchanged to Admitted. The tree uses it when
// it replays a transaction's results (Replay): those commands were
// admitted when they were queued, and admitting them again would count
// or charge them twice. An engine that rewrites commands or replies is
// not an Admitter.
type Admitter interface {
	Admitted() Engine
}

// Replay serves r through root as the result of a command that already
// went down the tree once, when a transaction queued it: engines that
// rewrite replies treat it as any request, Admitters of a tree compiled
// by a Builder pass it straight on, and the leaf's Pin answers it with
// the result instead of sending it. Engines need not know about
// transactions for this; the tree's Labeled wrappers do it (Serve).
func Replay(ctx context.Context, root Engine, r *Request) {
	r.replay = true
	Do(ctx, root, r)
}

// Serve serves b with the wrapped engine, or, for a replayed request at
// an Admitter, with what it admits to (Replay). The server never mixes
// replays with other requests in a batch, so the first speaks for all.
func (l *Labeled) Serve(ctx context.Context, b Batch) {
	if l.admitted != nil && len(b) > 0 && b[0].replay {
		l.admitted.Serve(ctx, b)
		return
	}
	l.Engine.Serve(ctx, b)
}
