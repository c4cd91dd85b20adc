package resp

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated section of docs/commands.md")

// A command a new Redis adds must be classed by someone before it can
// reach an upstream connection.
func TestEveryCommandHasAProxyClass(t *testing.T) {
	seen := map[string]bool{}
	for _, row := range ClassTable() {
		seen[row.Name] = true
		if row.Class == Unclassified {
			t.Errorf("%s has no proxy class: add it to proxyClasses in proxyclass.go", row.Name)
		}
	}
	for _, s := range All() {
		if !s.Container() && s.proxy == Unclassified {
			t.Errorf("%s has no proxy class", s.Name)
		}
		for _, sub := range s.Subcommands {
			if sub.proxy == Unclassified {
				t.Errorf("%s has no proxy class", sub.Name)
			}
		}
	}
	for name := range proxyClasses {
		if !seen[name] {
			t.Errorf("proxyClasses names %s, which the command table does not have", name)
		}
	}
}

func TestNeedsDedicated(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"GET", "k"}, false},
		{[]string{"SET", "k", "v"}, false},
		{[]string{"CONFIG", "SET", "a", "b"}, false},
		{[]string{"XREAD", "STREAMS", "s", "0"}, false},
		{[]string{"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}, true},
		{[]string{"WAIT", "1", "0"}, true},
		{[]string{"MULTI"}, true},
		{[]string{"BLPOP", "k", "0"}, true},
		{[]string{"SYNC"}, true},
		{[]string{"psync", "?", "-1"}, true},
		{[]string{"MONITOR"}, true},
		{[]string{"REPLCONF", "rdb-only", "1"}, true},
		{[]string{"SHUTDOWN"}, true},
		{[]string{"REPLICAOF", "NO", "ONE"}, true},
		{[]string{"DEBUG", "SLEEP", "0"}, true},
		{[]string{"CLUSTER", "FAILOVER"}, true},
		{[]string{"CLUSTER", "NODES"}, false},
		{[]string{"CLIENT", "TRACKING", "on"}, true},
		{[]string{"CLIENT", "REPLY", "OFF"}, true},
		{[]string{"CLIENT", "KILL", "ID", "1"}, true},
		{[]string{"SCRIPT", "DEBUG", "YES"}, true},
		{[]string{"ASKING"}, true},
		{[]string{"NOSUCH"}, false},
	}
	for _, tt := range tests {
		if got := NeedsDedicated(cmd(tt.args...)); got != tt.want {
			t.Errorf("NeedsDedicated(%v) = %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestAdminAllowed(t *testing.T) {
	failover := Resolve([][]byte{[]byte("CLUSTER"), []byte("FAILOVER")})
	shutdown := Lookup([]byte("SHUTDOWN"))
	tests := []struct {
		allow []string
		s     *Spec
		want  bool
	}{
		{nil, shutdown, false},
		{[]string{"REPLICAOF"}, shutdown, false},
		{[]string{"SHUTDOWN"}, shutdown, true},
		{[]string{"*"}, shutdown, true},
		{[]string{"CLUSTER"}, failover, true},
		{[]string{"CLUSTER|FAILOVER"}, failover, true},
		{[]string{"CLUSTER|MEET"}, failover, false},
		{[]string{"FAILOVER"}, failover, false},
	}
	for _, tt := range tests {
		if got := AdminAllowed(tt.allow, tt.s); got != tt.want {
			t.Errorf("AdminAllowed(%v, %s) = %v, want %v", tt.allow, tt.s.Name, got, tt.want)
		}
	}
}

// Markers of the section of docs/commands.md this package generates;
// another section of the file (cluster-wide merge rules) has its own.
const (
	docPath  = "../../docs/commands.md"
	docStart = "<!-- classes:start -->"
	docEnd   = "<!-- classes:end -->"
)

// TestCommandsDoc keeps docs/commands.md's class table in step with
// proxyClasses. Regenerate with: go test ./resp -run TestCommandsDoc -update
func TestCommandsDoc(t *testing.T) {
	section := commandsDoc()
	old, err := os.ReadFile(docPath)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	i, j := bytes.Index(old, []byte(docStart)), bytes.Index(old, []byte(docEnd))
	var doc []byte
	switch {
	case i >= 0 && j > i:
		doc = append(append(append([]byte{}, old[:i]...), section...), old[j+len(docEnd):]...)
	case len(old) == 0:
		doc = []byte("# Commands through Keyway\n\n" + section + "\n")
	default:
		doc = append(append(append([]byte{}, old...), '\n'), section+"\n"...)
	}
	if bytes.Equal(doc, old) {
		return
	}
	if !*update {
		t.Fatalf("%s is out of date with proxyclass.go: run go test ./resp -run TestCommandsDoc -update", docPath)
	}
	if err := os.WriteFile(docPath, doc, 0o644); err != nil {
		t.Fatal(err)
	}
}

var classIntro = []struct {
	class ProxyClass
	text  string
}{
	{Shared, "multiplexed with other clients' requests on the upstream's pipelined connections; they leave nothing on the connection."},
	{Dedicated, "run on an upstream connection of the client's own for as long as the state lives (transactions, watches, subscriptions, tracking, blocking commands)."},
	{Relay, "turn the client connection into a byte pipe to a dedicated upstream connection until either side closes. Admin commands: a policy must allow them."},
	{Local, "answered by the proxy itself."},
	{ClusterWide, "act on the whole server: on a cluster upstream they go to every node and the replies are merged (see the cluster-wide section); on a standalone upstream they are shared-connection commands."},
	{ServerMutating, "change what the upstream is or whether it runs. They run on a dedicated connection, never a shared one. Admin commands: a policy refuses them unless `domain(..., allow_admin_commands = [...])` lists them; `keyway-proxy --upstream` allows them all."},
	{Refused, "answered with an error by the proxy."},
}

func commandsDoc() string {
	var b strings.Builder
	b.WriteString(docStart + "\n")
	b.WriteString("<!-- Generated from dataplane/resp/proxyclass.go by `go test ./resp -run TestCommandsDoc -update` (in dataplane/); do not edit. -->\n\n")
	b.WriteString("## Proxy classes\n\n")
	b.WriteString("Every command of redis-server's command table is in exactly one class, and a test fails when one is not.\n\n")
	counts := map[ProxyClass]int{}
	rows := ClassTable()
	for _, r := range rows {
		counts[r.Class]++
	}
	for _, c := range classIntro {
		fmt.Fprintf(&b, "- **%s** (%d): %s\n", c.class, counts[c.class], c.text)
	}
	b.WriteString("\n| command | class | why |\n|---|---|---|\n")
	for _, r := range rows {
		name := strings.ReplaceAll(r.Name, "|", " ")
		why := strings.ReplaceAll(r.Why, "|", "\\|")
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, r.Class, why)
	}
	b.WriteString(docEnd)
	return b.String()
}
