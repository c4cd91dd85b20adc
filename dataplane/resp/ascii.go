package resp

import "math/bits"

// equalFold reports whether b equals the upper-case ASCII word up,
// ignoring b's case. It does not allocate.
func equalFold(b []byte, up string) bool {
	if len(b) != len(up) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != up[i] {
			return false
		}
	}
	return true
}

// parseInt parses b the way Redis's string2ll does: an optional '-',
// no '+', no leading zeros, no spaces, and it must fit an int64.
func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	if len(b) == 1 && b[0] == '0' {
		return 0, true
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
		if len(b) == 0 {
			return 0, false
		}
	}
	if b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		hi, lo := bits.Mul64(v, 10)
		v = lo + uint64(c-'0')
		if hi != 0 || v < lo {
			return 0, false
		}
	}
	if neg {
		if v > 1<<63 {
			return 0, false
		}
		return -int64(v), true
	}
	if v > 1<<63-1 {
		return 0, false
	}
	return int64(v), true
}
