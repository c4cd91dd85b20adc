package resp

import (
	"slices"
	"strings"
	"testing"

	"keyway.dev/dataplane/resp/internal/probe"
)

// endMarker follows each input (inline, so it parses whatever state a
// valid input left): its echo proves the server judged all before it.
const endMarker = "\r\nECHO keyway-end\r\n"

// serverVerdict sends raw to a fresh connection and returns the number of
// replies before a protocol error, and that error's text ("" for none).
// With open set, raw is sent as is and the server must refuse it without
// seeing its end.
func serverVerdict(t *testing.T, addr string, raw []byte, open bool) (int, string) {
	t.Helper()
	c, err := probe.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !open {
		raw = append(slices.Clip(raw), endMarker...)
	}
	if err := c.Send(raw); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		v, err := c.Read()
		if err != nil {
			t.Fatal(err)
		}
		if e, ok := v.(probe.Error); ok && strings.HasPrefix(string(e), "ERR Protocol error") {
			return n, string(e)
		}
		if v == "keyway-end" {
			return n, ""
		}
		n++
	}
}

// TestScannerMatchesServer feeds malformed and valid requests to both
// redis-server and the Scanner: the Scanner must fail with the server's
// exact error text after the same number of commands.
func TestScannerMatchesServer(t *testing.T) {
	srv := liveServer(t)
	big := strings.Repeat("1", MaxInline+10)
	tests := []struct {
		name string
		in   string
		open bool // no end: the server must refuse before the end
	}{
		{"valid", "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n", false},
		{"inline", "PING\r\nECHO \"a b\" 'c'\r\n", false},
		{"empty multibulk", "*0\r\n*-1\r\nPING\r\n", false},
		{"blank lines", "\r\n   \r\nPING\r\n", false},
		{"multibulk not a number", "*x\r\n", false},
		{"multibulk empty", "*\r\n", false},
		{"multibulk leading zero", "*01\r\n$4\r\nPING\r\n", false},
		{"multibulk plus", "*+1\r\n", false},
		{"multibulk over int", "*2147483648\r\n", false},
		{"expected dollar", "*1\r\nGET\r\n", false},
		{"expected dollar after valid", "PING\r\n*2\r\n$4\r\nECHO\r\n:1\r\n", false},
		{"expected dollar empty line", "*1\r\n\r\n", false},
		{"expected dollar newline", "*1\r\n\n\r\n", false},
		{"bulk not a number", "*1\r\n$x\r\n", false},
		{"bulk negative", "*1\r\n$-1\r\n", false},
		{"bulk empty", "*1\r\n$\r\n", false},
		{"bulk over max", "*1\r\n$536870913\r\n", false},
		{"unbalanced double", "GET \"a\r\n", false},
		{"unbalanced single", "GET 'a\r\n", false},
		{"quote then letter", "GET \"a\"b\r\n", false},
		{"single quote then letter", "SET 'a'b c\r\n", false},
		{"escaped quotes", "ECHO \"a\\\"b\" 'c\\'d'\r\n", false},
		{"hex escape", "ECHO \"\\x41\\x4\"\r\n", false},
		{"trailing backslash", "ECHO \"a\\\"\r\n", false},
		{"too big inline", big, true},
		{"too big mbulk count", "*" + big, true},
		{"too big bulk count", "*1\r\n$" + big, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantN, wantErr := serverVerdict(t, srv, []byte(tt.in), tt.open)
			s := NewScanner(Limits{})
			err := s.Feed([]byte(tt.in))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != wantErr {
				t.Errorf("error %q, server %q", gotErr, wantErr)
			}
			if s.Commands() != wantN {
				t.Errorf("%d commands before the verdict, server %d", s.Commands(), wantN)
			}
		})
	}
}

func liveServer(t *testing.T) string {
	t.Helper()
	c := live(t)
	v, err := c.Do("CONFIG", "GET", "port")
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + v.([]any)[1].(string)
}

