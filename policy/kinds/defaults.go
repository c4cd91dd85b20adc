package kinds

import "time"

// The defaults of fields a policy may leave out. The renderer writes
// them into the message, or leaves the field zero, and the builder
// applies them to a zero field, so both read them from here.
const (
	FailoverDefaultFailureThreshold = 5
	FailoverDefaultCooldown         = 5 * time.Second

	// RateLimitDefaultMaxDelay is how long a delaying limiter waits at
	// most when max_delay is unset; the renderer leaves it unset.
	RateLimitDefaultMaxDelay = 100 * time.Millisecond

	MirrorDefaultSample = 1.0
	MirrorDefaultQueue  = 1024

	RejectDefaultMessage = "command refused by policy"

	// CommandsDefaultLockPrefix is where lock keys live when the policy
	// names no lock_prefix. The renderer refuses an empty lock_prefix; in
	// a message an empty one is the unset field, so the builder reads it
	// as this default.
	CommandsDefaultLockPrefix = "keyway:lock:"
)
