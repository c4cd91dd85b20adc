package frontend

import (
	"testing"

	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestExecChargesRateLimitOnce: EXEC passes each result back up the tree
// so reply-rewriting engines see it, but a rate limit above the leaf has
// charged the command when it was queued and must not charge it again.
// The bucket holds 3 operations and refills one per 100 s: two queued
// SETs leave one for the GET after EXEC; charging the replays too would
// leave none.
func TestExecChargesRateLimitOnce(t *testing.T) {
	r := redistest.Start(t)
	root := &keywayv1.Engine{Kind: &keywayv1.Engine_Ratelimit{Ratelimit: &keywayv1.RateLimit{
		OpsPerSecond: 0.01, BurstSeconds: 300, Mode: keywayv1.RateLimit_MODE_REFUSE, Next: forward("a"),
	}}}
	h := withPolicy(t, root, standalone("a", r))
	runSteps(t, dialRaw(t, h.addr), []pstep{
		{"MULTI", `\+OK\r\n`},
		{"SET k1 v1", `\+QUEUED\r\n`},
		{"SET k2 v2", `\+QUEUED\r\n`},
		{"EXEC", `\*2\r\n\+OK\r\n\+OK\r\n`},
		{"GET k1", `\$2\r\nv1\r\n`},
		{"GET k2", `-.*ops/s.*\r\n`}, // now the bucket is empty
	})
}

// TestSubscribeInsideMultiRefused: the proxy refuses a subscription queued
// in a transaction (whose messages it could not relay) and aborts the
// transaction, instead of answering EXEC and dropping the messages.
func TestSubscribeInsideMultiRefused(t *testing.T) {
	r := redistest.Start(t)
	h := withPolicy(t, forward("a"), standalone("a", r))
	runSteps(t, dialRaw(t, h.addr), []pstep{
		{"MULTI", `\+OK\r\n`},
		{"SET k v", `\+QUEUED\r\n`},
		{"SUBSCRIBE ch", `-ERR keyway: SUBSCRIBE inside MULTI is not supported by the proxy; subscribe outside the transaction\r\n`},
		{"EXEC", `-EXECABORT Transaction discarded because of previous errors\.\r\n`},
		{"GET k", `\$-1\r\n`}, // the SET did not run
		{"SUBSCRIBE ch", `\*3\r\n\$9\r\nsubscribe\r\n\$2\r\nch\r\n:1\r\n`},
	})
}
