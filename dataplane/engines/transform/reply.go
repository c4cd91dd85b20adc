package transform

import (
	"errors"
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

var errMalformed = errors.New("malformed reply")

// openReply replaces the sealed values in r's reply with what they hold,
// building the new reply in r's own buffer. A value that cannot be
// opened fails the whole reply: the client gets an error, never the
// stored bytes.
func (t *Transform) openReply(sc *scratch, r *engine.Request, s shape) {
	raw := r.Raw()
	if len(raw) == 0 || raw[0] == '-' || raw[0] == '+' {
		// An error, or +QUEUED inside a transaction: the values come
		// with EXEC, which the server passes back through the tree.
		return
	}
	var out []byte
	var err error
	switch s {
	case replyBulk:
		if n, body, ok := resp.Header(raw, 0, '$'); ok && n >= 0 && body+n <= len(raw) && !isEnvelope(raw[body:body+n]) {
			t.stats.plain.Add(1) // stored before the policy: already right
			return
		}
		// The value is decoded into sc before the reply buffer is
		// written, so raw needs no copy.
		out, _, err = t.openBulk(sc, r.ReplyBuffer(), raw, 0, r.Cmd.Args[1])
	case replyArray:
		// Opened values may be longer than sealed ones, so the reply is
		// read from a copy while it is rewritten in place.
		sc.in = append(sc.in[:0], raw...)
		out, err = t.openArray(sc, r.ReplyBuffer(), sc.in, r.Cmd.Args[1:])
	default:
		return
	}
	if err != nil {
		t.stats.failed.Add(1)
		r.Fail(engine.KindProxy, err)
		return
	}
	r.SetReplied(out)
}

// openBulk appends to dst the element at raw[pos:] with its value opened
// and returns where the next element starts. Elements other than bulk
// strings (nil, or anything a future reply shape holds) are copied.
func (t *Transform) openBulk(sc *scratch, dst, raw []byte, pos int, key []byte) ([]byte, int, error) {
	n, body, ok := resp.Header(raw, pos, '$')
	if !ok || n < 0 {
		size, err := resp.ReplyLen(raw[pos:])
		if err != nil || size == 0 {
			return dst, 0, errMalformed
		}
		return append(dst, raw[pos:pos+size]...), pos + size, nil
	}
	if body+n+2 > len(raw) {
		return dst, 0, errMalformed
	}
	stored := raw[body : body+n]
	v, err := t.env.open(&sc.work, key, stored)
	if err != nil {
		return dst, 0, fmt.Errorf("keyway: value of %q %w", key, err)
	}
	if isEnvelope(stored) {
		t.stats.opened.Add(1)
	} else {
		t.stats.plain.Add(1)
	}
	return resp.AppendBulk(dst, v), body + n + 2, nil
}

// openArray rewrites MGET's reply: element i is the value of keys[i].
func (t *Transform) openArray(sc *scratch, dst, raw []byte, keys [][]byte) ([]byte, error) {
	n, pos, ok := resp.Header(raw, 0, '*')
	if !ok || n < 0 {
		return dst, errMalformed
	}
	dst = resp.AppendArray(dst, n)
	var err error
	for i := range n {
		var key []byte
		if i < len(keys) {
			key = keys[i]
		}
		if dst, pos, err = t.openBulk(sc, dst, raw, pos, key); err != nil {
			return dst, err
		}
	}
	return dst, nil
}
