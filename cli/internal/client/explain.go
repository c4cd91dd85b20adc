package client

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Explain rewrites an error from a call to the control plane at addr in
// plain words. Errors that are not gRPC statuses are returned unchanged.
//
// Aborted carries the control plane's conflict text and InvalidArgument its
// policy error (with file:line:col); both are shown as sent, because the
// control plane already words them for people.
func Explain(err error, addr string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the control plane at %s did not answer in time (raise --timeout?)", addr)
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	msg := st.Message()
	switch st.Code() {
	case codes.Unavailable:
		return fmt.Errorf("cannot reach the control plane at %s: %s (is keyway-control running? start one with `make demo`)", addr, dialError(msg))
	case codes.DeadlineExceeded:
		return fmt.Errorf("the control plane at %s did not answer in time (raise --timeout?): %s", addr, msg)
	case codes.Aborted:
		return &Conflict{Msg: msg}
	case codes.InvalidArgument:
		return errors.New(msg)
	case codes.NotFound:
		return &NotFound{Msg: msg}
	case codes.FailedPrecondition:
		return errors.New(msg)
	case codes.PermissionDenied:
		return fmt.Errorf("permission denied: %s", msg)
	case codes.Unauthenticated:
		return fmt.Errorf("not authenticated to the control plane at %s: %s", addr, msg)
	case codes.Unimplemented:
		return fmt.Errorf("the control plane at %s does not support this command (is it older than this keyway?): %s", addr, msg)
	case codes.Canceled:
		return errors.New("cancelled")
	default:
		return fmt.Errorf("control plane error (%s): %s", codeWords(st.Code()), msg)
	}
}

// dialError keeps the useful end of grpc's dial failure text:
// `connection error: desc = "transport: Error while dialing: dial tcp
// 127.0.0.1:7700: connect: connection refused"` becomes "dial tcp
// 127.0.0.1:7700: connect: connection refused".
func dialError(msg string) string {
	const marker = "Error while dialing: "
	i := strings.Index(msg, marker)
	if i < 0 {
		return msg
	}
	return strings.TrimSuffix(msg[i+len(marker):], `"`)
}

// Conflict is a push or activation refused because the head moved.
type Conflict struct{ Msg string }

func (e *Conflict) Error() string {
	// The control plane usually words its own conflicts; add the prefix and
	// the way out only when it did not.
	if strings.HasPrefix(strings.ToLower(e.Msg), "conflict") {
		return e.Msg
	}
	return "conflict: " + e.Msg + " (run `keyway policy history`, then push again, or pass --force)"
}

// NotFound is a version (or other object) the control plane does not have.
type NotFound struct{ Msg string }

func (e *NotFound) Error() string { return e.Msg }

func codeWords(c codes.Code) string {
	switch c {
	case codes.Internal:
		return "internal"
	case codes.ResourceExhausted:
		return "resource exhausted"
	case codes.AlreadyExists:
		return "already exists"
	default:
		return c.String()
	}
}
