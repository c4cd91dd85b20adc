package resp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// This file is the one place that reads replies the proxy must look
// inside: the data path only frames (ReplyLen); the few places that
// rewrite or merge a reply use Header and Integer on the bytes as they
// are, and those that must understand a whole reply (CLUSTER SHARDS,
// replies merged across nodes) decode it into a Value. Every reader here
// is given a reply that ReplyLen already framed whole, so none waits for
// more bytes: an incomplete reply is malformed.

// ErrMalformedReply is wrapped by every error a reader in this file
// returns.
var ErrMalformedReply = errors.New("malformed reply")

// Header parses the "<typ>N\r\n" header at b[pos:], returning N (negative
// for RESP2's nulls) and where the body starts. ok is false when b[pos] is
// not typ or the header is not a well-formed count.
func Header(b []byte, pos int, typ byte) (n, body int, ok bool) {
	if pos >= len(b) || b[pos] != typ {
		return 0, 0, false
	}
	end := bytes.Index(b[pos:], crlf)
	if end < 0 {
		return 0, 0, false
	}
	n, err := strconv.Atoi(string(b[pos+1 : pos+end]))
	if err != nil {
		return 0, 0, false
	}
	return n, pos + end + 2, true
}

// Bulk returns the bulk string at b[pos:] and where the next element
// starts. ok is false for anything else, a null bulk included.
func Bulk(b []byte, pos int) (s []byte, next int, ok bool) {
	n, body, ok := Header(b, pos, '$')
	if !ok || n < 0 || body+n+2 > len(b) {
		return nil, 0, false
	}
	return b[body : body+n], body + n + 2, true
}

// Integer returns the value of the integer reply b.
func Integer(b []byte) (int64, error) {
	if len(b) == 0 || b[0] != ':' {
		return 0, fmt.Errorf("reply %.20q: want an integer: %w", b, ErrMalformedReply)
	}
	end := bytes.Index(b, crlf)
	if end < 0 {
		return 0, fmt.Errorf("reply %.20q: no line end: %w", b, ErrMalformedReply)
	}
	n, err := strconv.ParseInt(string(b[1:end]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("reply %.20q: %w", b, ErrMalformedReply)
	}
	return n, nil
}

var crlf = []byte("\r\n")

// Value is a decoded reply. Kind keeps the RESP type byte so that a
// reply rebuilt from Values keeps the shape the node used: replies to a
// RESP3 client come from connections that ran HELLO 3, so every RESP3
// type may appear.
type Value struct {
	// Kind is the type byte: '+', '-', ':', '$', '*' and RESP3's '%'
	// (map: Elems hold key, value, key, value ...), '~' (set), '>'
	// (push), ',' (double), '#' (boolean), '(' (big number), '='
	// (verbatim string, Str keeps the "txt:" prefix), '!' (blob error);
	// '_' for a null of either protocol, with Null set to the bytes the
	// node sent ("$-1", "*-1" or "_") so it is written back unchanged.
	Kind  byte
	Str   []byte
	Num   int64
	Elems []Value
	Null  string
}

// ParseValue decodes the one whole reply b. Str fields alias b.
func ParseValue(b []byte) (Value, error) {
	v, n, err := parseAt(b, 0)
	if err != nil {
		return Value{}, fmt.Errorf("%w: %w", ErrMalformedReply, err)
	}
	if n != len(b) {
		return Value{}, fmt.Errorf("%w: %d bytes after the reply", ErrMalformedReply, len(b)-n)
	}
	return v, nil
}

var errShort = errors.New("reply ended early")

func parseAt(b []byte, pos int) (Value, int, error) {
	if pos >= len(b) {
		return Value{}, 0, errShort
	}
	end := bytes.Index(b[pos:], crlf)
	if end < 0 {
		return Value{}, 0, errShort
	}
	if end == 0 {
		return Value{}, 0, errors.New("a reply line without a type")
	}
	line := b[pos+1 : pos+end]
	next := pos + end + 2
	kind := b[pos]
	switch kind {
	case '+', '-', ',', '#', '(':
		return Value{Kind: kind, Str: line}, next, nil
	case '_':
		return Value{Kind: '_', Null: "_"}, next, nil
	case ':':
		n, err := strconv.ParseInt(string(line), 10, 64)
		if err != nil {
			return Value{}, 0, fmt.Errorf("bad integer %q", line)
		}
		return Value{Kind: kind, Num: n}, next, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return Value{}, 0, fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return Value{Kind: '_', Null: string(b[pos : next-2])}, next, nil
		}
		if next+n+2 > len(b) {
			return Value{}, 0, errShort
		}
		return Value{Kind: kind, Str: b[next : next+n]}, next + n + 2, nil
	case '*', '%', '~', '>', '|':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return Value{}, 0, fmt.Errorf("bad aggregate length %q", line)
		}
		if n < 0 {
			return Value{Kind: '_', Null: string(b[pos : next-2])}, next, nil
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		// The count is bounded by what b can hold (an element is at
		// least three bytes), so a corrupt count cannot allocate more
		// than the reply's own size.
		if n > (len(b)-next)/3 {
			return Value{}, 0, errShort
		}
		v := Value{Kind: kind, Elems: make([]Value, n)}
		for i := range n {
			if v.Elems[i], next, err = parseAt(b, next); err != nil {
				return Value{}, 0, err
			}
		}
		if kind == '|' {
			// An attribute annotates the reply after it; readers of
			// whole replies have no use for the annotation.
			return parseAt(b, next)
		}
		return v, next, nil
	}
	return Value{}, 0, fmt.Errorf("unexpected reply type %q", kind)
}

