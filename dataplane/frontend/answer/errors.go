package answer

import "errors"

// The refusals every path of the frontend answers in the same words.
var (
	// ErrNoPolicy refuses a command before the first policy arrived;
	// TRYAGAIN tells clients to retry rather than give up.
	ErrNoPolicy = errors.New("TRYAGAIN keyway: no policy received yet")
	// ErrNoAuth refuses a command before AUTH when the policy requires
	// it.
	//lint:ignore ST1005 this is Redis's exact reply text
	ErrNoAuth = errors.New("NOAUTH Authentication required.")
)

// ErrUnanswered fails a request no engine answered, which a correct
// tree never leaves.
var ErrUnanswered = errors.New("keyway: request left unanswered")
