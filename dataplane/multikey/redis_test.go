package multikey

import (
	"bytes"
	"net"
	"strconv"
	"testing"
	"time"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/resp"
)

// conn is a bare RESP connection, so the test sees Redis's raw replies.
type conn struct {
	t   *testing.T
	c   net.Conn
	buf []byte
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &conn{t: t, c: c}
}

func (c *conn) do(args [][]byte) []byte {
	c.t.Helper()
	var out []byte
	out = append(out, '*')
	out = strconv.AppendInt(out, int64(len(args)), 10)
	out = append(out, "\r\n"...)
	for _, a := range args {
		out = append(out, '$')
		out = strconv.AppendInt(out, int64(len(a)), 10)
		out = append(out, "\r\n"...)
		out = append(out, a...)
		out = append(out, "\r\n"...)
	}
	_ = c.c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.c.Write(out); err != nil {
		c.t.Fatalf("write: %v", err)
	}
	tmp := make([]byte, 4096)
	for {
		if n, err := resp.ElementLen(c.buf); err == nil {
			reply := bytes.Clone(c.buf[:n])
			c.buf = c.buf[n:]
			return reply
		}
		n, err := c.c.Read(tmp)
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		c.buf = append(c.buf, tmp[:n]...)
	}
}

// TestAgainstRedis runs each command whole on one Redis and scattered
// (each part on the same second Redis, as if they were different places)
// and expects identical replies: scattering must be invisible to the
// client.
func TestAgainstRedis(t *testing.T) {
	whole := dial(t, redistest.Start(t).Addr)
	scattered := dial(t, redistest.Start(t).Addr)
	steps := [][]string{
		{"MSET", "a1", "x", "b1", "y", "c1", "z", "a2", "w"},
		{"MGET", "a1", "b1", "nope", "c1", "a2", "a1"},
		{"EXISTS", "a1", "b1", "nope", "a1"},
		{"TOUCH", "c1", "b9", "a2"},
		{"SADD", "bset", "m"},
		{"MGET", "a1", "bset", "c1"},
		{"MSET", "a3", "1", "b3", "2"},
		{"DEL", "a1", "b1", "nope"},
		{"UNLINK", "a2", "b3", "c1"},
		{"MGET", "a1", "b1", "c1", "a2", "a3"},
	}
	for _, step := range steps {
		t.Run(step[0], func(t *testing.T) {
			cmd := command(true, step...)
			want := whole.do(cmd.Args)
			p, err := NewPlan(cmd, byFirstByte)
			if err != nil {
				// Not a multi-key command: run it on both sides as is.
				scattered.do(cmd.Args)
				return
			}
			replies := make([][]byte, len(p.Parts))
			for j, part := range p.Parts {
				replies[j] = scattered.do(part.Cmd.Args)
			}
			got, err := p.AppendReply(nil, replies)
			if err != nil {
				t.Fatalf("AppendReply: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%v\n scattered %q\n whole %q", step, got, want)
			}
		})
	}
}