func TestScannerLimits(t *testing.T) {
	lim := Limits{MaxBulk: 10, MaxArgs: 3, MaxRequest: 40}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"within", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n", nil},
		{"too many args", "*4\r\n", ErrInvalidMultibulkLength},
		{"bulk too long", "*1\r\n$11\r\n", ErrInvalidBulkLength},
		// 4+9+7 header and data bytes so far, then 10+2 more: 42 > 40.
		{"request too big", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*3\r\n$3\r\nSET\r\n$9\r\n012345678\r\n$10\r\n", ErrTooBigRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewScanner(lim)
			if err := s.Feed([]byte(tt.in)); err != tt.want {
				t.Errorf("Feed = %v, want %v", err, tt.want)
			}
			// The refusal comes from the header alone: the body was never
			// needed, so it was never buffered.
			n, _, err := ReadCommand([]byte(tt.in), lim, nil)
			for err == nil && n > 0 {
				tt.in = tt.in[n:]
				n, _, err = ReadCommand([]byte(tt.in), lim, nil)
			}
			if err != tt.want {
				t.Errorf("ReadCommand = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestScannerPending checks that the scanner knows how far into a command
// it is, so the server can bound what it buffers.
func TestScannerPending(t *testing.T) {
	s := NewScanner(Limits{})
	steps := []struct {
		in       string
		pending  int64
		commands int
	}{
		{"*2\r\n$4\r\nEC", 10, 0},
		{"HO\r\n$2\r\nhi\r", 21, 0},
		{"\n*1\r\n$4\r\nPI", 10, 1},
		{"NG\r\n", 0, 2},
		{"PING\r\n*0\r\n", 0, 3},
	}
	for _, st := range steps {
		if err := s.Feed([]byte(st.in)); err != nil {
			t.Fatal(err)
		}
		if s.Pending() != st.pending || s.Commands() != st.commands {
			t.Errorf("after %q: pending %d, commands %d; want %d, %d", st.in, s.Pending(), s.Commands(), st.pending, st.commands)
		}
	}
}

// TestScannerErrorStart checks that after an error the scanner says where
// the refused command began, so the server can pass on what came before.
func TestScannerErrorStart(t *testing.T) {
	tests := []struct {
		name  string
		good  string
		bad   string
		limit Limits
	}{
		{"unbalanced", "PING\r\n", "GET \"a\r\n", Limits{}},
		{"expected dollar", "*1\r\n$4\r\nPING\r\n", "*1\r\nGET\r\n", Limits{}},
		{"bulk length", "PING\r\n", "*2\r\n$3\r\nGET\r\n$x\r\n", Limits{}},
		{"multibulk length", "PING\r\n*0\r\n", "*x\r\n", Limits{}},
		{"request too big", "PING\r\n", "*2\r\n$3\r\nGET\r\n$20\r\n", Limits{MaxRequest: 30}},
		{"too big inline", "PING\r\n", strings.Repeat("x", MaxInline+1), Limits{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.good + tt.bad)
			for _, step := range []int{len(in), 1} {
				s := NewScanner(tt.limit)
				var err error
				for i := 0; i < len(in) && err == nil; i += step {
					err = s.Feed(in[i:min(i+step, len(in))])
				}
				if err == nil {
					t.Fatalf("step %d: no error", step)
				}
				if start := s.Offset() - s.Pending(); start != int64(len(tt.good)) {
					t.Errorf("step %d: refused command starts at %d, want %d", step, start, len(tt.good))
				}
			}
		})
	}
}

func TestReadCommand(t *testing.T) {
	tests := []struct {
		name string
		in   string
		n    int
		args []string
	}{
		{"multibulk", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\nrest", 20, []string{"GET", "k"}},
		{"partial", "*2\r\n$3\r\nGET\r\n$1\r\n", 0, nil},
		{"inline", "SET k v\r\n", 9, []string{"SET", "k", "v"}},
		{"inline lf", "PING\n", 5, []string{"PING"}},
		{"inline quotes", "SET \"a b\" 'c\\'d' \"\\x41\\n\"\r\n", 27, []string{"SET", "a b", "c'd", "A\n"}},
		{"inline mid-token quote", "SET a\"b c\" v\n", 13, []string{"SET", "ab c", "v"}},
		{"inline empty arg", "ECHO \"\"\n", 8, []string{"ECHO", ""}},
		{"inline nul stops", "ECHO a\x00b c\n", 11, []string{"ECHO", "a"}},
		{"blank", "  \r\n", 4, nil},
		{"empty multibulk", "*0\r\n", 4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, args, err := ReadCommand([]byte(tt.in), Limits{}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, len(args))
			for i, a := range args {
				got[i] = string(a)
			}
			if n != tt.n || !slices.Equal(got, tt.args) && len(got)+len(tt.args) > 0 {
				t.Errorf("ReadCommand = %d %q, want %d %q", n, got, tt.n, tt.args)
			}
		})
	}
}

func TestReadCommandAllocs(t *testing.T) {
	in := []byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n")
	args := make([][]byte, 0, 8)
	if n := testing.AllocsPerRun(100, func() {
		_, args, _ = ReadCommand(in, Limits{}, args)
	}); n != 0 {
		t.Errorf("ReadCommand allocates %v times", n)
	}
}

// refParse runs ReadCommand over the whole of in: the offsets where
// commands end, and the error that stops it.
func refParse(in []byte, lim Limits) ([]int64, error) {
	buf := slices.Clone(in) // ReadCommand unquotes inline lines in place
	var ends []int64
	off := 0
	var args [][]byte
	for off < len(buf) {
		n, a, err := ReadCommand(buf[off:], lim, args)
		args = a
		if err != nil {
			return ends, err
		}
		if n == 0 {
			break
		}
		off += n
		if len(a) > 0 {
			ends = append(ends, int64(off))
		}
	}
	return ends, nil
}

// scanSplit feeds in to a Scanner in pieces cut where cuts says and
// returns the offsets where it saw commands end, and its error.
func scanSplit(in []byte, lim Limits, cuts []int) ([]int64, error) {
	s := NewScanner(lim)
	var ends []int64
	prev := 0
	for _, cut := range append(cuts, len(in)) {
		if cut < prev || cut > len(in) {
			continue
		}
		p := in[prev:cut]
		prev = cut
		for len(p) > 0 {
			n, end, err := s.Next(p)
			if err != nil {
				return ends, err
			}
			if end {
				ends = append(ends, s.Offset())
			}
			p = p[n:]
		}
	}
	return ends, s.Err()
}

func sameErr(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

var fuzzLimits = Limits{MaxBulk: 64, MaxArgs: 8, MaxRequest: 200}

// FuzzScanner checks that however input is split, the Scanner finds the
// same command ends and the same error as ReadCommand on the whole
// buffer, and never panics.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n",
		"PING\r\nSET a \"b c\"\r\n",
		"*1\r\nGET\r\n",
		"*0\r\n\r\n*1\r\n$4\r\nPING\r\n",
		"SET 'a'b c\r\n",
	} {
		f.Add([]byte(s), uint64(0x9e3779b97f4a7c15))
	}
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		wantEnds, wantErr := refParse(in, fuzzLimits)
		splits := [][]int{nil, everyByte(len(in)), randomCuts(len(in), seed)}
		for _, cuts := range splits {
			ends, err := scanSplit(in, fuzzLimits, cuts)
			if !sameErr(err, wantErr) {
				t.Fatalf("cuts %v: error %v, reference %v", cuts, err, wantErr)
			}
			if !slices.Equal(ends, wantEnds) {
				t.Fatalf("cuts %v: ends %v, reference %v", cuts, ends, wantEnds)
			}
		}
	})
}

