package resp

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// A command a new Redis adds must have its key access decided by someone
// before a domain confined to key prefixes can run it.
func TestEveryCommandHasAKeyAccessClass(t *testing.T) {
	seen := map[string]bool{}
	for _, row := range AccessTable() {
		seen[row.Name] = true
		if row.Access == AccessUnclassified {
			t.Errorf("%s has no key-access class: add it to keyAccess in access.go", row.Name)
		}
	}
	for _, s := range All() {
		for _, sub := range s.Subcommands {
			if sub.access == AccessUnclassified {
				t.Errorf("%s has no key-access class", sub.Name)
			}
		}
		if !s.Container() && s.access == AccessUnclassified {
			t.Errorf("%s has no key-access class", s.Name)
		}
	}
	for name := range keyAccess {
		if !seen[name] {
			t.Errorf("keyAccess names %s, which the command table does not have", name)
		}
	}
}

// A command whose class is "keys" must have key positions to check, or
// the class says nothing about what it touches.
func TestKeysClassHasKeyPositions(t *testing.T) {
	for _, row := range AccessTable() {
		if row.Access != AccessKeys {
			continue
		}
		s := specByTableName(row.Name)
		if s.Keys == nil && s.FirstKey <= 0 {
			t.Errorf("%s is class keys but has no key positions", row.Name)
		}
	}
}

func specByTableName(name string) *Spec {
	top, sub, ok := strings.Cut(name, "|")
	s := Lookup([]byte(top))
	if ok {
		return s.Subcommands[sub]
	}
	return s
}

func TestKeyAccessOf(t *testing.T) {
	tests := []struct {
		args []string
		want KeyAccess
	}{
		{[]string{"GET", "k"}, AccessKeys},
		{[]string{"COPY", "a", "b"}, AccessKeys},
		{[]string{"COPY", "a", "b", "REPLACE"}, AccessKeys},
		{[]string{"COPY", "a", "b", "db", "1"}, AccessKeyspace},
		{[]string{"COPY", "a", "b", "REPLACE", "DB", "0"}, AccessKeyspace},
		{[]string{"SORT", "k"}, AccessPatterns},
		{[]string{"SCAN", "0"}, AccessMatch},
		{[]string{"RANDOMKEY"}, AccessRandom},
		{[]string{"SWAPDB", "0", "1"}, AccessKeyspace},
		{[]string{"EVAL", "return 1", "0"}, AccessScript},
		{[]string{"FUNCTION", "LOAD", "x"}, AccessScript},
		{[]string{"FUNCTION", "FLUSH"}, AccessKeyspace},
		{[]string{"PUBLISH", "c", "m"}, AccessChannels},
		{[]string{"CLIENT", "TRACKING", "on"}, AccessTracking},
		{[]string{"PING"}, AccessNone},
		{[]string{"NOSUCH"}, AccessUnclassified},
	}
	for _, tt := range tests {
		if got := KeyAccessOf(cmd(tt.args...)); got != tt.want {
			t.Errorf("KeyAccessOf(%v) = %s, want %s", tt.args, got, tt.want)
		}
	}
}

