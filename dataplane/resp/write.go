package resp

import "strconv"

// RESP2 writers. Each appends one value to dst and returns the extended
// slice; none allocates beyond growing dst.

// AppendArray appends an array header for n elements; n < 0 is the null
// array.
func AppendArray(dst []byte, n int) []byte {
	dst = append(dst, '*')
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

// AppendBulk appends b as a bulk string.
func AppendBulk(dst, b []byte) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(b)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, b...)
	return append(dst, '\r', '\n')
}

// AppendBulkString appends s as a bulk string.
func AppendBulkString(dst []byte, s string) []byte {
	dst = append(dst, '$')
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, '\r', '\n')
	dst = append(dst, s...)
	return append(dst, '\r', '\n')
}

// AppendNullBulk appends the null bulk string, "$-1".
func AppendNullBulk(dst []byte) []byte { return append(dst, "$-1\r\n"...) }

// AppendInt appends n as an integer reply.
func AppendInt(dst []byte, n int64) []byte {
	dst = append(dst, ':')
	dst = strconv.AppendInt(dst, n, 10)
	return append(dst, '\r', '\n')
}

// AppendSimple appends s as a simple string ("+OK"). Line breaks in s
// become spaces, since a simple string cannot hold them.
func AppendSimple(dst []byte, s string) []byte {
	dst = append(dst, '+')
	dst = appendLine(dst, s)
	return append(dst, '\r', '\n')
}

// AppendError appends msg as an error reply, with the semantics of
// engine.AppendError: "ERR " is added unless msg starts with an
// upper-case error code ("WRONGTYPE ...", "MOVED ..."), and line breaks
// become spaces.
func AppendError(dst []byte, msg string) []byte {
	dst = append(dst, '-')
	if !hasErrorCode(msg) {
		dst = append(dst, "ERR "...)
	}
	dst = appendLine(dst, msg)
	return append(dst, '\r', '\n')
}

// AppendCommand appends args as a client sends a command: an array of
// bulk strings.
func AppendCommand(dst []byte, args [][]byte) []byte {
	dst = AppendArray(dst, len(args))
	for _, a := range args {
		dst = AppendBulk(dst, a)
	}
	return dst
}

func appendLine(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}

// hasErrorCode reports whether msg starts with a code: two or more of
// A-Z, 0-9, '_' followed by a space.
func hasErrorCode(msg string) bool {
	i := 0
	for i < len(msg) {
		c := msg[i]
		if (c < 'A' || c > 'Z') && c != '_' && (c < '0' || c > '9') {
			break
		}
		i++
	}
	return i >= 2 && i < len(msg) && msg[i] == ' '
}
