package resp

import (
	"bytes"
	"errors"
	"testing"
)

func TestHeaderAndBulk(t *testing.T) {
	raw := []byte("*2\r\n$3\r\nfoo\r\n$-1\r\n")
	n, body, ok := Header(raw, 0, '*')
	if !ok || n != 2 || body != 4 {
		t.Fatalf("Header = %d, %d, %v; want 2, 4, true", n, body, ok)
	}
	s, next, ok := Bulk(raw, body)
	if !ok || string(s) != "foo" || next != 13 {
		t.Fatalf("Bulk = %q, %d, %v; want foo, 13, true", s, next, ok)
	}
	if _, _, ok := Bulk(raw, next); ok {
		t.Fatal("Bulk took a null bulk string for a string")
	}
	if n, _, ok := Header(raw, next, '$'); !ok || n != -1 {
		t.Fatalf("Header of a null = %d, %v; want -1, true", n, ok)
	}
	for _, bad := range []struct {
		raw string
		pos int
	}{
		{"*2\r\n", 0},        // fine header but asked as a bulk below
		{"$3\r\nfo", 0},      // body cut short
		{"$x\r\nfoo\r\n", 0}, // not a count
		{"$3", 0},            // no line end
		{"$3\r\nfoo\r\n", 9}, // past the end
	} {
		if _, _, ok := Bulk([]byte(bad.raw), bad.pos); ok {
			t.Errorf("Bulk(%q, %d) = ok; want refused", bad.raw, bad.pos)
		}
	}
}

func TestInteger(t *testing.T) {
	if n, err := Integer([]byte(":-42\r\n")); err != nil || n != -42 {
		t.Fatalf("Integer = %d, %v; want -42", n, err)
	}
	for _, bad := range []string{"", "+OK\r\n", ":12", ":1x\r\n"} {
		if _, err := Integer([]byte(bad)); !errors.Is(err, ErrMalformedReply) {
			t.Errorf("Integer(%q) err = %v; want ErrMalformedReply", bad, err)
		}
	}
}

func TestParseValueKeepsShape(t *testing.T) {
	for _, raw := range []string{
		"+OK\r\n",
		"-ERR no\r\n",
		":7\r\n",
		"$3\r\nabc\r\n",
		"$-1\r\n",
		"*-1\r\n",
		"_\r\n",
		",3.5\r\n",
		"#t\r\n",
		"(123456789012345678901234567890\r\n",
		"=8\r\ntxt:abcd\r\n",
		"!3\r\nbad\r\n",
		"*2\r\n$1\r\na\r\n:1\r\n",
		"%1\r\n$1\r\nk\r\n~2\r\n:1\r\n:2\r\n",
		">2\r\n$7\r\nmessage\r\n$1\r\nx\r\n",
	} {
		v, err := ParseValue([]byte(raw))
		if err != nil {
			t.Fatalf("ParseValue(%q): %v", raw, err)
		}
		if got := v.AppendTo(nil); string(got) != raw {
			t.Errorf("ParseValue(%q).AppendTo = %q; want it unchanged", raw, got)
		}
	}
}

func TestParseValueDropsAttributes(t *testing.T) {
	v, err := ParseValue([]byte("|1\r\n+ttl\r\n:3\r\n$1\r\nv\r\n"))
	if err != nil || v.Kind != '$' || string(v.Str) != "v" {
		t.Fatalf("ParseValue = %+v, %v; want the bulk after the attribute", v, err)
	}
}

func TestParseValueRefusesMalformed(t *testing.T) {
	for _, bad := range []string{
		"",
		"$3\r\nab",
		"*2\r\n:1\r\n",
		":x\r\n",
		"?\r\n",
		"+OK\r\n+extra\r\n",
		// A count far beyond what the bytes could hold is refused
		// before anything is allocated for it.
		"*2000000000\r\n:1\r\n",
	} {
		if _, err := ParseValue([]byte(bad)); !errors.Is(err, ErrMalformedReply) {
			t.Errorf("ParseValue(%q) err = %v; want ErrMalformedReply", bad, err)
		}
	}
}

