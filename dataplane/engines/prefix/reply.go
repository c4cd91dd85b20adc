package prefix

import (
	"bytes"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// stripReply takes the prefix off the keys in r's reply, for the
// commands whose replies carry keys. Errors and replies of other shapes
// are left alone.
func (p *Prefix) stripReply(sc *scratch, r *engine.Request) {
	raw := r.Raw()
	if len(raw) == 0 || raw[0] == '-' {
		return
	}
	var out []byte
	ok := false
	switch s := r.Cmd.Spec; {
	case s == specKeys:
		out, ok = p.stripArray(sc.out[:0], raw)
	case s == specScan:
		out, ok = p.stripScan(sc.out[:0], raw)
	case s == specRandomKey:
		out, ok = p.stripRandomKey(sc.out[:0], raw)
	case keyFirst[s]:
		out, ok = p.stripFirst(sc.out[:0], raw)
	default:
		return
	}
	if ok {
		r.Reply(out)
		sc.out = out[:0]
	}
}

// stripBulk copies the bulk string at raw[pos:] to dst without the
// prefix (a key without it is copied as it is) and returns where the
// next element starts.
func (p *Prefix) stripBulk(dst, raw []byte, pos int) ([]byte, int, bool) {
	key, next, ok := resp.Bulk(raw, pos)
	if !ok {
		return dst, 0, false
	}
	return resp.AppendBulk(dst, bytes.TrimPrefix(key, p.prefix)), next, true
}

// stripArray rewrites an array of bulk keys (KEYS, SCAN's second element).
func (p *Prefix) stripArray(dst, raw []byte) ([]byte, bool) {
	out, _, ok := p.stripArrayAt(dst, raw, 0)
	return out, ok
}

func (p *Prefix) stripArrayAt(dst, raw []byte, pos int) ([]byte, int, bool) {
	n, pos, ok := resp.Header(raw, pos, '*')
	if !ok || n < 0 {
		return dst, 0, false
	}
	dst = resp.AppendArray(dst, n)
	for range n {
		if dst, pos, ok = p.stripBulk(dst, raw, pos); !ok {
			return dst, 0, false
		}
	}
	return dst, pos, true
}

// stripScan rewrites [cursor, [keys...]].
func (p *Prefix) stripScan(dst, raw []byte) ([]byte, bool) {
	n, pos, ok := resp.Header(raw, 0, '*')
	if !ok || n != 2 {
		return dst, false
	}
	clen, err := resp.ReplyLen(raw[pos:])
	if err != nil || clen == 0 {
		return dst, false
	}
	dst = resp.AppendArray(dst, 2)
	dst = append(dst, raw[pos:pos+clen]...)
	dst, _, ok = p.stripArrayAt(dst, raw, pos+clen)
	return dst, ok
}

// stripRandomKey strips the key RANDOMKEY found, and answers nil for a
// key outside the prefix: it belongs to another tenant of the same Redis,
// and showing it would leak its name.
func (p *Prefix) stripRandomKey(dst, raw []byte) ([]byte, bool) {
	n, body, ok := resp.Header(raw, 0, '$')
	if !ok || n < 0 || body+n > len(raw) {
		return dst, false
	}
	if !bytes.HasPrefix(raw[body:body+n], p.prefix) {
		return resp.AppendNullBulk(dst), true
	}
	out, _, ok := p.stripBulk(dst, raw, 0)
	return out, ok
}

// stripFirst rewrites the key at the head of an array reply (BLPOP's
// [key, value], LMPOP's [key, [values]]), copying the rest as it is.
func (p *Prefix) stripFirst(dst, raw []byte) ([]byte, bool) {
	n, pos, ok := resp.Header(raw, 0, '*')
	if !ok || n < 1 {
		return dst, false
	}
	dst = resp.AppendArray(dst, n)
	if dst, pos, ok = p.stripBulk(dst, raw, pos); !ok {
		return dst, false
	}
	return append(dst, raw[pos:]...), true
}
