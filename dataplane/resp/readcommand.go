package resp

import "bytes"

// ReadCommand parses the first command in b, which must hold all of it,
// and appends its arguments to args[:0]. It returns the bytes the command
// took: 0 with a nil error when b holds only part of one; n > 0 with no
// arguments for what Redis skips ("*0\r\n", a blank line). Multibulk
// arguments are slices of b; inline ones are unquoted in place, so b's
// inline lines may be rewritten.
//
// It applies the same rules and limits as Scanner, in one pass over a
// complete buffer, and so serves the server (which feeds a Scanner as
// bytes arrive and calls ReadCommand once a command is complete) and the
// tests that check the Scanner against it.
func ReadCommand(b []byte, lim Limits, args [][]byte) (int, [][]byte, error) {
	args = args[:0]
	if len(b) == 0 {
		return 0, args, nil
	}
	if b[0] != '*' {
		return readInline(b, args)
	}
	lim = lim.withDefaults()
	end, ok, err := headerLine(b, 0, ErrTooBigMultibulkCount)
	if !ok || err != nil {
		return 0, args, err
	}
	count, ok := parseInt(b[1 : end-2])
	if !ok || count > int64(lim.MaxArgs) || count > 1<<31-1 {
		return 0, args, ErrInvalidMultibulkLength
	}
	pos := end
	for i := int64(0); i < count; i++ {
		if pos >= len(b) {
			return 0, args[:0], nil
		}
		end, ok, err := headerLine(b, pos, ErrTooBigBulkCount)
		if !ok || err != nil {
			return 0, args[:0], err
		}
		if b[pos] != '$' {
			return 0, args[:0], expectedDollar(b[pos])
		}
		n, ok := parseInt(b[pos+1 : end-2])
		if !ok || n < 0 || n > lim.MaxBulk {
			return 0, args[:0], ErrInvalidBulkLength
		}
		if int64(end)+n+2 > lim.MaxRequest {
			return 0, args[:0], ErrTooBigRequest
		}
		if int64(len(b)-end) < n+2 {
			return 0, args[:0], nil
		}
		args = append(args, b[end:end+int(n):end+int(n)])
		pos = end + int(n) + 2
	}
	return pos, args, nil
}

// headerLine finds the end of the header line at b[pos] (its type byte,
// then text up to '\r', then one more byte that Redis does not look at)
// and returns the offset after it; ok is false while it is incomplete.
func headerLine(b []byte, pos int, tooBig error) (end int, ok bool, err error) {
	if b[pos] == '\r' { // the type byte itself ends the line
		if pos+1 < len(b) {
			return pos + 2, true, nil
		}
		return 0, false, nil
	}
	i := bytes.IndexByte(b[pos+1:], '\r')
	if i < 0 {
		if len(b)-pos > MaxInline {
			return 0, false, tooBig
		}
		return 0, false, nil
	}
	cr := pos + 1 + i
	if cr-pos > MaxInline {
		return 0, false, tooBig
	}
	if cr+1 >= len(b) {
		return 0, false, nil
	}
	return cr + 2, true, nil
}

// readInline reads an inline command: a line split like Redis's
// sdssplitargs.
func readInline(b []byte, args [][]byte) (int, [][]byte, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		if len(b) > MaxInline {
			return 0, args, ErrTooBigInline
		}
		return 0, args, nil
	}
	if i > MaxInline {
		return 0, args, ErrTooBigInline
	}
	line := b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	args, ok := splitArgs(line, args)
	if !ok {
		return 0, args[:0], ErrUnbalancedQuotes
	}
	return i + 1, args, nil
}
