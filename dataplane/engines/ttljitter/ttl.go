package ttljitter

import (
	"bytes"

	"keyway.dev/dataplane/resp"
)

type unit uint8

const (
	seconds unit = iota
	millis
)

var (
	specSet     = resp.Lookup([]byte("SET"))
	specSetEx   = resp.Lookup([]byte("SETEX"))
	specPSetEx  = resp.Lookup([]byte("PSETEX"))
	specExpire  = resp.Lookup([]byte("EXPIRE"))
	specPExpire = resp.Lookup([]byte("PEXPIRE"))
	specGetEx   = resp.Lookup([]byte("GETEX"))

	namePSetEx  = []byte("PSETEX")
	namePExpire = []byte("PEXPIRE")
	optPX       = []byte("PX")
)

// maxTTL bounds the TTLs rewritten, in milliseconds, far above anything
// useful (about 35 years) and far below int64 overflow after jitter.
const maxTTL = 1 << 40

// locate finds the relative TTL argument of c: its index and unit. Absolute
// expiries (EXAT, PXAT, EXPIREAT) are left alone: moving a deadline the
// client computed is not ours to do.
func locate(c *resp.Command) (int, unit, bool) {
	args := c.Args
	switch c.Spec {
	case specSetEx, specExpire:
		if len(args) >= 3 {
			return 2, seconds, true
		}
	case specPSetEx, specPExpire:
		if len(args) >= 3 {
			return 2, millis, true
		}
	case specSet:
		return option(args, 3)
	case specGetEx:
		return option(args, 2)
	}
	return 0, 0, false
}

// option finds EX or PX among the options from args[from], skipping the
// arguments of EXAT and PXAT.
func option(args [][]byte, from int) (int, unit, bool) {
	for i := from; i < len(args); i++ {
		a := args[i]
		if len(a) != 2 && len(a) != 4 {
			continue
		}
		switch {
		case bytes.EqualFold(a, []byte("EX")) && i+1 < len(args):
			return i + 1, seconds, true
		case bytes.EqualFold(a, []byte("PX")) && i+1 < len(args):
			return i + 1, millis, true
		case bytes.EqualFold(a, []byte("EXAT")), bytes.EqualFold(a, []byte("PXAT")):
			i++
		}
	}
	return 0, 0, false
}

// parseTTL reads a positive decimal TTL and returns it in milliseconds;
// anything else (zero, negative, not a number, absurdly large) is left
// for Redis to judge.
func parseTTL(b []byte, u unit) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if u == seconds {
		n *= 1000
	}
	if n <= 0 || n > maxTTL {
		return 0, false
	}
	return n, true
}