func TestValueHelpers(t *testing.T) {
	v, err := ParseValue([]byte("*4\r\n$4\r\nname\r\n$1\r\nx\r\n$4\r\nnone\r\n_\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !v.IsMap() {
		t.Fatal("a flattened RESP2 map is not seen as a map")
	}
	if f, ok := v.Field("name"); !ok || string(f.Str) != "x" {
		t.Fatalf("Field(name) = %+v, %v", f, ok)
	}
	if f, ok := v.Field("none"); !ok || !f.IsNull() {
		t.Fatalf("Field(none) = %+v, %v; want a null", f, ok)
	}
	if _, ok := v.Field("missing"); ok {
		t.Fatal("Field found a name that is not there")
	}
	verb := Value{Kind: '=', Str: []byte("txt:hello")}
	if got := string(verb.Text()); got != "hello" {
		t.Fatalf("Text = %q", got)
	}
	if got := string(AppendTextLike(nil, verb, []byte("bye"))); got != "=7\r\ntxt:bye\r\n" {
		t.Fatalf("AppendTextLike(verbatim) = %q", got)
	}
	if got := string(AppendTextLike(nil, Value{Kind: '$'}, []byte("bye"))); got != "$3\r\nbye\r\n" {
		t.Fatalf("AppendTextLike(bulk) = %q", got)
	}
}

func TestElementLen(t *testing.T) {
	if n, err := ElementLen([]byte("$1\r\na\r\n:1\r\n")); err != nil || n != 7 {
		t.Fatalf("ElementLen = %d, %v; want 7", n, err)
	}
	if _, err := ElementLen([]byte("$1\r\na")); !errors.Is(err, ErrMalformedReply) {
		t.Fatalf("ElementLen of a cut reply err = %v; want ErrMalformedReply", err)
	}
}

// FuzzParseValue checks that no input panics the reader and that what it
// reads is written back the same way twice.
func FuzzParseValue(f *testing.F) {
	f.Add([]byte("*2\r\n$1\r\na\r\n%1\r\n+k\r\n_\r\n"))
	f.Add([]byte("|1\r\n+a\r\n+b\r\n:1\r\n"))
	f.Add([]byte("=8\r\ntxt:abcd\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseValue(b)
		if err != nil {
			return
		}
		once := v.AppendTo(nil)
		w, err := ParseValue(once)
		if err != nil {
			t.Fatalf("ParseValue(%q) wrote %q, which does not parse: %v", b, once, err)
		}
		if twice := w.AppendTo(nil); !bytes.Equal(once, twice) {
			t.Fatalf("written twice differently: %q then %q", once, twice)
		}
	})
}

func TestReplyShapes(t *testing.T) {
	for _, tc := range []struct {
		raw             string
		isErr, redirect bool
		text            string
	}{
		{"-ERR wrong\r\n", true, false, "ERR wrong"},
		{"-MOVED 3999 127.0.0.1:6381\r\n", true, true, "MOVED 3999 127.0.0.1:6381"},
		{"-ASK 3999 127.0.0.1:6381\r\n", true, true, "ASK 3999 127.0.0.1:6381"},
		{"-MOVEDX\r\n", true, false, "MOVEDX"},
		{"-ERR MOVED\r\n", true, false, "ERR MOVED"},
		{"+OK\r\n", false, false, "OK"},
		{":1\r\n", false, false, "1"},
		{"", false, false, ""},
		{"-", true, false, "-"},
	} {
		if got := IsError([]byte(tc.raw)); got != tc.isErr {
			t.Errorf("IsError(%q) = %v, want %v", tc.raw, got, tc.isErr)
		}
		if got := IsRedirect([]byte(tc.raw)); got != tc.redirect {
			t.Errorf("IsRedirect(%q) = %v, want %v", tc.raw, got, tc.redirect)
		}
		if got := LineText([]byte(tc.raw)); got != tc.text {
			t.Errorf("LineText(%q) = %q, want %q", tc.raw, got, tc.text)
		}
	}
}
