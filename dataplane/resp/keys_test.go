package resp

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"keyway.dev/dataplane/resp/internal/probe"
)

// movableCases exercise every command Redis marks movablekeys, with and
// without the options that move keys. `""` stands for an empty argument.
var movableCases = []string{
	`EVAL return 2 a b x`,
	`EVAL return 0`,
	`EVAL return 1 a`,
	`EVALSHA abc 1 a`,
	`EVAL_RO return 1 a x y`,
	`EVALSHA_RO abc 2 a b`,
	`FCALL f 1 a x`,
	`FCALL f 3 a b c`,
	`FCALL_RO f 0`,
	`FCALL_RO f 2 a b`,
	`ZUNION 2 a b WEIGHTS 1 2`,
	`ZINTER 2 a b`,
	`ZDIFF 2 a b WITHSCORES`,
	`ZDIFF 1 a`,
	`ZUNIONSTORE d 2 a b`,
	`ZUNIONSTORE d 1 a AGGREGATE MAX`,
	`ZINTERSTORE d 3 a b c WEIGHTS 1 2 3`,
	`ZDIFFSTORE d 2 a b`,
	`SINTERCARD 2 a b LIMIT 1`,
	`SINTERCARD 1 a`,
	`ZINTERCARD 3 a b c`,
	`LMPOP 2 a b LEFT`,
	`LMPOP 1 a RIGHT COUNT 3`,
	`BLMPOP 0 2 a b LEFT COUNT 2`,
	`ZMPOP 1 a MIN`,
	`BZMPOP 0 2 a b MAX`,
	`XREAD STREAMS a 0`,
	`XREAD COUNT 2 STREAMS a b 0 0`,
	`XREAD BLOCK 0 STREAMS a $`,
	`XREAD COUNT 1 BLOCK 10 STREAMS a b c 0 0 0`,
	`XREADGROUP GROUP g c STREAMS a >`,
	`XREADGROUP GROUP g c COUNT 1 STREAMS a b > >`,
	`XREADGROUP GROUP g c NOACK STREAMS a >`,
	`XREADGROUP GROUP g c BLOCK 0 NOACK STREAMS a b 0 0`,
	`SORT k`,
	`SORT k ALPHA`,
	`SORT k LIMIT 0 1 STORE d`,
	`SORT k BY w GET # STORE d`,
	`SORT k STORE d1 STORE d2`,
	`SORT_RO k`,
	`SORT_RO k BY w GET # LIMIT 0 1`,
	`MIGRATE h 6379 k 0 1000`,
	`MIGRATE h 6379 k 0 1000 COPY REPLACE`,
	`MIGRATE h 6379 "" 0 1000 KEYS a b`,
	`MIGRATE h 6379 "" 0 1000 COPY REPLACE KEYS a b c`,
	`MIGRATE h 6379 "" 0 1000 AUTH pw KEYS a`,
	`MIGRATE h 6379 "" 0 1000 AUTH2 u pw KEYS a b`,
	`GEORADIUS g 1 2 3 km`,
	`GEORADIUS g 1 2 3 km STORE d`,
	`GEORADIUS g 1 2 3 km WITHDIST COUNT 1`,
	`GEORADIUS g 1 2 3 km STOREDIST d`,
	`GEORADIUSBYMEMBER g m 3 km`,
	`GEORADIUSBYMEMBER g m 3 km STORE d`,
	`GEORADIUSBYMEMBER g m 3 km STOREDIST d COUNT 2`,
}

// otherCases are key-taking commands whose keys are easy to get wrong
// by position: negative last keys, steps, subcommands, pub/sub channels.
var otherCases = []string{
	`GET k`,
	`SET k v EX 10`,
	`MSET a 1 b 2 c 3`,
	`MSETNX a 1 b 2`,
	`MGET a b c`,
	`DEL a b`,
	`EXISTS a`,
	`BLPOP a b 0`,
	`BRPOP a 0`,
	`BZPOPMIN a b 0`,
	`BITOP AND d a b`,
	`RENAME a b`,
	`LMOVE a b LEFT RIGHT`,
	`BLMOVE a b LEFT RIGHT 0`,
	`OBJECT ENCODING k`,
	`MEMORY USAGE k`,
	`XINFO STREAM s`,
	`XGROUP CREATE s g $`,
	`PFMERGE d a b`,
	`SINTERSTORE d a b`,
	`GEOSEARCHSTORE d s FROMMEMBER m BYRADIUS 1 km`,
	`SSUBSCRIBE a b`,
	`SPUBLISH c m`,
	`WATCH a b`,
	`PING`,
	`CONFIG GET maxmemory`,
}

func splitCase(s string) []string {
	args := strings.Fields(s)
	for i, a := range args {
		if a == `""` {
			args[i] = ""
		}
	}
	return args
}

