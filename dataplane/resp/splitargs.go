package resp

// splitArgs splits an inline line as Redis's sdssplitargs does, quotes,
// escapes and all, writing unquoted arguments over line itself (they are
// never longer than their quoted form). The line ends at its first NUL,
// as the C code sees it. ok is false for unbalanced quotes.
func splitArgs(line []byte, args [][]byte) ([][]byte, bool) {
	at := func(i int) byte {
		if i < len(line) {
			return line[i]
		}
		return 0
	}
	p := 0
	for {
		for at(p) != 0 && isSpace(at(p)) {
			p++
		}
		if at(p) == 0 {
			return args, true
		}
		start, w := p, p
		inq, insq, done := false, false, false
		for !done {
			c := at(p)
			switch {
			case inq:
				switch {
				case c == '\\' && at(p+1) == 'x' && isHex(at(p+2)) && isHex(at(p+3)):
					line[w] = hexVal(at(p+2))<<4 | hexVal(at(p+3))
					w++
					p += 3
				case c == '\\' && at(p+1) != 0:
					p++
					line[w] = unescape(line[p])
					w++
				case c == '"':
					if at(p+1) != 0 && !isSpace(at(p+1)) {
						return args, false
					}
					done = true
				case c == 0:
					return args, false
				default:
					line[w] = c
					w++
				}
			case insq:
				switch {
				case c == '\\' && at(p+1) == '\'':
					p++
					line[w] = '\''
					w++
				case c == '\'':
					if at(p+1) != 0 && !isSpace(at(p+1)) {
						return args, false
					}
					done = true
				case c == 0:
					return args, false
				default:
					line[w] = c
					w++
				}
			default:
				switch c {
				case ' ', '\n', '\r', '\t', 0:
					done = true
				case '"':
					inq = true
				case '\'':
					insq = true
				default:
					line[w] = c
					w++
				}
			}
			if at(p) != 0 {
				p++
			}
		}
		args = append(args, line[start:w:w])
	}
}

func unescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case 'b':
		return '\b'
	case 'a':
		return '\a'
	}
	return c
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func hexVal(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
