package resp

import (
	"strings"
	"testing"
)

// validReplies are complete replies of every type; each is also a fuzz seed.
var validReplies = []struct {
	name string
	in   string
}{
	{"simple", "+OK\r\n"},
	{"error", "-ERR unknown command 'FOO'\r\n"},
	{"integer", ":1000\r\n"},
	{"negative integer", ":-42\r\n"},
	{"bulk", "$5\r\nhello\r\n"},
	{"empty bulk", "$0\r\n\r\n"},
	{"bulk with CRLF inside", "$4\r\na\r\nb\r\n"},
	{"null bulk", "$-1\r\n"},
	{"array", "*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\n"},
	{"empty array", "*0\r\n"},
	{"null array", "*-1\r\n"},
	{"nested array", "*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n+x\r\n"},
	{"null", "_\r\n"},
	{"boolean true", "#t\r\n"},
	{"boolean false", "#f\r\n"},
	{"double", ",3.14\r\n"},
	{"double inf", ",-inf\r\n"},
	{"big number", "(3492890328409238509324850943850943825024385\r\n"},
	{"bulk error", "!21\r\nSYNTAX invalid syntax\r\n"},
	{"verbatim", "=15\r\ntxt:Some string\r\n"},
	{"map", "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n"},
	{"empty map", "%0\r\n"},
	{"set", "~3\r\n+a\r\n+b\r\n:1\r\n"},
	{"push", ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"},
	{"attribute", "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.19\r\n$1\r\nb\r\n,0.05\r\n*2\r\n:2039123\r\n:9543892\r\n"},
	{"attribute in array", "*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n"},
	{"map of arrays", "%1\r\n$4\r\nkeys\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n"},
}

func TestReplyLenComplete(t *testing.T) {
	for _, tc := range validReplies {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.in)
			n, err := ReplyLen(in)
			if err != nil || n != len(in) {
				t.Fatalf("ReplyLen(%q) = %d, %v; want %d, nil", tc.in, n, err, len(in))
			}
			// Trailing bytes of the next reply must not change the answer.
			more := append(append([]byte{}, in...), "+NEXT\r\n:1"...)
			if n, err := ReplyLen(more); err != nil || n != len(in) {
				t.Fatalf("ReplyLen with trailing data = %d, %v; want %d", n, err, len(in))
			}
			for i := 0; i < len(in); i++ {
				if n, err := ReplyLen(in[:i]); n != 0 || err != nil {
					t.Fatalf("ReplyLen(%q) = %d, %v; want 0, nil for a prefix", in[:i], n, err)
				}
			}
		})
	}
}

func TestReplyLenMalformed(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"unknown type", "?foo\r\n", "unknown reply type"},
		{"CR without LF", "+OK\rX", "CR not followed by LF"},
		{"integer with letters", ":12a\r\n", "invalid number"},
		{"integer without digits", ":\r\n", "no digits"},
		{"integer overflow", ":99999999999999999999\r\n", "overflows"},
		{"bulk length not a number", "$x\r\n", "invalid number"},
		{"bulk negative length", "$-2\r\n", "negative length"},
		{"bulk too long", "$99999999999\r\n", "over the limit"},
		{"bulk without trailer", "$3\r\nfooXY", "not terminated"},
		{"bulk bad trailer start", "$3\r\nfooX", "not terminated"},
		{"set may not be null", "~-1\r\n", "negative length"},
		{"bad boolean", "#x\r\n", "neither t nor f"},
		{"boolean with extra", "#tt\r\n", "unexpected byte"},
		{"null with content", "_x\r\n", "unexpected byte"},
		{"streamed string", "$?\r\n;4\r\nHell\r\n;0\r\n", "streamed"},
		{"bad element in array", "*2\r\n:1\r\n&\r\n", "unknown reply type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := ReplyLen([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ReplyLen(%q) = %d, %v; want an error containing %q", tc.in, n, err, tc.want)
			}
		})
	}
}

func TestReplyLenDeepNesting(t *testing.T) {
	// Depth costs nothing: a million nested arrays frame like any reply.
	const depth = 1 << 20
	in := []byte(strings.Repeat("*1\r\n", depth) + ":1\r\n")
	n, err := ReplyLen(in)
	if err != nil || n != len(in) {
		t.Fatalf("ReplyLen(deep) = %d, %v; want %d", n, err, len(in))
	}
	if n, err := ReplyLen(in[:len(in)-1]); n != 0 || err != nil {
		t.Fatalf("ReplyLen(deep prefix) = %d, %v; want 0, nil", n, err)
	}
}

func TestReplyLenAllocs(t *testing.T) {
	in := []byte(validReplies[len(validReplies)-3].in)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ReplyLen(in); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("ReplyLen allocates %v times per call; want 0", allocs)
	}
}

func FuzzReply(f *testing.F) {
	for _, tc := range validReplies {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		n, err := ReplyLen(in)
		if err != nil {
			if n != 0 {
				t.Fatalf("ReplyLen(%q) = %d with error %v", in, n, err)
			}
			return
		}
		if n < 0 || n > len(in) {
			t.Fatalf("ReplyLen(%q) = %d, outside the input", in, n)
		}
		if n == 0 {
			return
		}
		// A complete reply is complete on its own, and every split of it
		// is reported as partial, never as an error or a shorter reply.
		if m, err := ReplyLen(in[:n]); m != n || err != nil {
			t.Fatalf("ReplyLen(%q) = %d, %v; want %d", in[:n], m, err, n)
		}
		for i := 0; i < n; i++ {
			if m, err := ReplyLen(in[:i]); m != 0 || err != nil {
				t.Fatalf("prefix %q of %q: ReplyLen = %d, %v; want 0, nil", in[:i], in[:n], m, err)
			}
		}
	})
}

func BenchmarkReplyLen(b *testing.B) {
	for _, tc := range []struct{ name, in string }{
		{"simple", "+OK\r\n"},
		{"bulk", "$16\r\n0123456789abcdef\r\n"},
		{"array16", "*16\r\n" + strings.Repeat("$5\r\nvalue\r\n", 16)},
		{"map", validReplies[len(validReplies)-1].in},
	} {
		in := []byte(tc.in)
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ReplyLen(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
