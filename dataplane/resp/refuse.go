package resp

import "bytes"

// Redis checks a command before running it and refuses it with one of
// these errors; the proxy gives the same words so clients cannot tell it
// from the server. Texts are redis-server 7.0's (server.c processCommand).

// CheckArity reports whether c has an argument count its spec allows.
// Unknown commands fail.
func CheckArity(c *Command) bool {
	s := c.Spec
	if s == nil {
		return false
	}
	if s.Arity >= 0 {
		return len(c.Args) == s.Arity
	}
	return len(c.Args) >= -s.Arity
}

// AppendRefusal appends the error Redis would reply to c without running
// it (unknown command, unknown subcommand, wrong number of arguments) and
// reports whether there was one; dst is returned unchanged otherwise.
func AppendRefusal(dst []byte, c *Command) ([]byte, bool) {
	switch {
	case c.Spec == nil:
		return AppendUnknownCommand(dst, c.Args), true
	case c.Spec.Container() && len(c.Args) >= 2:
		return AppendUnknownSubcommand(dst, c.Spec, c.Args[1]), true
	case !CheckArity(c):
		return AppendWrongArity(dst, c.Spec), true
	}
	return dst, false
}

// maxEcho is how much of a client's argument Redis quotes back (%.128s).
const maxEcho = 128

// AppendUnknownCommand appends
// "-ERR unknown command 'foo', with args beginning with: 'a' 'b' ". Like
// Redis, it quotes at most 128 bytes of the name and of the arguments
// together, each cut at a NUL byte (Redis formats them as C strings).
func AppendUnknownCommand(dst []byte, args [][]byte) []byte {
	dst = append(dst, "-ERR unknown command '"...)
	if len(args) > 0 {
		dst = appendEcho(dst, args[0], maxEcho)
	}
	dst = append(dst, "', with args beginning with: "...)
	n := 0
	for i := 1; i < len(args) && n < maxEcho; i++ {
		start := len(dst)
		dst = append(dst, '\'')
		dst = appendEcho(dst, args[i], maxEcho-n)
		dst = append(dst, '\'', ' ')
		n += len(dst) - start
	}
	return append(dst, '\r', '\n')
}

// AppendUnknownSubcommand appends
// "-ERR unknown subcommand 'x'. Try CONFIG HELP." for container.
func AppendUnknownSubcommand(dst []byte, container *Spec, sub []byte) []byte {
	dst = append(dst, "-ERR unknown subcommand '"...)
	dst = appendEcho(dst, sub, maxEcho)
	dst = append(dst, "'. Try "...)
	dst = append(dst, container.Name...)
	return append(dst, " HELP.\r\n"...)
}

// AppendWrongArity appends
// "-ERR wrong number of arguments for 'get' command", subcommands named
// as 'config|get'.
func AppendWrongArity(dst []byte, s *Spec) []byte {
	dst = append(dst, "-ERR wrong number of arguments for '"...)
	for i := 0; i < len(s.Name); i++ {
		c := s.Name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return append(dst, "' command\r\n"...)
}

// appendEcho appends at most max bytes of b, stopping at a NUL, with line
// breaks turned into spaces so the error stays one line.
func appendEcho(dst, b []byte, max int) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	if len(b) > max {
		b = b[:max]
	}
	for _, c := range b {
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return dst
}
