package resp_test

import (
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

func TestWriters(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"array", resp.AppendArray(nil, 3), "*3\r\n"},
		{"null array", resp.AppendArray(nil, -1), "*-1\r\n"},
		{"bulk", resp.AppendBulk(nil, []byte("hello")), "$5\r\nhello\r\n"},
		{"empty bulk", resp.AppendBulk(nil, nil), "$0\r\n\r\n"},
		{"bulk binary", resp.AppendBulk(nil, []byte("a\r\nb")), "$4\r\na\r\nb\r\n"},
		{"bulk string", resp.AppendBulkString(nil, "hi"), "$2\r\nhi\r\n"},
		{"null bulk", resp.AppendNullBulk(nil), "$-1\r\n"},
		{"int", resp.AppendInt(nil, -42), ":-42\r\n"},
		{"simple", resp.AppendSimple(nil, "OK"), "+OK\r\n"},
		{"simple line break", resp.AppendSimple(nil, "a\r\nb"), "+a  b\r\n"},
		{"error plain", resp.AppendError(nil, "boom"), "-ERR boom\r\n"},
		{"error code", resp.AppendError(nil, "WRONGTYPE Operation"), "-WRONGTYPE Operation\r\n"},
		{"error lower code", resp.AppendError(nil, "moved 1"), "-ERR moved 1\r\n"},
		{"error one letter", resp.AppendError(nil, "X y"), "-ERR X y\r\n"},
		{"error code alone", resp.AppendError(nil, "NOAUTH"), "-ERR NOAUTH\r\n"},
		{"command", resp.AppendCommand(nil, [][]byte{[]byte("SET"), []byte("k"), []byte("")}), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"},
		{"appends", resp.AppendInt([]byte("+OK\r\n"), 1), "+OK\r\n:1\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}

// TestAppendErrorLikeEngine keeps resp.AppendError and engine.AppendError
// in step: both packages write errors, and clients must not see a
// difference.
func TestAppendErrorLikeEngine(t *testing.T) {
	for _, msg := range []string{"", "x", "boom", "ERR", "ERR x", "MOVED 1 a:1", "A1_B x", "Ab x", " x", "AB  x", "line\r\nbreak", "TRYAGAIN"} {
		t.Run(msg, func(t *testing.T) {
			got, want := resp.AppendError(nil, msg), engine.AppendError(nil, msg)
			if string(got) != string(want) {
				t.Errorf("resp %q, engine %q", got, want)
			}
		})
	}
}

func TestWritersDoNotAllocate(t *testing.T) {
	args := [][]byte{[]byte("SET"), []byte("key"), []byte("value")}
	buf := make([]byte, 0, 256)
	n := testing.AllocsPerRun(100, func() {
		b := resp.AppendCommand(buf[:0], args)
		b = resp.AppendInt(b, 12345)
		b = resp.AppendSimple(b, "OK")
		b = resp.AppendError(b, "ERR x")
		b = resp.AppendBulkString(b, "v")
		_ = resp.AppendNullBulk(b)
	})
	if n != 0 {
		t.Errorf("writers allocate %v times into a big enough buffer", n)
	}
}

func BenchmarkAppendCommand(b *testing.B) {
	args := [][]byte{[]byte("SET"), []byte("key:000123"), make([]byte, 64)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = resp.AppendCommand(buf[:0], args)
	}
}
