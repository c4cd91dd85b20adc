package frontend

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/resp"
)

// disturbance is what one client does to its own connection: commands
// sent in one write, how many replies it reads back, and a check of the
// last one ("" skips it). The connection is closed right after, as a
// client that goes away mid-state does.
type disturbance struct {
	cmds  [][]string
	reads int
	want  string
	// raw is sent as it is after cmds (half a command, say).
	raw string
}

// TestNoClientDisturbsAnother runs every stateful or connection-mode
// command from one client, each followed by a disconnect, while four
// clients pipeline INCRs on the same upstream connections and check each
// reply: zero errors and zero wrong replies for them. It then replays the
// security review's sequence (MONITOR and go, CONFIG GET, SET) a few
// times: the SET must answer OK, and MONITOR must still work.
func TestNoClientDisturbsAnother(t *testing.T) {
	h, _ := withAdminUpstream(t, []string{"*"})
	stop := make(chan struct{})
	wait := pipelines(t, h.addr, stop)

	steps := []disturbance{
		{cmds: [][]string{{"MONITOR"}}, reads: 1, want: "+OK"},
		{cmds: [][]string{{"SYNC"}}, reads: 0},
		{cmds: [][]string{{"PSYNC", "?", "-1"}}, reads: 0},
		{cmds: [][]string{{"REPLCONF", "listening-port", "1"}}, reads: 1, want: "+OK"},
		{cmds: [][]string{{"CLIENT", "REPLY", "OFF"}, {"SET", "d:1", "x"}, {"CLIENT", "REPLY", "ON"}, {"PING"}}, reads: 2, want: "+PONG"},
		{cmds: [][]string{{"CLIENT", "REPLY", "SKIP"}, {"SET", "d:1", "x"}, {"PING"}}, reads: 1, want: "+PONG"},
		{cmds: [][]string{{"CLIENT", "REPLY", "OFF"}, {"SET", "d:1", "x"}}, reads: 0},
		{cmds: [][]string{{"CLIENT", "TRACKING", "ON"}, {"GET", "d:1"}}, reads: 2},
		{cmds: [][]string{{"CLIENT", "TRACKING", "ON", "BCAST"}}, reads: 1, want: "+OK"},
		{cmds: [][]string{{"SUBSCRIBE", "d.c"}}, reads: 1},
		{cmds: [][]string{{"PSUBSCRIBE", "d.*"}, {"PING"}}, reads: 2},
		{cmds: [][]string{{"MULTI"}, {"SET", "d:1", "y"}}, reads: 2, want: "+QUEUED"},
		{cmds: [][]string{{"WATCH", "d:1"}}, reads: 1, want: "+OK"},
		{cmds: [][]string{{"MULTI"}, {"INCR", "pipe:0"}, {"DISCARD"}}, reads: 3, want: "+OK"},
		{cmds: [][]string{{"READONLY"}, {"GET", "d:1"}}, reads: 2},
		{cmds: [][]string{{"MULTI"}, {"RESET"}, {"GET", "d:1"}}, reads: 3},
		{cmds: [][]string{{"HELLO", "3"}, {"CLIENT", "TRACKING", "ON"}, {"GET", "d:1"}}, reads: 3},
		{cmds: [][]string{{"SELECT", "1"}, {"SELECT", "0"}}, reads: 2, want: "+OK"},
		{cmds: [][]string{{"CLIENT", "NO-EVICT", "on"}, {"PING"}}, reads: 2, want: "+PONG"},
		{cmds: [][]string{{"CLIENT", "PAUSE", "100000"}}, reads: 1, want: "-"},
		{cmds: [][]string{{"CLIENT", "KILL", "TYPE", "normal"}}, reads: 1, want: "-"},
		{cmds: [][]string{{"ASKING"}, {"GET", "d:1"}}, reads: 2},
		{cmds: [][]string{{"SCRIPT", "DEBUG", "YES"}}, reads: 1},
		{cmds: [][]string{{"DEBUG", "SLEEP", "0"}}, reads: 1, want: "+OK"},
		{cmds: [][]string{{"BLPOP", "d:empty", "0"}}, reads: 0},
		{cmds: [][]string{{"XREAD", "BLOCK", "0", "STREAMS", "d:s", "$"}}, reads: 0},
		{cmds: [][]string{{"WAIT", "0", "0"}}, reads: 1, want: ":0"},
		{raw: "*3\r\n$3\r\nSET\r\n$3\r\nd:2\r\n$5\r\nhal"},
		{cmds: [][]string{{"GET", "d:1"}}, raw: "*2\r\n$3\r\nGET\r\n$3\r\nd:"},
	}
	for _, s := range steps {
		c := dialRaw(t, h.addr)
		var b []byte
		for _, args := range s.cmds {
			b = appendArgs(b, args)
		}
		c.send(string(b) + s.raw)
		var last string
		for range s.reads {
			last = c.reply()
		}
		if s.want != "" && !strings.HasPrefix(last, s.want) {
			t.Errorf("%v: last reply %q, want %q...", s.cmds, last, s.want)
		}
		c.c.Close()
	}

	// The review's sequence, on pooled clients whose commands share the
	// proxy's upstream connections.
	ctx := context.Background()
	c2 := redis.NewClient(&redis.Options{Addr: h.addr})
	defer c2.Close()
	c3 := redis.NewClient(&redis.Options{Addr: h.addr})
	defer c3.Close()
	for range 3 {
		mon := dialRaw(t, h.addr)
		if got := mon.cmd("MONITOR"); got != "+OK\r\n" {
			t.Fatalf("MONITOR = %q", got)
		}
		mon.c.Close()
		if err := c2.ConfigGet(ctx, "maxmemory").Err(); err != nil {
			t.Errorf("CONFIG GET maxmemory after a MONITOR client left: %v", err)
		}
		if got, err := c3.Set(ctx, "d:after-monitor", "v", 0).Result(); err != nil || got != "OK" {
			t.Errorf("SET after a MONITOR client left = %q, %v; want OK", got, err)
		}
	}
	close(stop)
	wait()
}

func appendArgs(b []byte, args []string) []byte {
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	return resp.AppendCommand(b, bs)
}
