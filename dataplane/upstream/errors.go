package upstream

import (
	"errors"
	"fmt"
	"time"

	"keyway.dev/dataplane/engine"
)

// Causes an Error wraps; test with errors.Is.
var (
	// ErrTimeout: the node did not answer before the request's deadline.
	ErrTimeout = errors.New("upstream timeout")
	// ErrUnavailable: the node cannot be reached or its breaker is open.
	ErrUnavailable = errors.New("upstream unavailable")
	// ErrConnLost: the connection broke after the request was sent, so
	// whether Redis ran it is unknown.
	ErrConnLost = errors.New("upstream connection lost")
	// ErrCanceled: the caller gave up (its context ended) first.
	ErrCanceled = errors.New("upstream request canceled")
	// ErrClosed: the client was released and closed.
	ErrClosed = errors.New("upstream closed")
	// ErrNoDedicated: every dedicated connection of the node is in use.
	ErrNoDedicated = errors.New("no dedicated connection available")
	// ErrNeedsDedicated: the command would leave state on a shared
	// connection (MULTI, SUBSCRIBE, a blocking pop).
	ErrNeedsDedicated = errors.New("command needs a dedicated connection")
)

// Error is a failure of the proxy to get an answer from a node. Its text
// is what the client sees, in Redis's style, so it names the upstream and
// the address but never a secret.
type Error struct {
	// What is one of the Err* causes above.
	What     error
	Upstream string
	Addr     string
	// Cause is the underlying error (a dial or read error), if any.
	Cause error
	// Timeout is the deadline that passed, for ErrTimeout.
	Timeout time.Duration
	// Limit is the dedicated pool size, for ErrNoDedicated.
	Limit int
	// Command names the refused command, for ErrNeedsDedicated.
	Command string
}

// Error formats e as a Redis error message without the leading '-'.
func (e *Error) Error() string {
	who := fmt.Sprintf("upstream %s (%s)", e.Upstream, e.Addr)
	switch e.What {
	case ErrTimeout:
		return fmt.Sprintf("TIMEOUT keyway: %s did not answer within %v", who, e.Timeout)
	case ErrUnavailable:
		if e.Cause == nil {
			return fmt.Sprintf("ERR keyway: %s is unavailable", who)
		}
		return fmt.Sprintf("ERR keyway: %s is unavailable: %v", who, e.Cause)
	case ErrConnLost:
		return fmt.Sprintf("ERR keyway: connection to %s was lost: %v", who, e.Cause)
	case ErrCanceled:
		return fmt.Sprintf("ERR keyway: request to %s was canceled: %v", who, e.Cause)
	case ErrClosed:
		return fmt.Sprintf("ERR keyway: %s is closed", who)
	case ErrNoDedicated:
		return fmt.Sprintf("ERR keyway: no dedicated connection available for upstream %s (limit %d)", e.Upstream, e.Limit)
	case ErrNeedsDedicated:
		return fmt.Sprintf("ERR keyway: %s needs a dedicated connection and cannot be sent on the shared connections to %s", e.Command, who)
	}
	return fmt.Sprintf("ERR keyway: %s: %v", who, e.Cause)
}

// Unwrap exposes both the kind of failure and its cause.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.What}
	}
	return []error{e.What, e.Cause}
}

// Kind is the telemetry kind of e.
func (e *Error) Kind() engine.ErrorKind {
	if e.What == ErrTimeout {
		return engine.KindTimeout
	}
	return engine.KindProxy
}
