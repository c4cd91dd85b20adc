package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/resp"
)

// countConn serves data in reads of at most max bytes and counts them.
type countConn struct {
	net.Conn
	data  []byte
	max   int
	reads int
}

func (c *countConn) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	c.reads++
	n := copy(p[:min(len(p), c.max)], c.data)
	c.data = c.data[n:]
	return n, nil
}

func readAll(t *testing.T, rd *Reader) ([]redcon.Command, error) {
	t.Helper()
	var cmds []redcon.Command
	for {
		var err error
		cmds, err = rd.Next(cmds)
		if err != nil {
			return cmds, err
		}
	}
}

func TestReaderFramesEveryCommandWhateverTheReads(t *testing.T) {
	// 2000 commands of varied sizes arrive in reads of 1000 bytes that
	// cut them anywhere; each call's commands are checked before the
	// next call, which may reuse the buffer under them.
	var in bytes.Buffer
	for i := 0; i < 2000; i++ {
		in.Write(resp.AppendCommand(nil, [][]byte{[]byte("SET"), []byte(fmt.Sprintf("key:%d", i)), bytes.Repeat([]byte{byte('a' + i%26)}, i%3000)}))
	}
	rd := NewReader(&countConn{data: in.Bytes(), max: 1000}, resp.Limits{})
	seen := 0
	for {
		cmds, err := rd.Next(nil)
		for _, c := range cmds {
			i := seen
			seen++
			if len(c.Args) != 3 || string(c.Args[0]) != "SET" || string(c.Args[1]) != fmt.Sprintf("key:%d", i) {
				t.Fatalf("command %d: %q", i, c.Args)
			}
			if !bytes.Equal(c.Args[2], bytes.Repeat([]byte{byte('a' + i%26)}, i%3000)) {
				t.Fatalf("command %d: value of %d bytes differs", i, len(c.Args[2]))
			}
			if n, args, err := resp.ReadCommand(c.Raw, resp.Limits{}, nil); err != nil || n != len(c.Raw) || len(args) != 3 {
				t.Fatalf("command %d: Raw %q is not the whole command", i, c.Raw)
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
	}
	if seen != 2000 {
		t.Fatalf("got %d commands, want 2000", seen)
	}
	if len(rd.buf) > readMax {
		t.Fatalf("buffer grew to %d bytes for commands under 3 KB", len(rd.buf))
	}
}

func TestReaderBigValueInFewReads(t *testing.T) {
	// The buffer is sized from the bulk header, so a 100 KB value needs
	// one read for the header and one for the rest when the socket has
	// it all, not a read per doubling of a 4 KiB buffer.
	value := bytes.Repeat([]byte("x"), 100<<10)
	in := resp.AppendCommand(nil, [][]byte{[]byte("SET"), []byte("big"), value})
	c := &countConn{data: in, max: len(in)}
	rd := NewReader(c, resp.Limits{})
	cmds, err := rd.Next(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 1 || !bytes.Equal(cmds[0].Args[2], value) {
		t.Fatalf("got %d commands", len(cmds))
	}
	if c.reads > 2 {
		t.Fatalf("%d reads for one 100 KB command, want at most 2", c.reads)
	}
}

func TestReaderServesCommandsBeforeAnError(t *testing.T) {
	in := "*1\r\n$4\r\nPING\r\n*0\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\n*1\r\n%4\r\nPING\r\n"
	rd := NewReader(&countConn{data: []byte(in), max: len(in)}, resp.Limits{})
	cmds, err := rd.Next(nil)
	if err != nil {
		t.Fatalf("the commands before the bad one come first, got %v", err)
	}
	if len(cmds) != 2 || string(cmds[0].Args[0]) != "PING" || string(cmds[1].Args[1]) != "x" {
		t.Fatalf("got %q", cmds)
	}
	_, err = rd.Next(nil)
	var qe *resp.QueryError
	if !errors.As(err, &qe) || !strings.Contains(err.Error(), "expected '$', got '%'") {
		t.Fatalf("second call: %v, want the protocol error", err)
	}
}

func TestReaderRefusesOversizedBeforeBuffering(t *testing.T) {
	// The header alone decides: the value is never read.
	in := append([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n"), bytes.Repeat([]byte("v"), 100)...)
	c := &countConn{data: in, max: len(in)}
	rd := NewReader(c, resp.Limits{MaxRequest: 1 << 20})
	_, err := readAll(t, rd)
	if !errors.Is(err, resp.ErrTooBigRequest) {
		t.Fatalf("got %v, want %v", err, resp.ErrTooBigRequest)
	}
	if cap(rd.buf) > 64<<10 {
		t.Fatalf("the reader grew its buffer to %d bytes for a refused request", cap(rd.buf))
	}
}

func TestReaderMemoryFollowsTheBytes(t *testing.T) {
	// A header announcing 400 MB with 10 bytes behind it must not make
	// the proxy allocate 400 MB.
	in := append([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$400000000\r\n"), "0123456789"...)
	rd := NewReader(&countConn{data: in, max: len(in)}, resp.Limits{})
	if _, err := readAll(t, rd); !errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want EOF", err)
	}
	if cap(rd.buf) > 1<<20 {
		t.Fatalf("buffer of %d bytes for 45 bytes received", cap(rd.buf))
	}
}

func TestReaderReusesItsBufferForBigValues(t *testing.T) {
	// Ten 100 KB SETs one after another: after the first, the buffer is
	// big enough and stays, so no further allocation.
	value := bytes.Repeat([]byte("x"), 100<<10)
	one := resp.AppendCommand(nil, [][]byte{[]byte("SET"), []byte("big"), value})
	c := &countConn{data: bytes.Repeat(one, 10), max: len(one)}
	rd := NewReader(c, resp.Limits{})
	var first []byte
	for i := 0; i < 10; i++ {
		cmds, err := rd.Next(nil)
		if err != nil || len(cmds) != 1 || !bytes.Equal(cmds[0].Args[2], value) {
			t.Fatalf("command %d: %d commands, %v", i, len(cmds), err)
		}
		if i == 0 {
			first = rd.buf[:1]
		} else if &rd.buf[0] != &first[0] {
			t.Fatalf("command %d: a new buffer", i)
		}
	}
}

func TestReaderGrowsForACommandLargerThanItsBuffer(t *testing.T) {
	// A 6 KB command of small arguments arriving in reads that fill the
	// buffer: the buffer must grow though no bulk is big.
	args := [][]byte{[]byte("MGET")}
	for i := 0; i < 600; i++ {
		args = append(args, []byte(fmt.Sprintf("key:%04d", i)))
	}
	in := resp.AppendCommand(nil, args)
	rd := NewReader(&countConn{data: in, max: len(in)}, resp.Limits{})
	cmds, err := rd.Next(nil)
	if err != nil || len(cmds) != 1 || len(cmds[0].Args) != 601 {
		t.Fatalf("got %d commands, %v", len(cmds), err)
	}
}

// FuzzReader checks that how the bytes are cut into reads never changes
// what the reader frames: the same commands with the same arguments, or
// the same error, as one read of everything.
func FuzzReader(f *testing.F) {
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n"), uint8(3))
	f.Add([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n*0\r\n\r\nECHO \"a\\x41\"\r\n"), uint8(1))
	f.Add([]byte("*1\r\n%4\r\nPING\r\n"), uint8(7))
	f.Add([]byte("*2\r\n$4\r\nECHO\r\n$3000\r\n"+strings.Repeat("x", 3000)+"\r\n"), uint8(200))
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		frame := func(max int) ([]string, error) {
			rd := NewReader(&countConn{data: append([]byte(nil), in...), max: max}, resp.Limits{MaxRequest: 1 << 20})
			var out []string
			for {
				cmds, err := rd.Next(nil)
				for _, c := range cmds {
					out = append(out, fmt.Sprintf("%q", c.Args))
				}
				if err != nil {
					if errors.Is(err, io.EOF) {
						return out, nil
					}
					return out, err
				}
			}
		}
		whole, werr := frame(len(in) + 1)
		cutUp, cerr := frame(int(cut)%64 + 1)
		if fmt.Sprint(werr) != fmt.Sprint(cerr) || strings.Join(whole, "|") != strings.Join(cutUp, "|") {
			t.Fatalf("one read: %v %v\nreads of %d: %v %v", whole, werr, int(cut)%64+1, cutUp, cerr)
		}
	})
}
