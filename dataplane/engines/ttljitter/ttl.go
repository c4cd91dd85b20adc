package ttljitter

import "keyway.dev/dataplane/resp"

// The seconds forms and their milliseconds twins, for rewriting a TTL
// found by ttlarg.Relative in milliseconds.
var (
	specSetEx   = resp.Lookup([]byte("SETEX"))
	specPSetEx  = resp.Lookup([]byte("PSETEX"))
	specExpire  = resp.Lookup([]byte("EXPIRE"))
	specPExpire = resp.Lookup([]byte("PEXPIRE"))

	namePSetEx  = []byte("PSETEX")
	namePExpire = []byte("PEXPIRE")
	optPX       = []byte("PX")
)
