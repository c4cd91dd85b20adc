package integration

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// wire is one raw RESP connection. The compatibility test frames replies
// itself instead of using a client library, so that every byte the server
// sent is compared, and so that it does not share a parser with the proxy
// under test.
type wire struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
}

func dialWire(addr string) (*wire, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &wire{conn: c, r: bufio.NewReaderSize(c, 64<<10), w: bufio.NewWriterSize(c, 64<<10)}, nil
}

func (w *wire) Close() error { return w.conn.Close() }

// appendCommand writes one command as a RESP array of bulk strings.
func (w *wire) appendCommand(args []string) {
	w.w.WriteString("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		w.w.WriteString("$" + strconv.Itoa(len(a)) + "\r\n")
		w.w.WriteString(a)
		w.w.WriteString("\r\n")
	}
}

// send writes cmds (and raw bytes, written as they are) with one flush.
func (w *wire) send(cmds [][]string, raw string) error {
	_ = w.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	for _, c := range cmds {
		w.appendCommand(c)
	}
	w.w.WriteString(raw)
	if err := w.w.Flush(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// readReply appends the next complete reply, byte for byte, to dst.
func (w *wire) readReply(dst []byte, timeout time.Duration) ([]byte, error) {
	_ = w.conn.SetReadDeadline(time.Now().Add(timeout))
	return readReply(w.r, dst)
}

var errFraming = errors.New("malformed reply")

// readReply reads one RESP2 or RESP3 reply from r and appends its exact
// bytes to dst.
func readReply(r *bufio.Reader, dst []byte) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return dst, fmt.Errorf("read reply header: %w", err)
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return dst, fmt.Errorf("%w: header %q", errFraming, line)
	}
	dst = append(dst, line...)
	head := line[0]
	body := string(line[1 : len(line)-2])
	switch head {
	case '+', '-', ':', '_', ',', '#', '(':
		return dst, nil
	case '$', '!', '=':
		n, err := strconv.Atoi(body)
		if err != nil {
			return dst, fmt.Errorf("%w: bulk length %q", errFraming, body)
		}
		if n < 0 {
			return dst, nil
		}
		start := len(dst)
		dst = append(dst, make([]byte, n+2)...)
		if _, err := io.ReadFull(r, dst[start:]); err != nil {
			return dst, fmt.Errorf("read bulk of %d bytes: %w", n, err)
		}
		if !bytes.HasSuffix(dst, []byte("\r\n")) {
			return dst, fmt.Errorf("%w: bulk not ended by CRLF", errFraming)
		}
		return dst, nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil {
			return dst, fmt.Errorf("%w: aggregate length %q", errFraming, body)
		}
		if head == '%' || head == '|' {
			n *= 2
		}
		for range max(n, 0) {
			if dst, err = readReply(r, dst); err != nil {
				return dst, err
			}
		}
		if head == '|' { // attributes precede the reply they describe
			return readReply(r, dst)
		}
		return dst, nil
	}
	return dst, fmt.Errorf("%w: unknown type %q", errFraming, head)
}
