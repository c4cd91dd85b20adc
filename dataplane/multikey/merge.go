package multikey

import (
	"fmt"
	"strconv"

	"keyway.dev/dataplane/resp"
)

// ErrBadReply is returned when a part's reply is not what its command
// answers; the proxy, not Redis, is at fault.
var ErrBadReply = resp.ErrMalformedReply

// AppendReply appends the client's reply to dst, built from replies[j],
// the raw RESP reply of Parts[j]. A Redis error reply of any part (the
// first, in part order) becomes the whole reply, as a single Redis would
// have failed the whole command. It returns an error only when a reply
// cannot be parsed.
func (p *Plan) AppendReply(dst []byte, replies [][]byte) ([]byte, error) {
	if len(replies) != len(p.Parts) {
		return dst, fmt.Errorf("merge %d parts: got %d replies: %w", len(p.Parts), len(replies), ErrBadReply)
	}
	for _, r := range replies {
		if len(r) > 0 && r[0] == '-' {
			return append(dst, r...), nil
		}
	}
	switch p.Merge {
	case MergeOK:
		for _, r := range replies {
			if len(r) == 0 || r[0] != '+' {
				return dst, fmt.Errorf("merge ok: reply %q: %w", r, ErrBadReply)
			}
		}
		return append(dst, "+OK\r\n"...), nil
	case MergeSum:
		var sum int64
		for _, r := range replies {
			n, err := resp.Integer(r)
			if err != nil {
				return dst, fmt.Errorf("merge sum: %w", err)
			}
			sum += n
		}
		dst = append(dst, ':')
		dst = strconv.AppendInt(dst, sum, 10)
		return append(dst, '\r', '\n'), nil
	case MergeValues:
		return p.appendValues(dst, replies)
	}
	return dst, fmt.Errorf("merge %s: %w", p.Merge, ErrNotScatterable)
}

func (p *Plan) appendValues(dst []byte, replies [][]byte) ([]byte, error) {
	if cap(p.elems) < p.Keys {
		p.elems = make([][]byte, p.Keys)
	}
	elems := p.elems[:p.Keys]
	for j, r := range replies {
		n, start, ok := resp.Header(r, 0, '*')
		if !ok || n < 0 {
			return dst, fmt.Errorf("merge values: reply %.20q: want an array: %w", r, ErrBadReply)
		}
		body := r[start:]
		pos := p.Parts[j].Pos
		if n != len(pos) {
			return dst, fmt.Errorf("merge values: part of %d keys answered %d values: %w", len(pos), n, ErrBadReply)
		}
		for _, i := range pos {
			l, err := resp.ElementLen(body)
			if err != nil {
				return dst, fmt.Errorf("merge values: %w", err)
			}
			elems[i] = body[:l]
			body = body[l:]
		}
	}
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(p.Keys), 10)
	dst = append(dst, '\r', '\n')
	for i, e := range elems {
		dst = append(dst, e...)
		elems[i] = nil // do not pin reply buffers
	}
	return dst, nil
}
