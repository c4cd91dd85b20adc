package nearcache

import (
	"bytes"
	"errors"
	"strconv"
)

var invalidateHead = []byte(">2\r\n$10\r\ninvalidate\r\n")

var errBadPush = errors.New("malformed invalidate push")

// parseInvalidate reads a RESP3 invalidate push. It reports whether the
// frame is one, calls key for each key it names, and reports a flush (a
// null key list: FLUSHALL, FLUSHDB, or Redis dropping its tracking
// table). An invalidate push that cannot be read is an error; the caller
// treats it as a gap.
func parseInvalidate(frame []byte, key func([]byte)) (isInvalidate, flushAll bool, err error) {
	if !bytes.HasPrefix(frame, invalidateHead) {
		return false, false, nil
	}
	rest := frame[len(invalidateHead):]
	if len(rest) == 0 {
		return true, false, errBadPush
	}
	if rest[0] == '_' || bytes.HasPrefix(rest, []byte("*-1\r\n")) {
		return true, true, nil
	}
	n, rest, err := header(rest, '*')
	if err != nil {
		return true, false, err
	}
	for range n {
		var l int
		if l, rest, err = header(rest, '$'); err != nil {
			return true, false, err
		}
		if l < 0 || len(rest) < l+2 {
			return true, false, errBadPush
		}
		key(rest[:l])
		rest = rest[l+2:]
	}
	return true, false, nil
}

// header reads "<kind><n>\r\n" and returns n and what follows.
func header(b []byte, kind byte) (int, []byte, error) {
	if len(b) == 0 || b[0] != kind {
		return 0, nil, errBadPush
	}
	end := bytes.Index(b, []byte("\r\n"))
	if end < 0 {
		return 0, nil, errBadPush
	}
	n, err := strconv.Atoi(string(b[1:end]))
	if err != nil {
		return 0, nil, errBadPush
	}
	return n, b[end+2:], nil
}
