package resp

import (
	"strings"
	"testing"

	"keyway.dev/dataplane/resp/internal/probe"
)

// TestRefusalMatchesServer sends each command to redis-server and
// checks that AppendRefusal words the error exactly as the server does,
// and refuses nothing the server accepts.
func TestRefusalMatchesServer(t *testing.T) {
	c := live(t)
	long := strings.Repeat("x", 200)
	tests := []struct {
		name string
		args []string
	}{
		{"unknown", []string{"FOO", "a", "b"}},
		{"unknown no args", []string{"foo"}},
		{"unknown lower", []string{"nosuch", "x"}},
		{"unknown long name", []string{long}},
		{"unknown long arg", []string{"foo", long, "b"}},
		{"unknown many args", []string{"foo", strings.Repeat("a", 60), strings.Repeat("b", 60), "c", "d"}},
		{"unknown arg at limit", []string{"foo", strings.Repeat("a", 124), "b"}},
		{"unknown line breaks", []string{"fo\r\no", "a\nb", "c\rd"}},
		{"unknown nul", []string{"fo\x00o", "a\x00b"}},
		{"unknown empty arg", []string{"foo", "", "x"}},
		{"unknown subcommand", []string{"CONFIG", "FOO"}},
		{"unknown subcommand lower", []string{"config", "foo", "bar"}},
		{"unknown subcommand mixed", []string{"Client", "Nope"}},
		{"unknown subcommand long", []string{"object", long}},
		{"container alone", []string{"CONFIG"}},
		{"container alone lower", []string{"client"}},
		{"arity exact short", []string{"GET"}},
		{"arity exact long", []string{"get", "a", "b"}},
		{"arity minimum", []string{"MSET", "a"}},
		{"arity subcommand", []string{"config", "get"}},
		{"arity subcommand exact", []string{"OBJECT", "ENCODING"}},
		{"arity dashed subcommand", []string{"CLUSTER", "COUNT-FAILURE-REPORTS"}},
		{"ok", []string{"SET", "k", "v"}},
		{"ok subcommand", []string{"CONFIG", "GET", "maxmemory"}},
		{"ok mixed case", []string{"gEt", "k"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := c.Do(tt.args...)
			if err != nil {
				t.Fatal(err)
			}
			got, refused := AppendRefusal(nil, cmd(tt.args...))
			e, isErr := v.(probe.Error)
			if !isErr {
				if refused {
					t.Errorf("refused with %q; server replied %v", got, v)
				}
				return
			}
			if want := "-" + string(e) + "\r\n"; string(got) != want {
				t.Errorf("refusal\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestCheckArity(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"GET", "k"}, true},
		{[]string{"GET"}, false},
		{[]string{"GET", "a", "b"}, false},
		{[]string{"MSET", "a", "1", "b", "2"}, true},
		{[]string{"MSET", "a"}, false},
		{[]string{"CONFIG", "GET", "a", "b"}, true},
		{[]string{"CONFIG", "GET"}, false},
		{[]string{"NOSUCH"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			if got := CheckArity(cmd(tt.args...)); got != tt.want {
				t.Errorf("CheckArity = %v, want %v", got, tt.want)
			}
		})
	}
}