func TestSortArgs(t *testing.T) {
	tests := []struct {
		args             []string
		patterns, stores []int
		ok               bool
	}{
		{[]string{"SORT", "k"}, nil, nil, true},
		{[]string{"SORT", "k", "BY", "nosort", "GET", "b:*", "GET", "#"}, []int{3, 5, 7}, nil, true},
		{[]string{"SORT", "k", "limit", "0", "1", "get", "x*", "alpha", "desc", "store", "d"}, []int{6}, []int{10}, true},
		// GETKEYS says "BY" is the destination; SORT writes x.
		{[]string{"SORT", "k", "STORE", "BY", "STORE", "x"}, nil, []int{3, 5}, true},
		{[]string{"SORT", "k", "GET"}, nil, nil, false},
		{[]string{"SORT", "k", "NOPE", "GET", "b:*"}, nil, nil, false},
		// SORT_RO has no STORE: Redis refuses it as a syntax error.
		{[]string{"SORT_RO", "k", "STORE", "d"}, nil, nil, false},
		{[]string{"SORT_RO", "k", "GET", "b:*"}, []int{3}, nil, true},
	}
	for _, tt := range tests {
		p, s, ok := SortArgs(cmd(tt.args...), nil, nil)
		if !slices.Equal(p, tt.patterns) || !slices.Equal(s, tt.stores) || ok != tt.ok {
			t.Errorf("SortArgs(%v) = %v, %v, %v; want %v, %v, %v", tt.args, p, s, ok, tt.patterns, tt.stores, tt.ok)
		}
	}
	for p, want := range map[string]bool{"#": false, "nosort": false, "b:*": true, "w_*->f": true, "#*": true} {
		if got := SortPatternReads([]byte(p)); got != want {
			t.Errorf("SortPatternReads(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestMatchArgs(t *testing.T) {
	tests := []struct {
		args []string
		want []int
		all  bool
	}{
		{[]string{"KEYS", "a:*"}, []int{1}, false},
		{[]string{"SCAN", "0"}, nil, true},
		{[]string{"SCAN", "0", "COUNT", "10", "TYPE", "string"}, nil, true},
		{[]string{"SCAN", "0", "MATCH", "a:*"}, []int{3}, false},
		// Redis uses the last MATCH; every one is found.
		{[]string{"SCAN", "0", "MATCH", "a:*", "match", "b:*"}, []int{3, 5}, false},
		{[]string{"SCAN", "0", "COUNT", "MATCH", "MATCH", "b:*"}, []int{5}, false},
	}
	for _, tt := range tests {
		got, all := MatchArgs(cmd(tt.args...), nil)
		if !slices.Equal(got, tt.want) || all != tt.all {
			t.Errorf("MatchArgs(%v) = %v, %v; want %v, %v", tt.args, got, all, tt.want, tt.all)
		}
	}
}

func TestChannelArgs(t *testing.T) {
	tests := []struct {
		args          []string
		want          []int
		patterns, all bool
	}{
		{[]string{"PUBLISH", "c", "m"}, []int{1}, false, false},
		{[]string{"SPUBLISH", "c", "m"}, []int{1}, false, false},
		{[]string{"SUBSCRIBE", "a", "b"}, []int{1, 2}, false, false},
		{[]string{"UNSUBSCRIBE"}, nil, false, false},
		{[]string{"PSUBSCRIBE", "a*", "b*"}, []int{1, 2}, true, false},
		{[]string{"PUBSUB", "CHANNELS"}, nil, true, true},
		{[]string{"PUBSUB", "CHANNELS", "a*"}, []int{2}, true, false},
		{[]string{"PUBSUB", "NUMSUB", "a", "b"}, []int{2, 3}, false, false},
	}
	for _, tt := range tests {
		got, patterns, all := ChannelArgs(cmd(tt.args...), nil)
		if !slices.Equal(got, tt.want) || patterns != tt.patterns || all != tt.all {
			t.Errorf("ChannelArgs(%v) = %v, %v, %v; want %v, %v, %v", tt.args, got, patterns, all, tt.want, tt.patterns, tt.all)
		}
	}
}

func TestTrackingPrefixes(t *testing.T) {
	got, bcast := TrackingPrefixes(cmd("CLIENT", "TRACKING", "ON", "REDIRECT", "7", "BCAST", "PREFIX", "a:", "prefix", "b:"), nil)
	if !slices.Equal(got, []int{7, 9}) || !bcast {
		t.Errorf("TrackingPrefixes = %v, %v; want [7 9], true", got, bcast)
	}
	if got, bcast := TrackingPrefixes(cmd("CLIENT", "TRACKING", "ON"), nil); len(got) != 0 || bcast {
		t.Errorf("plain tracking: %v, %v", got, bcast)
	}
}

func TestScriptDeclaresUndeclaredKeys(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"EVAL", "return 1", "0"}, false},
		{[]string{"EVAL", "#!lua flags=no-writes,allow-cross-slot-keys\nreturn 1", "0"}, true},
		{[]string{"EVAL_RO", "#!lua flags=allow-cross-slot-keys\nreturn 1", "0"}, true},
		// Only the shebang line sets flags.
		{[]string{"EVAL", "return 'allow-cross-slot-keys'", "0"}, false},
		{[]string{"SCRIPT", "LOAD", "#!lua flags=allow-cross-slot-keys\nreturn 1"}, true},
		{[]string{"FUNCTION", "LOAD", "REPLACE", "#!lua name=l\nredis.register_function{function_name='f', callback=function() end, flags={'allow-cross-slot-keys'}}"}, true},
		{[]string{"EVALSHA", "abc", "0"}, false},
	}
	for _, tt := range tests {
		if got := ScriptDeclaresUndeclaredKeys(cmd(tt.args...)); got != tt.want {
			t.Errorf("ScriptDeclaresUndeclaredKeys(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

const (
	accessDocStart = "<!-- access:start -->"
	accessDocEnd   = "<!-- access:end -->"
)

// TestKeyAccessDoc keeps docs/commands.md's key-access table in step with
// access.go. Regenerate with: go test ./resp -run TestKeyAccessDoc -update
func TestKeyAccessDoc(t *testing.T) {
	section := accessDoc()
	old, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(old, []byte(accessDocStart)), bytes.Index(old, []byte(accessDocEnd))
	var doc []byte
	if i >= 0 && j > i {
		doc = append(append(append([]byte{}, old[:i]...), section...), old[j+len(accessDocEnd):]...)
	} else {
		doc = append(append(append([]byte{}, old...), '\n'), section+"\n"...)
	}
	if bytes.Equal(doc, old) {
		return
	}
	if !*update {
		t.Fatalf("%s is out of date with access.go: run go test ./resp -run TestKeyAccessDoc -update", docPath)
	}
	if err := os.WriteFile(docPath, doc, 0o644); err != nil {
		t.Fatal(err)
	}
}

var accessIntro = []struct {
	access KeyAccess
	text   string
}{
	{AccessNone, "touch no key and show nothing of another domain."},
	{AccessKeys, "touch exactly the keys at their key positions: `guard(key_prefixes = ...)` checks each, `prefix()` prefixes each."},
	{AccessPatterns, "also read keys named by `BY` and `GET` patterns (`SORT`, `SORT_RO`): the guard refuses a pattern that reads keys (has a `*`, is not `#`) outside the domain's prefixes; `prefix()` prefixes every pattern. Both follow SORT's own parser, not `COMMAND GETKEYS`, for `STORE`."},
	{AccessMatch, "list key names matching a pattern (`KEYS`, every `SCAN MATCH`): the guard refuses a pattern that does not start with one of the domain's prefixes and a `SCAN` without `MATCH`; `prefix()` prefixes every pattern, adds `MATCH prefix*` to a `SCAN` without one, and strips the prefix from the names."},
	{AccessRandom, "name a key of the whole keyspace: refused by a guard with key prefixes; `prefix()` answers nil for a key outside its prefix."},
	{AccessChannels, "name pub/sub channels or channel patterns: with `guard(channel_prefixes = ...)` every channel must be under one and every pattern must start with one (`PUBSUB CHANNELS` needs a pattern); without it channels are not confined."},
	{AccessTracking, "`CLIENT TRACKING ... BCAST` reports changes to keys under its `PREFIX`es: a guard with key prefixes refuses BCAST without a `PREFIX` or with one outside its prefixes; `prefix()` prefixes each `PREFIX` and refuses BCAST without one."},
	{AccessScript, "run or load code. Refused by a guard with key prefixes and by `prefix()` unless the engine has `allow_scripts = True`; when allowed, declared keys are checked (prefixed), and code that asks for undeclared keys (`allow-cross-slot-keys`) is refused. Keys the code calls without declaring them cannot be seen by the proxy: see Scripts below."},
	{AccessKeyspace, "act on or show the whole keyspace or server: every domain's keys, values, names, counts, code or credentials. Refused by a guard with key prefixes and by `prefix()`: only a domain that owns the whole keyspace may run them (and the admin ones only where `allow_admin_commands` lists them)."},
}

func accessDoc() string {
	var b strings.Builder
	b.WriteString(accessDocStart + "\n")
	b.WriteString("<!-- Generated from dataplane/resp/access.go by `go test ./resp -run TestKeyAccessDoc -update` (in dataplane/); do not edit. -->\n\n")
	b.WriteString("## Key access\n\n")
	b.WriteString("Every command of the table has a key-access class: which keys it can read or write, including those not in key positions. A test fails when a command has none, and the tenant-escape suite (`integration`, `TestTenantEscape`) runs every command with hostile arguments as a client of one domain against a Redis holding another's keys.\n\n")
	counts := map[KeyAccess]int{}
	rows := AccessTable()
	for _, r := range rows {
		counts[r.Access]++
	}
	for _, c := range accessIntro {
		fmt.Fprintf(&b, "- **%s** (%d): %s\n", c.access, counts[c.access], c.text)
	}
	b.WriteString("\n| command | key access | why |\n|---|---|---|\n")
	for _, r := range rows {
		name := strings.ReplaceAll(r.Name, "|", " ")
		why := strings.ReplaceAll(r.Why, "|", "\\|")
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, r.Access, why)
	}
	b.WriteString(accessDocEnd)
	return b.String()
}
