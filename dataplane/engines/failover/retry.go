package failover

import (
	"errors"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// outcome is what a child's answer to one request means for failover.
type outcome uint8

const (
	// answered: a reply from Redis, error replies included.
	answered outcome = iota
	// failed: the child could not get an answer; counts against its
	// breaker, and the request must stay failed.
	failed
	// retry: failed, and safe to send to the next child.
	retry
	// refused: the proxy declined the request for a reason that is not
	// the child's health (the client went away, the command needs a
	// dedicated connection); neither counted nor retried.
	refused
)

// classify decides what r's answer means. Only a connection error or a
// timeout (KindProxy, KindTimeout) is a failure. A failed request is
// retried when that cannot run it twice: read-only commands always; any
// command when the upstream says it was never sent (ErrUnavailable: the
// node could not be reached, so nothing was written). A write that timed
// out or whose connection broke may have run, so it is not retried.
func classify(r *engine.Request) outcome {
	switch r.Kind() {
	case engine.KindProxy, engine.KindTimeout:
	default:
		return answered
	}
	err := r.Err()
	switch {
	case errors.Is(err, upstream.ErrCanceled),
		errors.Is(err, upstream.ErrNeedsDedicated),
		errors.Is(err, upstream.ErrNoDedicated):
		return refused
	case readOnly(&r.Cmd), errors.Is(err, upstream.ErrUnavailable):
		return retry
	}
	return failed
}

// readOnly reports whether running c twice is harmless: Redis flags it
// readonly and not write, and it does not block (a retried blocking read
// would wait all over again).
func readOnly(c *resp.Command) bool {
	s := c.Spec
	return s != nil && s.Flags&resp.FlagReadOnly != 0 && s.Flags&(resp.FlagWrite|resp.FlagMayReplicate) == 0 && !resp.IsBlocking(c)
}

// rearm clears r's failed answer so the next child can answer it.
func rearm(r *engine.Request) {
	cmd, sess, read := r.Cmd, r.Session, r.Read
	r.Reset()
	r.Cmd, r.Session, r.Read = cmd, sess, read
}