func everyByte(n int) []int {
	cuts := make([]int, n)
	for i := range cuts {
		cuts[i] = i
	}
	return cuts
}

// randomCuts derives ascending cut points from seed (xorshift), so the
// fuzzer controls the split.
func randomCuts(n int, seed uint64) []int {
	var cuts []int
	x := seed | 1
	for pos := 0; pos < n; {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		pos += 1 + int(x%7)
		cuts = append(cuts, pos)
	}
	return cuts
}

// FuzzParseCommand round-trips arguments through AppendCommand, the
// Scanner and ReadCommand. Arguments are the input split at 0xff bytes.
func FuzzParseCommand(f *testing.F) {
	f.Add([]byte("SET\xffk\xffv"))
	f.Add([]byte("\xff\xff"))
	f.Add([]byte("a\r\nb\xff*1\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		args := splitFF(in)
		wire := AppendCommand(nil, args)
		s := NewScanner(Limits{})
		if err := s.Feed(wire); err != nil {
			t.Fatalf("scanner refused %q: %v", wire, err)
		}
		if s.Commands() != 1 || s.Pending() != 0 {
			t.Fatalf("scanner saw %d commands, %d pending", s.Commands(), s.Pending())
		}
		n, got, err := ReadCommand(wire, Limits{}, nil)
		if err != nil || n != len(wire) {
			t.Fatalf("ReadCommand = %d, %v; want %d", n, err, len(wire))
		}
		if !slices.EqualFunc(got, args, func(a, b []byte) bool { return string(a) == string(b) }) {
			t.Fatalf("round trip %q -> %q", args, got)
		}
	})
}

func splitFF(in []byte) [][]byte {
	var out [][]byte
	for {
		i := slices.Index(in, 0xff)
		if i < 0 {
			return append(out, in)
		}
		out = append(out, in[:i])
		in = in[i+1:]
	}
}

func pipeline16() []byte {
	var b []byte
	for i := 0; i < 16; i++ {
		b = AppendCommand(b, [][]byte{[]byte("SET"), []byte("key:0001"), []byte(strings.Repeat("v", 32))})
	}
	return b
}

func BenchmarkScannerFeed(b *testing.B) {
	p := pipeline16()
	s := NewScanner(Limits{})
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Feed(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadCommand(b *testing.B) {
	p := pipeline16()
	args := make([][]byte, 0, 4)
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < len(p); {
			n, a, err := ReadCommand(p[off:], Limits{}, args)
			if err != nil || n == 0 {
				b.Fatal(err)
			}
			args = a
			off += n
		}
	}
}
