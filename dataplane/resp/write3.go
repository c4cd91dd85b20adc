package resp

import "strconv"

// Writers that depend on the protocol a client chose with HELLO. Redis
// sends the same value in different shapes to RESP2 and RESP3 clients; a
// reply the proxy builds itself must take the shape Redis would give the
// client it answers, so each of these takes resp3.

// AppendNull appends Redis's null: "_" in RESP3, the null bulk in RESP2.
func AppendNull(dst []byte, resp3 bool) []byte {
	if resp3 {
		return append(dst, "_\r\n"...)
	}
	return AppendNullBulk(dst)
}

// AppendNullArray appends the null a RESP2 client gets where an array
// was expected ("*-1"); RESP3 has one null for everything.
func AppendNullArray(dst []byte, resp3 bool) []byte {
	if resp3 {
		return append(dst, "_\r\n"...)
	}
	return append(dst, "*-1\r\n"...)
}

// AppendMap appends the header of a map of n pairs: "%n" in RESP3, an
// array of 2n elements in RESP2.
func AppendMap(dst []byte, n int, resp3 bool) []byte {
	if !resp3 {
		return AppendArray(dst, 2*n)
	}
	return appendHeader(dst, '%', n)
}

// AppendSet appends the header of a set of n elements: "~n" in RESP3, an
// array in RESP2.
func AppendSet(dst []byte, n int, resp3 bool) []byte {
	if !resp3 {
		return AppendArray(dst, n)
	}
	return appendHeader(dst, '~', n)
}

// AppendPush appends the header of an out-of-band message of n elements
// (pub/sub, invalidation): ">n" in RESP3, an array in RESP2.
func AppendPush(dst []byte, n int, resp3 bool) []byte {
	if !resp3 {
		return AppendArray(dst, n)
	}
	return appendHeader(dst, '>', n)
}

// appendHeader appends an aggregate's type byte and count.
func appendHeader(dst []byte, typ byte, n int) []byte {
	dst = append(dst, typ)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, '\r', '\n')
}

// AppendVerbatim appends text the way Redis sends human-readable text
// (INFO, CLIENT LIST, CLUSTER NODES): a verbatim string of format "txt"
// in RESP3, a bulk string in RESP2.
func AppendVerbatim(dst []byte, text string, resp3 bool) []byte {
	if !resp3 {
		return AppendBulkString(dst, text)
	}
	dst = append(dst, '=')
	dst = strconv.AppendInt(dst, int64(len(text)+4), 10)
	dst = append(dst, "\r\ntxt:"...)
	dst = append(dst, text...)
	return append(dst, '\r', '\n')
}

// AppendBool appends a boolean: "#t"/"#f" in RESP3, 1 or 0 in RESP2.
func AppendBool(dst []byte, v bool, resp3 bool) []byte {
	switch {
	case !resp3 && v:
		return AppendInt(dst, 1)
	case !resp3:
		return AppendInt(dst, 0)
	case v:
		return append(dst, "#t\r\n"...)
	}
	return append(dst, "#f\r\n"...)
}