// getKeys asks the server for args' keys and returns their indexes in
// args (keys are distinct in every case, so names map back to places).
func getKeys(t *testing.T, c *probe.Conn, args []string) []int {
	t.Helper()
	v, err := c.Do(append([]string{"COMMAND", "GETKEYS"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.(probe.Error); ok {
		return nil // no keys, or arguments Redis would refuse
	}
	arr, ok := v.([]any)
	if !ok {
		t.Fatalf("GETKEYS reply %T", v)
	}
	var out []int
	used := make([]bool, len(args))
	for _, k := range arr {
		i := slices.IndexFunc(args, func(a string) bool { return a == k })
		for i >= 0 && used[i] {
			j := slices.Index(args[i+1:], k.(string))
			if j < 0 {
				i = -1
				break
			}
			i += 1 + j
		}
		if i < 0 {
			t.Fatalf("GETKEYS returned %q, not an argument", k)
		}
		used[i] = true
		out = append(out, i)
	}
	return out
}

func TestKeysMatchGetKeys(t *testing.T) {
	c := live(t)
	var cases [][]string
	for _, s := range append(append([]string{}, movableCases...), otherCases...) {
		cases = append(cases, splitCase(s))
	}
	cases = append(cases, fixedPositionCases()...)
	covered := map[*Spec]bool{}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cm := cmd(args...)
			if cm.Spec == nil {
				t.Fatal("unknown command")
			}
			covered[cm.Spec] = true
			want := getKeys(t, c, args)
			if w, ok := unlikeGetKeys(cm); ok {
				want = w
			}
			got := cm.Keys(nil)
			if !slices.Equal(got, want) {
				t.Errorf("Keys = %v, GETKEYS = %v", got, want)
			}
		})
	}
	for _, s := range commands {
		if s.Has(FlagMovableKeys) && !covered[s] {
			t.Errorf("movable-key command %s has no test case", s.Name)
		}
	}
}

// fixedPositionCases builds, for every command and subcommand with legacy
// key positions, one invocation at its minimum arity and one with four
// more arguments (variadic commands), so every row's positions are
// checked, not a sample.
func fixedPositionCases() [][]string {
	var out [][]string
	add := func(s *Spec, prefix []string) {
		if s.FirstKey == 0 || s.Keys != nil {
			return
		}
		n := s.Arity
		if n < 0 {
			n = -n
		}
		extra := []int{0}
		if s.Arity < 0 {
			extra = append(extra, 4)
			if s.Step > 1 {
				extra[1] = 2 * s.Step
			}
		}
		for _, e := range extra {
			args := append([]string{}, prefix...)
			for i := len(prefix); i < n+e; i++ {
				args = append(args, fmt.Sprintf("a%d", i))
			}
			out = append(out, args)
		}
	}
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := commands[name]
		add(s, []string{name})
		subs := make([]string, 0, len(s.Subcommands))
		for sub := range s.Subcommands {
			subs = append(subs, sub)
		}
		sort.Strings(subs)
		for _, sub := range subs {
			add(s.Subcommands[sub], []string{name, sub})
		}
	}
	return out
}

// unlikeGetKeys gives the keys where Keys deliberately differs from
// GETKEYS. Shard channels (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH) are
// NOT_KEY key specs: GETKEYS omits them but Redis Cluster routes them by
// slot like keys, and so must the proxy. PFMERGE with only a destination
// gets no keys from Redis 7.0's GETKEYS (its source range starts past the
// end), yet PFMERGE d writes d.
func unlikeGetKeys(c *Command) ([]int, bool) {
	switch c.Spec.Name {
	case "SSUBSCRIBE", "SUNSUBSCRIBE", "SPUBLISH", "PFMERGE":
		return legacyKeys(c.Spec, len(c.Args), nil), true
	}
	return nil, false
}

func TestKeysMalformed(t *testing.T) {
	tests := []string{
		`EVAL s 3 a`,      // numkeys past the arguments
		`EVAL s x a`,      // not a number
		`EVAL s -1 a`,     // negative
		`EVAL s 01 a`,     // Redis's parser refuses leading zeros
		`ZUNION 0 a`,      // zero keys
		`XREAD STREAMS a`, // odd count after STREAMS
		`XREAD FOO STREAMS a 0`,
		`MIGRATE h 6379 k 0 1000 KEYS a`, // KEYS needs an empty key
		`UNKNOWNCMD a b`,
	}
	for _, s := range tests {
		t.Run(s, func(t *testing.T) {
			if got := cmd(splitCase(s)...).Keys(nil); len(got) != 0 {
				t.Errorf("Keys = %v, want none", got)
			}
		})
	}
}

func BenchmarkKeys(b *testing.B) {
	for _, s := range []string{`GET k`, `MSET a 1 b 2 c 3 d 4`, `EVAL s 2 a b x`, `XREAD COUNT 1 STREAMS a b 0 0`} {
		b.Run(s, func(b *testing.B) {
			c := cmd(splitCase(s)...)
			dst := make([]int, 0, 8)
			b.ReportAllocs()
			for b.Loop() {
				dst = c.Keys(dst[:0])
			}
		})
	}
}
