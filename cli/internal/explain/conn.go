package explain

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// conn is the smallest RESP2 client explain needs: send a command, read
// an error, a bulk string or an array of bulk strings.
type conn struct {
	c net.Conn
	r *bufio.Reader
}

func newConn(c net.Conn) *conn { return &conn{c: c, r: bufio.NewReader(c)} }

// do sends args and returns the reply as lines: a bulk string is one
// line, an array one line per element. An error reply is returned as an
// error with its text.
func (c *conn) do(args ...string) ([]string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(c.c, b.String()); err != nil {
		return nil, fmt.Errorf("send: %w", err)
	}
	return c.read()
}

func (c *conn) read() ([]string, error) {
	line, err := c.line()
	if err != nil {
		return nil, err
	}
	switch line[0] {
	case '-':
		return nil, errors.New("the proxy answered: " + line[1:])
	case '+':
		return []string{line[1:]}, nil
	case '$':
		s, err := c.bulk(line)
		if err != nil {
			return nil, err
		}
		return []string{s}, nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad array header %q", line)
		}
		out := make([]string, 0, n)
		for range n {
			l, err := c.line()
			if err != nil {
				return nil, err
			}
			s, err := c.bulk(l)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected reply %q", line)
}

// line reads one CRLF-terminated line without its terminator.
func (c *conn) line() (string, error) {
	l, err := c.r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("read reply: %w", err)
	}
	l = strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r")
	if l == "" {
		return "", errors.New("read reply: empty line")
	}
	return l, nil
}

// bulk reads the body of the bulk string whose header is hdr.
func (c *conn) bulk(hdr string) (string, error) {
	if hdr[0] != '$' {
		return "", fmt.Errorf("expected a bulk string, got %q", hdr)
	}
	n, err := strconv.Atoi(hdr[1:])
	if err != nil || n < -1 {
		return "", fmt.Errorf("bad bulk header %q", hdr)
	}
	if n == -1 {
		return "", nil
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return "", fmt.Errorf("read reply: %w", err)
	}
	return string(buf[:n]), nil
}
