package server

import (
	"errors"
	"fmt"
)

// Protocol errors, worded as Redis words them so clients and operators
// see the same text from the proxy as from Redis.
var (
	errMultibulkLen = errors.New("Protocol error: invalid multibulk length")
	errBulkLen      = errors.New("Protocol error: invalid bulk length")
	errBigMbulk     = errors.New("Protocol error: too big mbulk count string")
	errBigBulk      = errors.New("Protocol error: too big bulk count string")
	errBigInline    = errors.New("Protocol error: too big inline request")
	errQueryBuffer  = errors.New("keyway: request exceeds the query buffer limit")
)

// maxHeaderLine bounds a "*N" or "$N" line, as Redis's PROTO_INLINE_MAX_SIZE
// does, so a header without CRLF cannot be buffered forever.
const maxHeaderLine = 64 << 10

type scanState uint8

const (
	scanStart scanState = iota
	scanMbulk
	scanBulkHeader
	scanBulkLine
	scanBulkBody
	scanInline
)

// scanner validates a client's byte stream incrementally, without
// buffering it, so oversized or malformed requests are refused as soon as
// their header arrives rather than after redcon has buffered them whole.
// It keeps only counters; the zero value plus limits is ready.
type scanner struct {
	limits Limits
	state  scanState
	num    int64 // value of the header being read
	digits int   // length of the header line so far
	neg    bool
	bad    bool
	args   int64 // arguments left in the current multibulk
	body   int64 // bytes left in the current bulk, CRLF included
	size   int64 // bytes of the current, incomplete request
}

// feed checks p, which continues the stream. It returns how many bytes of
// p are acceptable and, if the stream breaks a rule at p[n], the reason.
// The caller passes p[:n] on and then refuses the client.
func (s *scanner) feed(p []byte) (int, error) {
	for i := 0; i < len(p); {
		if s.limits.MaxQueryBuffer > 0 && s.size >= s.limits.MaxQueryBuffer {
			return i, errQueryBuffer
		}
		c := p[i]
		switch s.state {
		case scanStart:
			s.size = 0
			if c == '*' {
				s.state = scanMbulk
				s.resetNum()
			} else {
				s.state = scanInline
				s.digits = 0
				continue // the byte belongs to the inline line
			}
		case scanMbulk:
			done, err := s.headerByte(c, errBigMbulk)
			if err != nil {
				return i, err
			}
			if done {
				if s.bad || s.num > 1<<31-1 || (s.limits.MaxArgs > 0 && s.num > s.limits.MaxArgs) {
					return i, errMultibulkLen
				}
				s.args = s.num
				s.state = scanBulkHeader
				if s.neg || s.args == 0 {
					// Let redcon answer the empty or null multibulk.
					s.state = scanStart
				}
			}
		case scanBulkHeader:
			if c != '$' {
				return i, fmt.Errorf("Protocol error: expected '$', got '%c'", c)
			}
			s.state = scanBulkLine
			s.resetNum()
		case scanBulkLine:
			done, err := s.headerByte(c, errBigBulk)
			if err != nil {
				return i, err
			}
			if done {
				if s.bad || s.neg || (s.limits.MaxBulkLen > 0 && s.num > s.limits.MaxBulkLen) {
					return i, errBulkLen
				}
				s.body = s.num + 2
				s.state = scanBulkBody
			}
		case scanBulkBody:
			n := min(int64(len(p)-i), s.body)
			s.body -= n
			s.size += n
			i += int(n)
			if s.body == 0 {
				s.args--
				s.state = scanBulkHeader
				if s.args == 0 {
					s.state = scanStart
				}
			}
			continue
		case scanInline:
			if c == '\n' {
				s.state = scanStart
			} else {
				s.digits++
				if s.limits.MaxInline > 0 && int64(s.digits) > s.limits.MaxInline {
					return i, errBigInline
				}
			}
		}
		s.size++
		i++
	}
	return len(p), nil
}

func (s *scanner) resetNum() {
	s.num, s.digits, s.neg, s.bad = 0, 0, false, false
}

// headerByte consumes one byte of a "*N\r\n" or "$N\r\n" line and reports
// whether the line is complete.
func (s *scanner) headerByte(c byte, tooLong error) (bool, error) {
	switch {
	case c == '\n':
		if s.digits == 0 {
			s.bad = true
		}
		return true, nil
	case c == '\r':
	case c == '-' && s.digits == 0:
		s.neg = true
		s.digits++
	case c >= '0' && c <= '9':
		s.digits++
		if s.num > (1<<62)/10 {
			s.bad = true
		} else {
			s.num = s.num*10 + int64(c-'0')
		}
	default:
		s.bad = true
		s.digits++
	}
	if s.digits > maxHeaderLine {
		return false, tooLong
	}
	return false, nil
}
