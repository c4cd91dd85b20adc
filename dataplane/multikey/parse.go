package multikey

import (
	"bytes"
	"fmt"
	"strconv"

	"keyway.dev/dataplane/resp"
)

// The few RESP readers merging needs. Replies come from an upstream that
// already framed them whole, so these only split, they never wait for
// more bytes; an incomplete reply is malformed.

// line returns the header line of b without its type byte and CRLF, and
// the length of the header including them.
func line(b []byte) ([]byte, int, error) {
	i := bytes.Index(b, []byte("\r\n"))
	if i < 1 {
		return nil, 0, fmt.Errorf("reply %.20q: no line: %w", b, ErrBadReply)
	}
	return b[1:i], i + 2, nil
}

func integer(b []byte) (int64, error) {
	if len(b) == 0 || b[0] != ':' {
		return 0, fmt.Errorf("reply %.20q: want an integer: %w", b, ErrBadReply)
	}
	l, _, err := line(b)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(l), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reply %.20q: %w", b, ErrBadReply)
	}
	return n, nil
}

// arrayHeader returns the element count of an array reply and its body.
func arrayHeader(b []byte) (int, []byte, error) {
	if len(b) == 0 || b[0] != '*' {
		return 0, nil, fmt.Errorf("reply %.20q: want an array: %w", b, ErrBadReply)
	}
	l, h, err := line(b)
	if err != nil {
		return 0, nil, err
	}
	n, err := strconv.Atoi(string(l))
	if err != nil || n < 0 {
		return 0, nil, fmt.Errorf("reply %.20q: bad array length: %w", b, ErrBadReply)
	}
	return n, b[h:], nil
}

// valueLen is the length of the RESP value at the start of b, which
// must hold all of it.
func valueLen(b []byte) (int, error) {
	n, err := resp.ReplyLen(b)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadReply, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("reply ended early: %w", ErrBadReply)
	}
	return n, nil
}
