package resp

import "bytes"

// Scanner follows a client's request stream as it arrives and says where
// each command ends, refusing malformed or oversized input as soon as
// Redis would, before the rest of it is read. It keeps only its position
// inside the current command (a header line's digits, the bytes left of
// a bulk, the quote state of an inline line), so each byte is looked at
// once whatever the read boundaries, and it never holds the data.
//
// Accepted input is what redis-server 7.0 accepts, with one difference:
// a NUL byte in a header or inline line, which makes Redis wait for more
// input forever, is judged here as Redis would judge it if it did look.
type Scanner struct {
	lim   Limits
	state scanState
	err   error

	// hdr holds the current header line's bytes after '*' or '$' while
	// they can still be a number; hdrLen counts all of them.
	hdr    [20]byte
	hdrLen int
	first  byte // the bulk header's first byte, which must be '$'

	args  int64 // bulks still owed by the current multibulk command
	body  int64 // bytes still owed by the current bulk, CRLF included
	cmd   int64 // bytes of the current command so far
	off   int64 // bytes consumed since the start
	count int   // complete commands

	inl inlineState
}

type scanState uint8

const (
	stStart      scanState = iota // at the first byte of a command
	stCount                       // in "*<n>" before '\r'
	stCountLF                     // after the count's '\r'
	stBulkType                    // at a bulk header's first byte
	stBulkHead                    // in "$<n>" before '\r'
	stBulkHeadLF                  // after the bulk header's '\r'
	stBody                        // inside a bulk's data and CRLF
	stInline                      // inside an inline command line
)

// NewScanner returns a Scanner enforcing l (zero fields: Redis defaults).
func NewScanner(l Limits) *Scanner {
	return &Scanner{lim: l.withDefaults()}
}

// Reset forgets the stream, keeping the limits.
func (s *Scanner) Reset() { *s = Scanner{lim: s.lim} }

// Commands is the number of complete commands seen. Empty ones ("*0",
// a blank inline line), which Redis skips, are not counted.
func (s *Scanner) Commands() int { return s.count }

// Offset is the number of bytes consumed since the start.
func (s *Scanner) Offset() int64 { return s.off }

// Pending is the number of bytes of the current, incomplete command.
// After an error it counts the refused command's bytes up to the error,
// so Offset()-Pending() is where that command began.
func (s *Scanner) Pending() int64 { return s.cmd }

// Owed is the number of bytes the current bulk still needs, its CRLF
// included, or 0 outside a bulk's data: a lower bound on what the
// current command still needs, which lets a reader size its buffer for
// a big value before the value arrives.
func (s *Scanner) Owed() int64 {
	if s.state == stBody {
		return s.body
	}
	return 0
}

// Err is the error that stopped the scanner, if any.
func (s *Scanner) Err() error { return s.err }

// Feed consumes p. It returns a *QueryError when the stream is malformed
// or over a limit; the error sticks, and Commands counts the commands
// complete before it, which Redis would still have run.
func (s *Scanner) Feed(p []byte) error {
	for len(p) > 0 {
		n, _, err := s.Next(p)
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return s.err
}

// Next consumes p up to the end of the current command. It returns the
// bytes consumed and whether a command ended at p[n-1]; when none did,
// n is len(p) or the error's position.
func (s *Scanner) Next(p []byte) (n int, end bool, err error) {
	if s.err != nil {
		return 0, false, s.err
	}
	for n < len(p) {
		var done bool
		m := 0
		switch s.state {
		case stStart:
			if p[n] == '*' {
				s.state, s.hdrLen, m = stCount, 0, 1
			} else {
				s.state = stInline
				s.inl.reset()
			}
		case stBulkType:
			s.first, s.hdrLen, m = p[n], 0, 1
			s.state = stBulkHead
			if s.first == '\r' {
				s.state = stBulkHeadLF // an empty line; Redis reports the '\r'
			}
		case stCount, stBulkHead:
			m, err = s.header(p[n:])
		case stCountLF:
			m = 1
			err = s.countDone()
		case stBulkHeadLF:
			m = 1
			err = s.bulkDone()
		case stBody:
			m = len(p) - n
			if int64(m) >= s.body {
				m = int(s.body)
				s.args--
				if s.args == 0 {
					s.state, done = stStart, true
				} else {
					s.state = stBulkType
				}
			}
			s.body -= int64(m)
		case stInline:
			m, done, err = s.inline(p[n:])
		}
		n += m
		s.cmd += int64(m)
		s.off += int64(m)
		if s.state == stStart {
			s.cmd = 0 // a command ended, or an empty one Redis skips
		}
		if err != nil {
			s.err = err
			return n, false, err
		}
		if done {
			s.count++
			return n, true, nil
		}
	}
	return n, false, nil
}

// header consumes a header line's bytes up to and including '\r',
// keeping the first 20 after the type byte: a longer line cannot be a
// number Redis accepts.
func (s *Scanner) header(p []byte) (int, error) {
	i := bytes.IndexByte(p, '\r')
	line := p
	if i >= 0 {
		line = p[:i]
	}
	if s.hdrLen < len(s.hdr) {
		copy(s.hdr[s.hdrLen:], line)
	}
	s.hdrLen += len(line)
	if 1+s.hdrLen > MaxInline {
		// Redis gives up on a line this long only while its '\r' has not
		// arrived; judging by length alone keeps the verdict independent
		// of how the bytes were split.
		if s.state == stCount {
			return len(line), ErrTooBigMultibulkCount
		}
		return len(line), ErrTooBigBulkCount
	}
	if i < 0 {
		return len(p), nil
	}
	if s.state == stCount {
		s.state = stCountLF
	} else {
		s.state = stBulkHeadLF
	}
	return i + 1, nil
}

// digits is the header line's text after the type byte, or nil when it
// is too long to be a number.
func (s *Scanner) digits() []byte {
	if s.hdrLen > len(s.hdr) {
		return nil
	}
	return s.hdr[:s.hdrLen]
}

// countDone judges "*<n>\r" once the byte after '\r' is in (Redis does
// not look at that byte). A count of zero or less is no command: Redis
// skips it, and so does the scanner.
func (s *Scanner) countDone() error {
	n, ok := parseInt(s.digits())
	if !ok || n > int64(s.lim.MaxArgs) || n > 1<<31-1 {
		return ErrInvalidMultibulkLength
	}
	if n <= 0 {
		s.state = stStart
		return nil
	}
	s.args = n
	s.state = stBulkType
	return nil
}

// bulkDone judges "$<n>\r" once the byte after '\r' is in.
func (s *Scanner) bulkDone() error {
	if s.first != '$' {
		return expectedDollar(s.first)
	}
	n, ok := parseInt(s.digits())
	if !ok || n < 0 || n > s.lim.MaxBulk {
		return ErrInvalidBulkLength
	}
	if s.cmd+1+n+2 > s.lim.MaxRequest {
		return ErrTooBigRequest
	}
	s.body = n + 2
	s.state = stBody
	return nil
}