// Field returns the value under name in a map: a RESP3 map or a RESP2
// flattened one (name, value, name, value ...), as CLUSTER SHARDS
// answers.
func (v Value) Field(name string) (Value, bool) {
	for i := 0; i+1 < len(v.Elems); i += 2 {
		if string(v.Elems[i].Str) == name {
			return v.Elems[i+1], true
		}
	}
	return Value{}, false
}

// IsMap reports whether v holds pairs: a RESP3 map, or an array the
// caller knows to be a flattened RESP2 map.
func (v Value) IsMap() bool { return v.Kind == '%' || (v.Kind == '*' && len(v.Elems)%2 == 0) }

// IsNull reports a null of either protocol.
func (v Value) IsNull() bool { return v.Kind == '_' }

// Text is the content of a bulk or verbatim string, without the
// verbatim's format prefix.
func (v Value) Text() []byte {
	if v.Kind == '=' && len(v.Str) >= 4 && v.Str[3] == ':' {
		return v.Str[4:]
	}
	return v.Str
}

// AppendTo writes v back as RESP in its own shape.
func (v Value) AppendTo(b []byte) []byte {
	switch v.Kind {
	case '+', '-', ',', '#', '(':
		b = append(b, v.Kind)
		b = append(b, v.Str...)
		return append(b, '\r', '\n')
	case '_':
		b = append(b, v.Null...)
		return append(b, '\r', '\n')
	case ':':
		return AppendInt(b, v.Num)
	case '$', '=', '!':
		b = appendHeader(b, v.Kind, len(v.Str))
		b = append(b, v.Str...)
		return append(b, '\r', '\n')
	case '%':
		b = appendHeader(b, '%', len(v.Elems)/2)
	default: // '*', '~', '>'
		b = appendHeader(b, v.Kind, len(v.Elems))
	}
	for _, e := range v.Elems {
		b = e.AppendTo(b)
	}
	return b
}

// AppendTextLike writes text the way a node wrote the reply like: a
// verbatim string ('=' with its format) to a RESP3 client, a bulk string
// otherwise.
func AppendTextLike(b []byte, like Value, text []byte) []byte {
	if like.Kind != '=' {
		return AppendBulk(b, text)
	}
	format := []byte("txt:")
	if len(like.Str) >= 4 && like.Str[3] == ':' {
		format = like.Str[:4]
	}
	b = appendHeader(b, '=', len(format)+len(text))
	b = append(b, format...)
	b = append(b, text...)
	return append(b, '\r', '\n')
}

// ElementLen is the length of the reply at the start of b, which must
// hold all of it: unlike ReplyLen, an incomplete reply is an error.
func ElementLen(b []byte) (int, error) {
	n, err := ReplyLen(b)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrMalformedReply, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("%w: %w", ErrMalformedReply, errShort)
	}
	return n, nil
}

// IsError reports whether the whole reply raw is a RESP2 error, the one
// shape every caller that only needs "did Redis refuse?" looks for.
func IsError(raw []byte) bool { return len(raw) > 0 && raw[0] == '-' }

// IsRedirect reports whether raw is Redis Cluster's MOVED or ASK. On a
// connection held to one node, such as a pinned transaction's or a
// tracking connection, either means the key lives elsewhere now.
func IsRedirect(raw []byte) bool {
	return bytes.HasPrefix(raw, movedPrefix) || bytes.HasPrefix(raw, askPrefix)
}

var (
	movedPrefix = []byte("-MOVED ")
	askPrefix   = []byte("-ASK ")
)

// LineText is the text of a one-line reply (a status or an error)
// without its type byte and line end, for messages that quote Redis.
// Anything too short to hold both is returned as it is.
func LineText(raw []byte) string {
	if len(raw) >= 3 {
		return string(raw[1 : len(raw)-2])
	}
	return string(raw)
}
