package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// value is a decoded reply, for the few replies the client reads itself
// (CLUSTER SHARDS, CLUSTER SLOTS, and the cluster-wide commands it
// merges). The data path never decodes; it only frames. Replies to a
// RESP3 client come from connections that ran HELLO 3, so every RESP3
// type may appear; kind keeps the type byte so a merged reply can be
// written back in the shape the nodes used.
type value struct {
	// kind is the RESP type byte: '+', '-', ':', '$', '*' and RESP3's
	// '%' (map, elems hold key, value, key, value ...), '~' (set), '>'
	// (push), ',' (double), '#' (boolean), '(' (big number), '='
	// (verbatim string, str keeps the "txt:" prefix), '!' (blob error);
	// '_' for a null of either protocol, with null set to the bytes the
	// node sent ("$-1", "*-1" or "_") so it is written back unchanged.
	kind  byte
	str   []byte
	num   int64
	elems []value
	null  string
}

var errShort = errors.New("reply ended early")

// decode parses one whole reply from b.
func decode(b []byte) (value, error) {
	v, n, err := decodeAt(b, 0)
	if err != nil {
		return value{}, err
	}
	if n != len(b) {
		return value{}, fmt.Errorf("%d bytes after the reply", len(b)-n)
	}
	return v, nil
}

func decodeAt(b []byte, pos int) (value, int, error) {
	if pos >= len(b) {
		return value{}, 0, errShort
	}
	end := bytes.Index(b[pos:], []byte("\r\n"))
	if end < 0 {
		return value{}, 0, errShort
	}
	line := b[pos+1 : pos+end]
	next := pos + end + 2
	kind := b[pos]
	switch kind {
	case '+', '-', ',', '#', '(':
		return value{kind: kind, str: line}, next, nil
	case '_':
		return value{kind: '_', null: "_"}, next, nil
	case ':':
		n, err := strconv.ParseInt(string(line), 10, 64)
		if err != nil {
			return value{}, 0, fmt.Errorf("bad integer %q", line)
		}
		return value{kind: kind, num: n}, next, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return value{}, 0, fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return value{kind: '_', null: string(b[pos : next-2])}, next, nil
		}
		if next+n+2 > len(b) {
			return value{}, 0, errShort
		}
		return value{kind: kind, str: b[next : next+n]}, next + n + 2, nil
	case '*', '%', '~', '>', '|':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return value{}, 0, fmt.Errorf("bad aggregate length %q", line)
		}
		if n < 0 {
			return value{kind: '_', null: string(b[pos : next-2])}, next, nil
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		v := value{kind: kind, elems: make([]value, n)}
		for i := range n {
			if v.elems[i], next, err = decodeAt(b, next); err != nil {
				return value{}, 0, err
			}
		}
		if kind == '|' {
			// An attribute annotates the reply after it; the proxy
			// merges the reply and has no use for the annotation.
			return decodeAt(b, next)
		}
		return v, next, nil
	}
	return value{}, 0, fmt.Errorf("unexpected reply type %q", kind)
}

// field returns the value under name in a map: a RESP3 map or a RESP2
// flattened one (name, value, name, value ...), as CLUSTER SHARDS
// answers.
func (v value) field(name string) (value, bool) {
	for i := 0; i+1 < len(v.elems); i += 2 {
		if string(v.elems[i].str) == name {
			return v.elems[i+1], true
		}
	}
	return value{}, false
}

// isMap reports whether v holds pairs: a RESP3 map, or an array the
// caller knows to be a flattened RESP2 map.
func (v value) isMap() bool { return v.kind == '%' || (v.kind == '*' && len(v.elems)%2 == 0) }

// isNull reports a null of either protocol.
func (v value) isNull() bool { return v.kind == '_' }

// appendTo writes v back as RESP in its own shape.
func (v value) appendTo(b []byte) []byte {
	switch v.kind {
	case '+', '-', ',', '#', '(':
		b = append(b, v.kind)
		b = append(b, v.str...)
		return append(b, '\r', '\n')
	case '_':
		b = append(b, v.null...)
		return append(b, '\r', '\n')
	case ':':
		return appendHeader(b, ':', int(v.num))
	case '$', '=', '!':
		b = appendHeader(b, v.kind, len(v.str))
		b = append(b, v.str...)
		return append(b, '\r', '\n')
	case '%':
		b = appendHeader(b, '%', len(v.elems)/2)
	default: // '*', '~', '>'
		b = appendHeader(b, v.kind, len(v.elems))
	}
	for _, e := range v.elems {
		b = e.appendTo(b)
	}
	return b
}

func appendHeader(b []byte, kind byte, n int) []byte {
	b = append(b, kind)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

// appendText writes text the way the node wrote the reply it stands for:
// a verbatim string ("=" with its "txt:" format) to a RESP3 client, a
// bulk string otherwise.
func appendText(b []byte, like value, text []byte) []byte {
	if like.kind != '=' {
		b = appendHeader(b, '$', len(text))
		b = append(b, text...)
		return append(b, '\r', '\n')
	}
	format := []byte("txt:")
	if len(like.str) >= 4 && like.str[3] == ':' {
		format = like.str[:4]
	}
	b = appendHeader(b, '=', len(format)+len(text))
	b = append(b, format...)
	b = append(b, text...)
	return append(b, '\r', '\n')
}

// text is the content of a bulk or verbatim string, without the
// verbatim's format prefix.
func (v value) text() []byte {
	if v.kind == '=' && len(v.str) >= 4 && v.str[3] == ':' {
		return v.str[4:]
	}
	return v.str
}
