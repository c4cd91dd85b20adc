package resp

import "testing"

// TestWriters3 pins each protocol-dependent writer's bytes in both
// protocols, as Redis sends them.
func TestWriters3(t *testing.T) {
	for _, tc := range []struct {
		name   string
		resp2  string
		resp3  string
		append func([]byte, bool) []byte
	}{
		{"null", "$-1\r\n", "_\r\n", AppendNull},
		{"null array", "*-1\r\n", "_\r\n", AppendNullArray},
		{"map", "*4\r\n", "%2\r\n", func(b []byte, r3 bool) []byte { return AppendMap(b, 2, r3) }},
		{"set", "*3\r\n", "~3\r\n", func(b []byte, r3 bool) []byte { return AppendSet(b, 3, r3) }},
		{"push", "*3\r\n", ">3\r\n", func(b []byte, r3 bool) []byte { return AppendPush(b, 3, r3) }},
		{"verbatim", "$2\r\nhi\r\n", "=6\r\ntxt:hi\r\n", func(b []byte, r3 bool) []byte { return AppendVerbatim(b, "hi", r3) }},
		{"true", ":1\r\n", "#t\r\n", func(b []byte, r3 bool) []byte { return AppendBool(b, true, r3) }},
		{"false", ":0\r\n", "#f\r\n", func(b []byte, r3 bool) []byte { return AppendBool(b, false, r3) }},
	} {
		if got := string(tc.append(nil, false)); got != tc.resp2 {
			t.Errorf("%s in RESP2 = %q, want %q", tc.name, got, tc.resp2)
		}
		if got := string(tc.append(nil, true)); got != tc.resp3 {
			t.Errorf("%s in RESP3 = %q, want %q", tc.name, got, tc.resp3)
		}
	}
}
