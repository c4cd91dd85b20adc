package resp

import (
	"strings"
	"testing"
)

func TestClassOf(t *testing.T) {
	tests := []struct {
		args []string
		want Class
	}{
		{[]string{"GET", "k"}, ClassRead},
		{[]string{"MGET", "a", "b"}, ClassRead},
		{[]string{"SET", "k", "v"}, ClassWrite},
		{[]string{"EVAL", "s", "0"}, ClassOther}, // neither read nor write
		{[]string{"FLUSHALL"}, ClassAdmin},
		{[]string{"KEYS", "*"}, ClassAdmin},
		{[]string{"SORT", "k"}, ClassAdmin},
		{[]string{"CONFIG", "SET", "a", "b"}, ClassAdmin},
		{[]string{"CONFIG", "HELP"}, ClassOther},
		{[]string{"BLPOP", "k", "0"}, ClassBlocking},
		{[]string{"BZMPOP", "0", "1", "k", "MIN"}, ClassBlocking},
		{[]string{"WAIT", "1", "0"}, ClassBlocking},
		{[]string{"XREAD", "STREAMS", "s", "0"}, ClassRead},
		{[]string{"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}, ClassBlocking},
		{[]string{"xreadgroup", "group", "g", "c", "block", "10", "streams", "s", ">"}, ClassBlocking},
		{[]string{"XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"}, ClassWrite},
		{[]string{"SUBSCRIBE", "c"}, ClassPubSub},
		{[]string{"PUBLISH", "c", "m"}, ClassPubSub},
		{[]string{"PING"}, ClassOther},
		{[]string{"NOSUCH"}, ClassOther},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if got := ClassOf(cmd(tt.args...)); got != tt.want {
				t.Errorf("ClassOf = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestIsBlocking(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"BLPOP", "k", "0"}, true},
		{[]string{"BRPOPLPUSH", "a", "b", "0"}, true},
		{[]string{"WAIT", "1", "0"}, true},
		{[]string{"LPOP", "k"}, false},
		{[]string{"XREAD", "COUNT", "1", "STREAMS", "s", "0"}, false},
		{[]string{"XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s", "0"}, true},
		{[]string{"XREAD", "STREAMS", "block", "0"}, false},               // a key named block
		{[]string{"XREAD", "COUNT", "BLOCK", "STREAMS", "s", "0"}, false}, // COUNT's value
		{[]string{"XREADGROUP", "GROUP", "block", "c", "STREAMS", "s", ">"}, false},
		{[]string{"XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"}, true},
		{[]string{"NOSUCH"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if got := IsBlocking(cmd(tt.args...)); got != tt.want {
				t.Errorf("IsBlocking = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseClass(t *testing.T) {
	for c := ClassOther; c <= ClassPubSub; c++ {
		t.Run(c.String(), func(t *testing.T) {
			got, ok := ParseClass(c.String())
			if !ok || got != c {
				t.Errorf("ParseClass(%q) = %v, %v", c.String(), got, ok)
			}
		})
	}
	if _, ok := ParseClass("bogus"); ok {
		t.Error("ParseClass accepted bogus")
	}
}
