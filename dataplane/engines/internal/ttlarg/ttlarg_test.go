package ttlarg

import (
	"strings"
	"testing"

	"keyway.dev/dataplane/resp"
)

func cmd(line string) *resp.Command {
	var args [][]byte
	for _, f := range strings.Fields(line) {
		args = append(args, []byte(f))
	}
	return &resp.Command{Args: args, Spec: resp.Resolve(args)}
}

func TestFind(t *testing.T) {
	tests := []struct {
		line     string
		rel, abs int // index of the argument, 0 for none
		unit     Unit
	}{
		{"SET k v", 0, 0, 0},
		{"SET k v EX 10", 4, 0, Seconds},
		{"set k v px 10", 4, 0, Millis},
		{"SET k v NX GET PX 10", 6, 0, Millis},
		{"SET k v EXAT 100", 0, 4, Seconds},
		{"SET k v PXAT 100", 0, 4, Millis},
		{"SET k v EXAT 100 PX 50", 6, 4, Millis}, // Redis refuses it; each finder sees its own
		{"SET k EX", 0, 0, 0},
		{"SET EX EX", 0, 0, 0}, // key and value are not options
		{"SETEX k 10 v", 2, 0, Seconds},
		{"PSETEX k 10 v", 2, 0, Millis},
		{"EXPIRE k 10", 2, 0, Seconds},
		{"PEXPIRE k 10 NX", 2, 0, Millis},
		{"EXPIREAT k 100", 0, 2, Seconds},
		{"PEXPIREAT k 100", 0, 2, Millis},
		{"GETEX k EX 10", 3, 0, Seconds},
		{"GETEX k PXAT 10", 0, 3, Millis},
		{"GETEX k PERSIST", 0, 0, 0},
		{"EXPIRE k", 0, 0, 0},
		{"GET k", 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c := cmd(tt.line)
			at, u, ok := Relative(c)
			if ok != (tt.rel > 0) || at != tt.rel || (ok && u != tt.unit) {
				t.Errorf("Relative = %d, %v, %v; want %d", at, u, ok, tt.rel)
			}
			at, u, ok = Absolute(c)
			if ok != (tt.abs > 0) || at != tt.abs || (ok && tt.rel == 0 && u != tt.unit) {
				t.Errorf("Absolute = %d, %v, %v; want %d", at, u, ok, tt.abs)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		u    Unit
		want int64
		ok   bool
	}{
		{"10", Seconds, 10000, true},
		{"10", Millis, 10, true},
		{"0", Seconds, 0, false},
		{"-5", Seconds, 0, false},
		{"1.5", Seconds, 0, false},
		{"", Millis, 0, false},
		{"1099511627777", Millis, 0, false}, // above MaxRelative
		{"1099511628", Seconds, 0, false},
		{"1099511627776", Millis, 1099511627776, true},
		{"1234567890123456", Millis, 0, false}, // 16 digits
	}
	for _, tt := range tests {
		got, ok := Parse([]byte(tt.in), tt.u)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Parse(%q, %v) = %d, %v; want %d, %v", tt.in, tt.u, got, ok, tt.want, tt.ok)
		}
	}
	// A Unix time in milliseconds is above MaxRelative but is a time.
	if got, ok := ParseTime([]byte("1765000000000"), Millis); !ok || got != 1765000000000 {
		t.Errorf("ParseTime(unix ms) = %d, %v", got, ok)
	}
}
