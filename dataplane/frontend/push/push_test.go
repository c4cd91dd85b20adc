package push

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"keyway.dev/dataplane/resp"
)

func TestPushKind(t *testing.T) {
	tests := []struct {
		frame, kind, rest string
		ok                bool
	}{
		{">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n", "message", "$2\r\nch\r\n$1\r\nx\r\n", true},
		{"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n", "subscribe", "$2\r\nch\r\n:1\r\n", true},
		{">2\r\n:1\r\n:2\r\n", "", "", false},                    // not a bulk kind
		{">2\r\n$20\r\naaaaaaaaaaaaaaaaaaaa\r\n", "", "", false}, // longer than any kind
		{">2\r\n$9\r\nsubscr", "", "", false},                    // cut short
		{"no line end", "", "", false},
	}
	for _, tt := range tests {
		kind, rest, ok := PushKind([]byte(tt.frame))
		if ok != tt.ok || string(kind) != tt.kind || string(rest) != tt.rest {
			t.Errorf("PushKind(%q) = %q, %q, %v; want %q, %q, %v", tt.frame, kind, rest, ok, tt.kind, tt.rest, tt.ok)
		}
	}
}

func TestNodeLocalMessages(t *testing.T) {
	tests := []struct {
		frame string
		want  bool
	}{
		{"*3\r\n$7\r\nmessage\r\n$17\r\n__keyspace@0__:ab\r\n$3\r\nset\r\n", true},
		{"*4\r\n$8\r\npmessage\r\n$1\r\n*\r\n$14\r\n__redis__:inva\r\n$1\r\nk\r\n", true},
		{"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$1\r\nx\r\n", false},
		{"*3\r\n$9\r\nsubscribe\r\n$17\r\n__keyspace@0__:ab\r\n:1\r\n", false}, // a confirmation, not a message
	}
	for _, tt := range tests {
		if got := isNodeLocalMessage([]byte(tt.frame)); got != tt.want {
			t.Errorf("isNodeLocalMessage(%q) = %v, want %v", tt.frame, got, tt.want)
		}
	}
}

func command(line string) *resp.Command {
	var args [][]byte
	for _, f := range strings.Fields(line) {
		args = append(args, []byte(f))
	}
	return &resp.Command{Args: args, Spec: resp.Resolve(args)}
}

func TestFanArgs(t *testing.T) {
	tests := []struct{ cmd, want string }{
		{"SUBSCRIBE news __keyevent@0__:del", "SUBSCRIBE __keyevent@0__:del"},
		{"SUBSCRIBE news", ""},
		{"SUBSCRIBE", ""},
		{"PSUBSCRIBE news* *", "PSUBSCRIBE news* *"}, // a pattern may match node-local channels
		{"UNSUBSCRIBE", "UNSUBSCRIBE"},
		{"PUNSUBSCRIBE", "PUNSUBSCRIBE"},
		{"SSUBSCRIBE __keyspace@0__:a", ""}, // shard channels live on one node anyway
		{"PING", ""},
	}
	for _, tt := range tests {
		var got []string
		for _, a := range fanArgs(command(tt.cmd)) {
			got = append(got, string(a))
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("fanArgs(%s) = %q, want %q", tt.cmd, got, tt.want)
		}
	}
}

func TestSubscriptionCommands(t *testing.T) {
	for _, name := range []string{"SUBSCRIBE a", "PSUBSCRIBE a*", "SSUBSCRIBE a"} {
		if !IsSubscribe(command(name).Spec) || !IsSubscriptionChange(command(name).Spec) {
			t.Errorf("%s: not a subscription", name)
		}
	}
	for _, name := range []string{"UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"} {
		if IsSubscribe(command(name).Spec) || !IsSubscriptionChange(command(name).Spec) {
			t.Errorf("%s: want a change that is no subscription", name)
		}
	}
	if IsSubscribe(nil) || IsSubscriptionChange(nil) || IsSubscriptionChange(command("PUBLISH a b").Spec) {
		t.Error("an unknown command or PUBLISH counts as a subscription change")
	}
}

// TestOutboxWritesInOrderAndDropsOverTheLimit: frames reach the socket
// in the order they were queued; a client that lets more than the limit
// wait is dropped with the reason, and its socket closed.
func TestOutboxWritesInOrderAndDropsOverTheLimit(t *testing.T) {
	client, proxy := net.Pipe() // synchronous: nothing is written until read
	defer client.Close()
	o := NewOutbox(proxy, 8)
	if !o.Enqueue([]byte("+a\r\n")) || !o.Enqueue([]byte("+b\r\n")) {
		t.Fatalf("queueing within the limit failed: %v", o.Err())
	}
	got := make([]byte, 8)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "+a\r\n+b\r\n" {
		t.Fatalf("read %q, %v", got, err)
	}
	// The writer is now blocked on nothing; fill the queue past the
	// limit without reading.
	for o.Enqueue([]byte("+c\r\n")) {
	}
	if err := o.Err(); !errors.Is(err, errRelayOverflow) {
		t.Fatalf("Err = %v, want the overflow", err)
	}
	if _, err := io.ReadAll(client); err != nil {
		t.Fatalf("the dropped client's socket did not end cleanly: %v", err)
	}
	o.Stop()
	if o.Enqueue([]byte("+d\r\n")) {
		t.Fatal("a stopped outbox took a frame")
	}
}
