package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// value is a decoded RESP2 reply, for the few replies the client reads
// itself (CLUSTER SHARDS, CLUSTER SLOTS, SCAN, DBSIZE). The data path
// never decodes; it only frames.
type value struct {
	kind  byte // '+', '-', ':', '$', '*'; '_' for a null
	str   []byte
	num   int64
	elems []value
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
	case '+', '-':
		return value{kind: kind, str: line}, next, nil
	case ':':
		n, err := strconv.ParseInt(string(line), 10, 64)
		if err != nil {
			return value{}, 0, fmt.Errorf("bad integer %q", line)
		}
		return value{kind: kind, num: n}, next, nil
	case '$':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return value{}, 0, fmt.Errorf("bad bulk length %q", line)
		}
		if n < 0 {
			return value{kind: '_'}, next, nil
		}
		if next+n+2 > len(b) {
			return value{}, 0, errShort
		}
		return value{kind: kind, str: b[next : next+n]}, next + n + 2, nil
	case '*':
		n, err := strconv.Atoi(string(line))
		if err != nil {
			return value{}, 0, fmt.Errorf("bad array length %q", line)
		}
		if n < 0 {
			return value{kind: '_'}, next, nil
		}
		v := value{kind: kind, elems: make([]value, n)}
		for i := range n {
			if v.elems[i], next, err = decodeAt(b, next); err != nil {
				return value{}, 0, err
			}
		}
		return v, next, nil
	}
	return value{}, 0, fmt.Errorf("unexpected reply type %q", kind)
}

// field returns the value under name in a RESP2 flattened map (name,
// value, name, value ...), as CLUSTER SHARDS answers.
func (v value) field(name string) (value, bool) {
	for i := 0; i+1 < len(v.elems); i += 2 {
		if string(v.elems[i].str) == name {
			return v.elems[i+1], true
		}
	}
	return value{}, false
}
