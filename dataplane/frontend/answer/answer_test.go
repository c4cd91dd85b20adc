package answer

import (
	"strconv"
	"strings"
	"testing"

	"keyway.dev/dataplane/resp"
)

func words(s string) [][]byte {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		out = append(out, []byte(f))
	}
	return out
}

func TestCommand(t *testing.T) {
	n := strconv.Itoa(len(resp.All()))
	tests := []struct {
		cmd, reply, refusal string
	}{
		{"COMMAND COUNT", ":" + n + "\r\n", ""},
		{"COMMAND COUNT x", "", "ERR wrong number of arguments for 'command|count' command"},
		{"COMMAND DOCS GET", "*0\r\n", ""},
		{"COMMAND INFO nosuch", "*1\r\n$-1\r\n", ""},
		{"COMMAND GETKEYS MSET a 1 b 2", "*2\r\n$1\r\na\r\n$1\r\nb\r\n", ""},
		{"COMMAND GETKEYS", "", "ERR wrong number of arguments for 'command|getkeys' command"},
		{"COMMAND GETKEYS NOSUCH x", "", "ERR Invalid command specified"},
		{"COMMAND GETKEYS GET", "", "ERR Invalid number of arguments specified for command"},
		{"COMMAND GETKEYS PING", "", "ERR The command has no key arguments"},
		{"COMMAND FROB", "", "ERR unknown subcommand 'FROB'. Try COMMAND HELP."},
		{"COMMAND " + strings.Repeat("y", 200), "", "ERR unknown subcommand '" + strings.Repeat("y", 128) + "'. Try COMMAND HELP."},
	}
	for _, tt := range tests {
		b, refusal := Command([]byte{}, words(tt.cmd), false)
		if string(b) != tt.reply || refusal != tt.refusal {
			t.Errorf("%.40s: %q %q, want %q %q", tt.cmd, b, refusal, tt.reply, tt.refusal)
		}
	}
}

func TestCommandInfoShape(t *testing.T) {
	b, refusal := Command(nil, words("COMMAND INFO get config|get"), true)
	if refusal != "" {
		t.Fatal(refusal)
	}
	// Redis 7's ten fields, name first; in RESP3 the flags are a set.
	if !strings.HasPrefix(string(b), "*2\r\n*10\r\n$3\r\nget\r\n:2\r\n~") {
		t.Fatalf("COMMAND INFO get = %q", b)
	}
	if !strings.Contains(string(b), "$10\r\nconfig|get\r\n") {
		t.Fatalf("COMMAND INFO config|get has no entry: %q", b)
	}
	all, _ := Command(nil, words("COMMAND"), false)
	list, _ := Command(nil, words("COMMAND LIST"), false)
	head := "*" + strconv.Itoa(len(resp.All())) + "\r\n"
	if !strings.HasPrefix(string(all), head) || !strings.HasPrefix(string(list), head) {
		t.Fatalf("COMMAND and COMMAND LIST do not list the whole table")
	}
}

func TestInfoText(t *testing.T) {
	tests := []struct {
		raw, text string
		verbatim  bool
		ok        bool
	}{
		{"$5\r\nab:cd\r\n", "ab:cd", false, true},
		{"=9\r\ntxt:ab:cd\r\n", "ab:cd", true, true},
		{"=2\r\ntx\r\n", "", false, false},
		{"$9\r\nab\r\n", "", false, false},
		{"$x\r\nab\r\n", "", false, false},
		{"-ERR no\r\n", "", false, false},
		{"$5", "", false, false},
		{"", "", false, false},
	}
	for _, tt := range tests {
		text, verbatim, ok := InfoText([]byte(tt.raw))
		if text != tt.text || verbatim != tt.verbatim || ok != tt.ok {
			t.Errorf("InfoText(%q) = %q %v %v", tt.raw, text, verbatim, ok)
		}
	}
	for _, verbatim := range []bool{false, true} {
		text, v, ok := InfoText(AppendInfo(nil, "# Server\r\nx:1\r\n", verbatim))
		if !ok || v != verbatim || text != "# Server\r\nx:1\r\n" {
			t.Errorf("AppendInfo(verbatim %v) does not read back: %q %v %v", verbatim, text, v, ok)
		}
	}
	if SectionTitle("keyway") != "Keyway" || SectionTitle("") != "" {
		t.Error("SectionTitle")
	}
}
