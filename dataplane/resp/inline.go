package resp

// inlineState follows an inline command line ("SET k v\r\n") through the
// rules of Redis's sdssplitargs, one byte at a time, to learn what Redis
// would: whether the line has any argument and whether its quotes
// balance. The arguments themselves are not kept.
type inlineState struct {
	st        inlineStep
	argc      int
	lineLen   int  // bytes before '\n', a final '\r' included
	pendingCR bool // a '\r' that ends the line if '\n' follows
}

type inlineStep uint8

const (
	inBlank      inlineStep = iota // between arguments
	inToken                        // in an unquoted argument
	inDouble                       // inside "..."
	inDoubleEsc                    // after '\' inside "..."
	inSingle                       // inside '...'
	inSingleEsc                    // after '\' inside '...'
	inAfterQuote                   // just after a closing quote
	inStopped                      // after a NUL: Redis reads no further
	inBad                          // unbalanced quotes
)

func (s *inlineState) reset() { *s = inlineState{} }

// inline consumes an inline line up to and including '\n'.
func (s *Scanner) inline(p []byte) (int, bool, error) {
	l := &s.inl
	for i, c := range p {
		if c == '\n' {
			l.pendingCR = false // the line's "\r\n": not content
			if l.st == inBad || l.open() {
				return i + 1, false, ErrUnbalancedQuotes
			}
			s.state = stStart
			return i + 1, l.argc > 0, nil
		}
		l.lineLen++
		if l.lineLen > MaxInline {
			return i + 1, false, ErrTooBigInline
		}
		if l.pendingCR {
			l.step('\r')
			l.pendingCR = false
		}
		if c == '\r' {
			l.pendingCR = true
			continue
		}
		l.step(c)
	}
	return len(p), false, nil
}

// open reports whether the line ended inside quotes.
func (s *inlineState) open() bool {
	switch s.st {
	case inDouble, inDoubleEsc, inSingle, inSingleEsc:
		return true
	}
	return false
}

// step feeds one content byte.
func (s *inlineState) step(c byte) {
	switch s.st {
	case inBlank:
		switch {
		case c == 0:
			s.st = inStopped
		case isSpace(c):
		default:
			s.argc++
			s.st = inToken
			s.token(c)
		}
	case inToken:
		s.token(c)
	case inDouble:
		switch c {
		case '\\':
			s.st = inDoubleEsc
		case '"':
			s.st = inAfterQuote
		case 0:
			s.st = inBad
		}
	case inDoubleEsc:
		// "\x41" is four bytes but, hex digits being ordinary, it
		// balances like the two-byte escape "\x" followed by "41".
		s.st = inDouble
		if c == 0 {
			s.st = inBad
		}
	case inSingle:
		switch c {
		case '\\':
			s.st = inSingleEsc
		case '\'':
			s.st = inAfterQuote
		case 0:
			s.st = inBad
		}
	case inSingleEsc:
		// Only \' is an escape in single quotes; otherwise the '\' is
		// literal and c is read afresh.
		s.st = inSingle
		if c != '\'' {
			s.step(c)
		}
	case inAfterQuote:
		switch {
		case c == 0:
			s.st = inStopped
		case isSpace(c):
			s.st = inBlank
		default:
			s.st = inBad // a closing quote must be followed by a space
		}
	}
}

// token feeds a byte of an unquoted argument. Only these five bytes end
// one: sdssplitargs does not treat \v and \f as separators here, though
// it skips them between arguments.
func (s *inlineState) token(c byte) {
	switch c {
	case ' ', '\n', '\r', '\t':
		s.st = inBlank
	case 0:
		s.st = inStopped
	case '"':
		s.st = inDouble
	case '\'':
		s.st = inSingle
	}
}

// isSpace is C's isspace in the "C" locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}
