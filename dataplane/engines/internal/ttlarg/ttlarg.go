// Package ttlarg finds the expiry a command sets, for the engines that
// judge or change it (ttl_jitter, max_ttl): one reading of Redis's TTL
// arguments, so the engines cannot disagree about which argument is the
// TTL.
package ttlarg

import (
	"bytes"
	"time"

	"keyway.dev/dataplane/resp"
	"keyway.dev/policy/kinds"
)

// Unit is the unit an expiry argument is written in.
type Unit uint8

const (
	Seconds Unit = iota
	Millis
)

var (
	specSet       = resp.Lookup([]byte("SET"))
	specSetEx     = resp.Lookup([]byte("SETEX"))
	specPSetEx    = resp.Lookup([]byte("PSETEX"))
	specExpire    = resp.Lookup([]byte("EXPIRE"))
	specPExpire   = resp.Lookup([]byte("PEXPIRE"))
	specExpireAt  = resp.Lookup([]byte("EXPIREAT"))
	specPExpireAt = resp.Lookup([]byte("PEXPIREAT"))
	specGetEx     = resp.Lookup([]byte("GETEX"))
)

// MaxRelative bounds the relative TTLs Parse accepts, in milliseconds:
// far above anything useful (about 35 years) and far below int64
// overflow after any arithmetic an engine does on them. A max_ttl may
// not be set above it (the policy's rule and this are one number).
const MaxRelative = int64(kinds.MaxTTLLimit / time.Millisecond)

// Relative finds the relative TTL argument of c: SET and GETEX's EX or
// PX, SETEX, PSETEX, EXPIRE, PEXPIRE. It returns the argument's index and
// unit. It does not allocate.
func Relative(c *resp.Command) (int, Unit, bool) {
	args := c.Args
	switch c.Spec {
	case specSetEx, specExpire:
		if len(args) >= 3 {
			return 2, Seconds, true
		}
	case specPSetEx, specPExpire:
		if len(args) >= 3 {
			return 2, Millis, true
		}
	case specSet:
		return option(args, 3, false)
	case specGetEx:
		return option(args, 2, false)
	}
	return 0, 0, false
}

// Absolute finds the absolute expiry argument of c, a Unix time: SET and
// GETEX's EXAT or PXAT, EXPIREAT, PEXPIREAT.
func Absolute(c *resp.Command) (int, Unit, bool) {
	args := c.Args
	switch c.Spec {
	case specExpireAt:
		if len(args) >= 3 {
			return 2, Seconds, true
		}
	case specPExpireAt:
		if len(args) >= 3 {
			return 2, Millis, true
		}
	case specSet:
		return option(args, 3, true)
	case specGetEx:
		return option(args, 2, true)
	}
	return 0, 0, false
}

// option finds the first relative (EX, PX) or, with abs, absolute
// (EXAT, PXAT) expiry option among args[from:] with its argument, and
// skips the other kind's arguments. Redis refuses a command with two, but
// that is Redis's to say.
func option(args [][]byte, from int, abs bool) (int, Unit, bool) {
	for i := from; i+1 < len(args); i++ {
		a := args[i]
		var isAbs bool
		var u Unit
		switch {
		case len(a) == 2 && bytes.EqualFold(a, []byte("EX")):
			u = Seconds
		case len(a) == 2 && bytes.EqualFold(a, []byte("PX")):
			u = Millis
		case len(a) == 4 && bytes.EqualFold(a, []byte("EXAT")):
			u, isAbs = Seconds, true
		case len(a) == 4 && bytes.EqualFold(a, []byte("PXAT")):
			u, isAbs = Millis, true
		default:
			continue
		}
		if isAbs == abs {
			return i + 1, u, true
		}
		i++ // the other kind's argument
	}
	return 0, 0, false
}

// Parse reads a positive decimal TTL written in u and returns it in
// milliseconds; anything else (zero, negative, not a number, above
// MaxRelative) is left for Redis to judge.
func Parse(b []byte, u Unit) (int64, bool) {
	n, ok := ParseTime(b, u)
	if !ok || n > MaxRelative {
		return 0, false
	}
	return n, true
}

// ParseTime reads a positive decimal number of u, such as a Unix time,
// and returns it in milliseconds; false for anything else.
func ParseTime(b []byte, u Unit) (int64, bool) {
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
	if u == Seconds {
		n *= 1000
	}
	if n <= 0 {
		return 0, false
	}
	return n, true
}
