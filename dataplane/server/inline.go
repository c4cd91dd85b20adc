package server

import "keyway.dev/dataplane/resp"

// Inline commands ("SET k v\r\n", as typed into telnet) are rewritten into
// multibulk RESP below redcon: redcon's own inline parser splits only on
// spaces and knows neither \xHH nor \a and \b escapes, so `SET k "\x41"`
// would store "x41" where Redis stores "A". resp.ReadCommand splits a line
// exactly as Redis's sdssplitargs does. Multibulk input, the hot path,
// passes through untouched.

// inlineRewriter holds what guardConn needs to rewrite inline lines that
// arrive split over several reads.
type inlineRewriter struct {
	line []byte   // an inline line begun in an earlier read, hidden from redcon
	out  []byte   // rewritten bytes not yet handed to redcon
	args [][]byte // scratch for splitting
}

// atInline reports whether the command starting or continuing at p[0] is
// an inline one: a command not begun yet whose first byte is not '*', or
// the rest of a line begun earlier.
func (w *inlineRewriter) atInline(s *resp.Scanner, p []byte) bool {
	return len(w.line) > 0 || (s.Pending() == 0 && len(p) > 0 && p[0] != '*')
}

// finish converts the complete commands held in w.line, an inline line
// possibly after blank lines and followed by others that the scanner took
// in the same step, and appends those with arguments to dst.
func (w *inlineRewriter) finish(dst []byte) []byte {
	rest := w.line
	for len(rest) > 0 {
		n, args, err := resp.ReadCommand(rest, resp.Limits{}, w.args[:0])
		if err != nil || n == 0 {
			break // the scanner accepted it; cannot happen
		}
		if len(args) > 0 {
			dst = resp.AppendCommand(dst, args)
		}
		clear(args)
		w.args = args[:0]
		rest = rest[n:]
	}
	w.line = w.line[:0]
	if cap(w.line) > resp.MaxInline*2 {
		w.line = nil
	}
	return dst
}

// pop copies rewritten bytes waiting for redcon into p.
func (w *inlineRewriter) pop(p []byte) int {
	n := copy(p, w.out)
	w.out = w.out[n:]
	if len(w.out) == 0 {
		w.out = nil
	}
	return n
}
