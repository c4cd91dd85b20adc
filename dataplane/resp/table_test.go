package resp

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"keyway.dev/dataplane/resp/internal/cmdtable"
)

// TestTableMatchesServer fails when table_gen.go is stale: every command
// and subcommand the live server lists must be in the table with the same
// arity, flags and key positions, the table must hold nothing else, and
// regenerating must reproduce the committed file byte for byte.
func TestTableMatchesServer(t *testing.T) {
	c := live(t)
	rows, err := cmdtable.Fetch(c)
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	var check func(r *cmdtable.Row, s *Spec)
	check = func(r *cmdtable.Row, s *Spec) {
		t.Run(r.Name, func(t *testing.T) {
			seen++
			if s == nil {
				t.Fatalf("not in the table")
			}
			if want := strings.ToUpper(r.Name); s.Name != want {
				t.Errorf("Name = %q, want %q", s.Name, want)
			}
			if s.Arity != r.Arity {
				t.Errorf("Arity = %d, want %d", s.Arity, r.Arity)
			}
			if s.FirstKey != r.First || s.LastKey != r.Last || s.Step != r.Step {
				t.Errorf("keys = %d,%d,%d, want %d,%d,%d", s.FirstKey, s.LastKey, s.Step, r.First, r.Last, r.Step)
			}
			var want Flags
			for _, f := range r.Flags {
				fl, ok := FlagByName(f)
				if !ok {
					t.Fatalf("Redis flag %q has no resp flag", f)
				}
				want |= fl
			}
			if r.InACL("@dangerous") {
				want |= FlagDangerous
			}
			proxyOnly := FlagConnState
			if r.Name == "wait" || r.Name == "waitaof" {
				proxyOnly |= FlagBlocking
			}
			if got := s.Flags &^ proxyOnly; got != want&^proxyOnly {
				t.Errorf("Flags = %v, want %v", got, want)
			}
			if (s.Keys != nil) != r.Has("movablekeys") {
				t.Errorf("has key func = %v, movablekeys = %v", s.Keys != nil, r.Has("movablekeys"))
			}
			if len(s.Subcommands) != len(r.Subcommands) {
				t.Errorf("%d subcommands, want %d", len(s.Subcommands), len(r.Subcommands))
			}
		})
		for i := range r.Subcommands {
			sub := &r.Subcommands[i]
			_, name, _ := strings.Cut(sub.Name, "|")
			check(sub, Resolve(bs(r.Name, name)))
		}
	}
	for i := range rows {
		check(&rows[i], Lookup([]byte(rows[i].Name)))
	}
	total := 0
	for _, s := range commands {
		total += 1 + len(s.Subcommands)
	}
	if total != seen {
		t.Errorf("table has %d commands, server %d", total, seen)
	}

	version, err := cmdtable.Version(c)
	if err != nil {
		t.Fatal(err)
	}
	src, err := cmdtable.Render(rows, version)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("table_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(src, committed) {
		t.Errorf("table_gen.go is stale: run `go generate` in dataplane/resp")
	}
}

func TestProxyFlags(t *testing.T) {
	tests := []struct {
		args []string
		flag Flags
		want bool
	}{
		{[]string{"MULTI"}, FlagConnState, true},
		{[]string{"EXEC"}, FlagConnState, true},
		{[]string{"DISCARD"}, FlagConnState, true},
		{[]string{"WATCH", "k"}, FlagConnState, true},
		{[]string{"UNWATCH"}, FlagConnState, true},
		{[]string{"SUBSCRIBE", "c"}, FlagConnState, true},
		{[]string{"PSUBSCRIBE", "c*"}, FlagConnState, true},
		{[]string{"SSUBSCRIBE", "c"}, FlagConnState, true},
		{[]string{"UNSUBSCRIBE"}, FlagConnState, true},
		{[]string{"PUNSUBSCRIBE"}, FlagConnState, true},
		{[]string{"SUNSUBSCRIBE"}, FlagConnState, true},
		{[]string{"CLIENT", "TRACKING", "on"}, FlagConnState, true},
		{[]string{"HELLO", "3"}, FlagConnState, false},
		{[]string{"CLIENT", "SETNAME", "x"}, FlagConnState, false},
		{[]string{"GET", "k"}, FlagConnState, false},
		{[]string{"PUBLISH", "c", "m"}, FlagConnState, false},
		{[]string{"WAIT", "1", "0"}, FlagBlocking, true},
		{[]string{"BLPOP", "k", "0"}, FlagBlocking, true},
		{[]string{"LPOP", "k"}, FlagBlocking, false},
		{[]string{"KEYS", "*"}, FlagDangerous, true},
		{[]string{"CONFIG", "SET", "a", "b"}, FlagDangerous | FlagAdmin, true},
		{[]string{"EVAL", "s", "0"}, FlagMovableKeys | FlagNoMandatoryKeys, true},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			c := cmd(tt.args...)
			if c.Spec == nil {
				t.Fatal("unknown command")
			}
			if got := c.Spec.Has(tt.flag); got != tt.want {
				t.Errorf("%s has %v = %v, want %v (flags %v)", c.Name(), tt.flag, got, tt.want, c.Spec.Flags)
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		args []string
		want string // "" for nil
	}{
		{[]string{"get", "k"}, "GET"},
		{[]string{"GeT", "k"}, "GET"},
		{[]string{"config", "get", "x"}, "CONFIG|GET"},
		{[]string{"CONFIG", "Set", "a", "b"}, "CONFIG|SET"},
		{[]string{"client", "setname", "n"}, "CLIENT|SETNAME"},
		{[]string{"object", "encoding", "k"}, "OBJECT|ENCODING"},
		{[]string{"cluster", "count-failure-reports", "id"}, "CLUSTER|COUNT-FAILURE-REPORTS"},
		{[]string{"config"}, "CONFIG"},          // missing subcommand
		{[]string{"config", "nope"}, "CONFIG"},  // unknown subcommand
		{[]string{"get", "config"}, "GET"},      // not a container
		{[]string{"nosuchcommand"}, ""},         // unknown
		{[]string{strings.Repeat("x", 40)}, ""}, // longer than any name
		{[]string{"GEORADIUSBYMEMBER_RO", "k"}, "GEORADIUSBYMEMBER_RO"},
		{nil, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			got := Resolve(bs(tt.args...))
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tt.want {
				t.Errorf("Resolve = %q, want %q", name, tt.want)
			}
		})
	}
}

func TestLookupAllocs(t *testing.T) {
	args := bs("config", "get", "maxmemory")
	if n := testing.AllocsPerRun(100, func() {
		if Lookup(args[0]) == nil || Resolve(args) == nil {
			t.Fatal("not found")
		}
	}); n != 0 {
		t.Errorf("Lookup and Resolve allocate %v times", n)
	}
}

func BenchmarkLookup(b *testing.B) {
	for _, name := range []string{"get", "SET", "georadiusbymember_ro", "nosuch"} {
		b.Run(name, func(b *testing.B) {
			n := []byte(name)
			b.ReportAllocs()
			for b.Loop() {
				Lookup(n)
			}
		})
	}
}

func BenchmarkResolve(b *testing.B) {
	args := bs("CONFIG", "GET", "maxmemory")
	b.ReportAllocs()
	for b.Loop() {
		Resolve(args)
	}
}
