// Package probe is a minimal RESP2 client for asking a live redis-server
// what it thinks: the command table generator and the tests that check
// resp against the real server use it. It is not for the data path.
package probe

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Conn is one connection to a redis-server.
type Conn struct {
	c net.Conn
	r *bufio.Reader
}

// Error is an error reply; its text is the line after '-'.
type Error string

// Error is the reply text.
func (e Error) Error() string { return string(e) }

// Dial connects to addr.
func Dial(addr string) (*Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &Conn{c: c, r: bufio.NewReader(c)}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// Do sends args as one command and reads one reply. Replies are string
// (simple and bulk), int64, nil, []any, or Error for error replies, which
// are returned as the value, not as err: err is for I/O and framing.
func (c *Conn) Do(args ...string) (any, error) {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	if err := c.Send(b); err != nil {
		return nil, err
	}
	return c.Read()
}

// Send writes raw bytes.
func (c *Conn) Send(raw []byte) error {
	_ = c.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.c.Write(raw); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// Read reads one reply.
func (c *Conn) Read() (any, error) {
	_ = c.c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("read reply: %w", err)
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("malformed reply line %q", line)
	}
	kind, rest := line[0], line[1:len(line)-2]
	switch kind {
	case '+':
		return rest, nil
	case '-':
		return Error(rest), nil
	case ':':
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("integer reply %q: %w", rest, err)
		}
		return n, nil
	case '$':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return nil, fmt.Errorf("bulk length %q: %w", rest, err)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := readFull(c.r, buf); err != nil {
			return nil, fmt.Errorf("read bulk: %w", err)
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return nil, fmt.Errorf("array length %q: %w", rest, err)
		}
		if n < 0 {
			return nil, nil
		}
		arr := make([]any, n)
		for i := range arr {
			if arr[i], err = c.Read(); err != nil {
				return nil, err
			}
		}
		return arr, nil
	}
	return nil, fmt.Errorf("unsupported reply type %q", kind)
}

func readFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
