package wire

import (
	"io"
	"net"
	"testing"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/resp"
)

// chunkConn returns its chunks one Read at a time, then EOF.
type chunkConn struct {
	net.Conn
	chunks []string
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	if c.chunks[0] == "" {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

func TestReaderInline(t *testing.T) {
	tests := []struct {
		name   string
		chunks []string
		want   [][]string
	}{
		{"hex escape", []string{"SET \"in line\" \"a b\\x41\"\r\n"}, [][]string{{"SET", "in line", "a bA"}}},
		{"escapes", []string{"ECHO \"\\a\\b\\n\" 'it\\'s'\r\n"}, [][]string{{"ECHO", "\a\b\n", "it's"}}},
		{"tabs separate", []string{"GET\tk\r\n"}, [][]string{{"GET", "k"}}},
		{"split line", []string{"SET k \"x", "\\x42\"\r", "\n"}, [][]string{{"SET", "k", "xB"}}},
		{"mixed with multibulk", []string{"*2\r\n$3\r\nGET\r\n$1\r\na\r\nGET b\r\n*2\r\n$3\r\nGET\r\n$1\r\nc\r\n"},
			[][]string{{"GET", "a"}, {"GET", "b"}, {"GET", "c"}}},
		{"blank lines skipped", []string{"\r\n\r\nPING\r\n"}, [][]string{{"PING"}}},
		{"multibulk untouched", []string{"*1\r\n$4\r\nPI", "NG\r\n"}, [][]string{{"PING"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd := NewReader(&chunkConn{chunks: append([]string(nil), tt.chunks...)}, resp.Limits{})
			var cmds []redcon.Command
			for len(cmds) < len(tt.want) {
				var err error
				if cmds, err = rd.Next(cmds); err != nil {
					t.Fatalf("after %d commands: %v", len(cmds), err)
				}
			}
			if len(cmds) != len(tt.want) {
				t.Fatalf("got %d commands, want %d", len(cmds), len(tt.want))
			}
			for i, want := range tt.want {
				cmd := cmds[i]
				if len(cmd.Args) != len(want) {
					t.Fatalf("command %d: got %q, want %q", i, cmd.Args, want)
				}
				for j := range want {
					if string(cmd.Args[j]) != want[j] {
						t.Fatalf("command %d arg %d: got %q, want %q", i, j, cmd.Args[j], want[j])
					}
				}
			}
			if more, err := rd.Next(nil); err == nil {
				t.Fatalf("extra commands %q", more)
			}
		})
	}
}
