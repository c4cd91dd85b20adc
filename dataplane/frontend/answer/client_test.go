package answer

import (
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

func TestClientArity(t *testing.T) {
	for _, tc := range []struct {
		sub  string
		n    int
		want string
	}{
		{"ID", 2, ""},
		{"ID", 3, "ERR wrong number of arguments for 'client|id' command"},
		{"SETNAME", 2, "ERR wrong number of arguments for 'client|setname' command"},
		{"LIST", 5, ""},
		{"UNBLOCK", 2, "ERR wrong number of arguments for 'client|unblock' command"},
		{"NOSUCH", 9, ""}, // the caller answers an unknown subcommand
	} {
		if got := ClientArity(tc.sub, tc.n); got != tc.want {
			t.Errorf("ClientArity(%s, %d) = %q, want %q", tc.sub, tc.n, got, tc.want)
		}
	}
}

func TestClientHelpAndNames(t *testing.T) {
	b := AppendClientHelp(nil)
	n, err := resp.ElementLen(b)
	if err != nil || n != len(b) || !strings.HasPrefix(string(b), "*27\r\n") {
		t.Fatalf("CLIENT HELP = %.40q (%d of %d bytes, %v); want one array of 27 lines", b, n, len(b), err)
	}
	for name, ok := range map[string]bool{"app-1": true, "": true, "a b": false, "a\nb": false, "é": false} {
		if ValidName([]byte(name)) != ok {
			t.Errorf("ValidName(%q) != %v", name, ok)
		}
	}
}

func TestClientLine(t *testing.T) {
	sess := engine.Session{ID: 7, Addr: "127.0.0.1:5000", Name: "app", Domain: "shop", Listener: "main"}
	line := ClientLine(sess, "go-redis", "9.0", "127.0.0.1:6379", 90*time.Second)
	for _, want := range []string{"id=7 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 ", " name=app age=90 ", " user=default ", " resp=2 ", " lib-name=go-redis lib-ver=9.0 ", " domain=shop listener=main"} {
		if !strings.Contains(line, want) {
			t.Errorf("ClientLine = %q; want it to contain %q", line, want)
		}
	}
}
