package resp

import (
	"bytes"
	"errors"
	"fmt"
)

// Limits ReplyLen enforces. They are far above anything Redis sends (its
// proto-max-bulk-len defaults to 512 MiB) and exist so a corrupt length
// cannot overflow the element count or make the caller buffer forever.
const (
	maxBulkLen      = 1 << 32
	maxAggregateLen = 1 << 32
)

// ErrStreamed is returned for RESP3 streamed strings and aggregates
// ("$?", "*?"), which Redis never sends; refusing them keeps the framer
// small.
var ErrStreamed = errors.New("resp: streamed replies are not supported")

// ReplyLen returns the length of the first complete RESP2 or RESP3 reply in
// b, including nested aggregates and attributes; 0 and a nil error when b
// holds only part of one; an error when b cannot be the start of a reply.
//
// It allocates nothing and does not recurse: instead of a stack it keeps
// the number of elements still owed, which is all framing needs, so nesting
// depth costs nothing and needs no bound.
func ReplyLen(b []byte) (int, error) {
	pos := 0
	owed := 1 // elements still to read before the reply is complete
	for owed > 0 {
		if pos >= len(b) {
			return 0, nil
		}
		typ := b[pos]
		pos++
		switch typ {
		case '+', '-', ',':
			// Simple strings, errors and doubles: free text up to CRLF.
			end, err := lineEnd(b, pos)
			if end < 0 || err != nil {
				return 0, err
			}
			pos = end
			owed--
		case ':', '(':
			_, end, err := number(b, pos, typ == '(')
			if end < 0 || err != nil {
				return 0, err
			}
			pos = end
			owed--
		case '_':
			end, err := fixedLine(b, pos, "")
			if end < 0 || err != nil {
				return 0, err
			}
			pos = end
			owed--
		case '#':
			if pos >= len(b) {
				return 0, nil
			}
			if b[pos] != 't' && b[pos] != 'f' {
				return 0, fmt.Errorf("resp: boolean %q is neither t nor f", b[pos])
			}
			end, err := fixedLine(b, pos+1, "")
			if end < 0 || err != nil {
				return 0, err
			}
			pos = end
			owed--
		case '$', '!', '=':
			n, end, err := length(b, pos, typ == '$', maxBulkLen)
			if end < 0 || err != nil {
				return 0, err
			}
			pos = end
			owed--
			if n < 0 {
				continue // null bulk string
			}
			if len(b)-pos < n+2 {
				// Check what trailer bytes are present so garbage is
				// reported as soon as it is seen.
				if len(b)-pos == n+1 && b[pos+n] != '\r' {
					return 0, errors.New("resp: bulk string not terminated by CRLF")
				}
				return 0, nil
			}
			if b[pos+n] != '\r' || b[pos+n+1] != '\n' {
				return 0, errors.New("resp: bulk string not terminated by CRLF")
			}
			pos += n + 2
		case '*', '~', '>', '%', '|':
			n, end, err := length(b, pos, typ == '*', maxAggregateLen)
			if end < 0 || err != nil {
				return 0, err
			}
			pos = end
			switch typ {
			case '%':
				owed += 2*n - 1
			case '|':
				// An attribute decorates the element that follows it and is
				// not itself an element of its parent: it owes its pairs and
				// leaves the parent's count as it was.
				owed += 2 * n
			default:
				if n < 0 {
					n = 0 // null array
				}
				owed += n - 1
			}
		default:
			return 0, fmt.Errorf("resp: unknown reply type %q", typ)
		}
	}
	return pos, nil
}

// lineEnd returns the index after the CRLF that ends the line starting at
// pos, or -1 when b ends first.
func lineEnd(b []byte, pos int) (int, error) {
	i := bytes.IndexByte(b[pos:], '\r')
	if i < 0 {
		return -1, nil
	}
	i += pos
	if i+1 >= len(b) {
		return -1, nil
	}
	if b[i+1] != '\n' {
		return -1, errors.New("resp: CR not followed by LF")
	}
	return i + 2, nil
}

// fixedLine expects exactly want then CRLF at pos.
func fixedLine(b []byte, pos int, want string) (int, error) {
	full := len(want) + 2
	for i := 0; i < full; i++ {
		if pos+i >= len(b) {
			return -1, nil
		}
		var c byte
		switch {
		case i < len(want):
			c = want[i]
		case i == len(want):
			c = '\r'
		default:
			c = '\n'
		}
		if b[pos+i] != c {
			return -1, fmt.Errorf("resp: unexpected byte %q", b[pos+i])
		}
	}
	return pos + full, nil
}

// length reads the count or size that opens a bulk string or aggregate.
// Only RESP2's null forms ("$-1", "*-1") may be negative.
func length(b []byte, pos int, nullable bool, limit int64) (int, int, error) {
	if pos < len(b) && b[pos] == '?' {
		return 0, -1, ErrStreamed
	}
	n, end, err := number(b, pos, false)
	if end < 0 || err != nil {
		return 0, end, err
	}
	switch {
	case n == -1 && nullable:
	case n < 0:
		return 0, -1, fmt.Errorf("resp: negative length %d", n)
	case n > limit:
		return 0, -1, fmt.Errorf("resp: length %d is over the limit %d", n, limit)
	}
	return int(n), end, nil
}

// number parses an optionally signed decimal integer ending in CRLF. A big
// number may have any count of digits, so overflow is only checked for
// plain integers. Bytes are checked as they come, so a malformed header is
// reported before its CRLF arrives.
func number(b []byte, pos int, big bool) (int64, int, error) {
	start := pos
	neg := false
	if pos < len(b) && b[pos] == '-' {
		neg = true
		pos++
	}
	digits := pos
	var n int64
	for ; pos < len(b); pos++ {
		c := b[pos]
		if c == '\r' {
			break
		}
		if c < '0' || c > '9' {
			return 0, -1, fmt.Errorf("resp: invalid number at byte %d", pos)
		}
		if !big {
			if n > (1<<63-1-int64(c-'0'))/10 {
				return 0, -1, fmt.Errorf("resp: number at byte %d overflows", start)
			}
			n = n*10 + int64(c-'0')
		}
	}
	if pos >= len(b) {
		return 0, -1, nil
	}
	if pos == digits {
		return 0, -1, fmt.Errorf("resp: number at byte %d has no digits", start)
	}
	if pos+1 >= len(b) {
		return 0, -1, nil
	}
	if b[pos+1] != '\n' {
		return 0, -1, errors.New("resp: CR not followed by LF")
	}
	if neg {
		n = -n
	}
	return n, pos + 2, nil
}
