package cluster

import (
	"bufio"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/infotext"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/resp"
)

// testWide checks each cluster-wide rule against the real cluster: every
// assertion is one a client would see fail if the command reached one
// node only. v must allow keyspace commands.
func testWide(t *testing.T, cl *redistest.Cluster, c *Client, v engine.Engine) {
	do(v, "DBSIZE") // waits for the first discovery
	m := c.Map()
	primaries := make([]string, len(m.Shards))
	for i, s := range m.Shards {
		primaries[i] = s.Primary
	}
	// keyOn returns a key owned by shard i.
	keyOn := func(i int) string {
		for n := 0; ; n++ {
			k := "w" + strconv.Itoa(n)
			if m.Owner(Slot([]byte(k))) == i {
				return k
			}
		}
	}
	direct := func(addr string, args ...string) string { return string(rawDo(t, addr, args...)) }
	mustDo := func(want string, args ...string) {
		t.Helper()
		if got := do(v, args...); got != want {
			t.Fatalf("%v = %q, want %q", args, got, want)
		}
	}
	mustDo("+OK\r\n", "FLUSHALL")

	t.Run("randomkey finds a key on a later node", func(t *testing.T) {
		mustDo("$-1\r\n", "RANDOMKEY")
		last := len(primaries) - 1
		k := keyOn(last)
		mustDo("+OK\r\n", "SET", k, "v")
		for range 20 { // the order is random: a single pass could be lucky
			mustDo("$"+strconv.Itoa(len(k))+"\r\n"+k+"\r\n", "RANDOMKEY")
		}
		mustDo("+OK\r\n", "FLUSHALL")
		mustDo("$-1\r\n", "RANDOMKEY")
	})

	t.Run("dbsize and info keyspace sum the primaries", func(t *testing.T) {
		for i := range 30 {
			mustDo("+OK\r\n", "SET", "ks"+strconv.Itoa(i), "v")
		}
		mustDo("+OK\r\n", "SET", "exp", "v", "EX", "1000")
		sum := 0
		for _, p := range primaries {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.Trim(direct(p, "DBSIZE"), ":")))
			if n == 0 {
				t.Fatalf("primary %s holds no key; the test needs keys on every node", p)
			}
			sum += n
		}
		mustDo(":"+strconv.Itoa(sum)+"\r\n", "DBSIZE")
		val, err := resp.ParseValue([]byte(do(v, "INFO", "keyspace")))
		if err != nil {
			t.Fatal(err)
		}
		db0, _ := infotext.Parse(string(val.Text())).Section("Keyspace").Get("db0")
		if want := fmt.Sprintf("keys=%d,expires=1,", sum); !strings.HasPrefix(db0, want) {
			t.Fatalf("INFO keyspace db0 = %q, want prefix %q", db0, want)
		}
		stats, err := resp.ParseValue([]byte(do(v, "MEMORY", "STATS")))
		if err != nil {
			t.Fatal(err)
		}
		if kc, _ := stats.Field("keys.count"); kc.Num != int64(sum) {
			t.Fatalf("MEMORY STATS keys.count = %d, want %d", kc.Num, sum)
		}
	})

	t.Run("info sums commandstats", func(t *testing.T) {
		mustDo("+OK\r\n", "CONFIG", "RESETSTAT")
		for i := range len(primaries) {
			do(v, "GET", keyOn(i))
		}
		val, _ := resp.ParseValue([]byte(do(v, "INFO", "commandstats")))
		if got := statField(string(val.Text()), "cmdstat_get", "calls"); got != len(primaries) {
			t.Fatalf("cmdstat_get calls = %d, want %d:\n%s", got, len(primaries), val.Text())
		}
	})

	t.Run("config set reaches every node", func(t *testing.T) {
		mustDo("+OK\r\n", "CONFIG", "SET", "slowlog-max-len", "77")
		for _, p := range primaries {
			if got := direct(p, "CONFIG", "GET", "slowlog-max-len"); !strings.HasSuffix(got, "$2\r\n77\r\n") {
				t.Fatalf("%s: CONFIG GET = %q", p, got)
			}
		}
		mustDo(bulks("slowlog-max-len", "77"), "CONFIG", "GET", "slowlog-max-len")
		if got := do(v, "CONFIG", "SET", "no-such-option", "1"); !strings.HasPrefix(got, "-ERR") {
			t.Fatalf("CONFIG SET of an unknown option = %q", got)
		}
	})

	t.Run("slowlog merges every node", func(t *testing.T) {
		mustDo("+OK\r\n", "CONFIG", "SET", "slowlog-log-slower-than", "0")
		defer do(v, "CONFIG", "SET", "slowlog-log-slower-than", "10000")
		mustDo("+OK\r\n", "SLOWLOG", "RESET")
		for i := range len(primaries) {
			do(v, "GET", keyOn(i))
		}
		sum := 0
		for _, p := range primaries {
			n, _ := strconv.Atoi(strings.Trim(direct(p, "SLOWLOG", "LEN"), ":\r\n"))
			sum += n
		}
		if sum < len(primaries) {
			t.Fatalf("the nodes logged %d commands, want at least %d", sum, len(primaries))
		}
		got := do(v, "SLOWLOG", "LEN")
		if n, _ := strconv.Atoi(strings.Trim(got, ":\r\n")); n < sum {
			t.Fatalf("SLOWLOG LEN = %q, want at least %d", got, sum)
		}
		val, err := resp.ParseValue([]byte(do(v, "SLOWLOG", "GET", "2")))
		if err != nil || len(val.Elems) != 2 {
			t.Fatalf("SLOWLOG GET 2: %d entries, %v", len(val.Elems), err)
		}
		if val.Elems[0].Elems[1].Num < val.Elems[1].Elems[1].Num {
			t.Fatalf("SLOWLOG GET is not newest first: %+v", val.Elems)
		}
	})

	t.Run("scripts on every node", func(t *testing.T) {
		mustDo("+OK\r\n", "SCRIPT", "FLUSH")
		sha := strings.TrimSpace(direct(primaries[0], "SCRIPT", "LOAD", "return 7"))
		sha = sha[strings.LastIndex(sha, "\n")+1:]
		mustDo("*1\r\n:0\r\n", "SCRIPT", "EXISTS", sha) // only one node has it
		mustDo("$40\r\n"+sha+"\r\n", "SCRIPT", "LOAD", "return 7")
		mustDo("*2\r\n:1\r\n:0\r\n", "SCRIPT", "EXISTS", sha, strings.Repeat("0", 40))
	})

	t.Run("functions on every node", func(t *testing.T) {
		mustDo("+OK\r\n", "FUNCTION", "FLUSH")
		lib := "#!lua name=wlib\nredis.register_function('wf', function(keys) return keys[1] end)"
		mustDo("$4\r\nwlib\r\n", "FUNCTION", "LOAD", lib)
		for i := range len(primaries) {
			k := keyOn(i)
			mustDo("$"+strconv.Itoa(len(k))+"\r\n"+k+"\r\n", "FCALL", "wf", "1", k)
		}
		if got := do(v, "FUNCTION", "LIST"); !strings.Contains(got, "wlib") {
			t.Fatalf("FUNCTION LIST = %q", got)
		}
		mustDo("+OK\r\n", "FUNCTION", "DELETE", "wlib")
		for _, p := range primaries {
			if got := direct(p, "FUNCTION", "LIST"); got != "*0\r\n" {
				t.Fatalf("%s still lists %q", p, got)
			}
		}
	})

	t.Run("script kill finds the busy node", func(t *testing.T) {
		mustDo("+OK\r\n", "CONFIG", "SET", "busy-reply-threshold", "50")
		defer do(v, "CONFIG", "SET", "busy-reply-threshold", "5000")
		mustDo("-NOTBUSY No scripts in execution right now.\r\n", "SCRIPT", "KILL")
		busy := primaries[len(primaries)-1]
		for _, kill := range []struct{ run, kill []string }{
			{[]string{"EVAL", "while true do end", "0"}, []string{"SCRIPT", "KILL"}},
			{[]string{"FCALL_RO", "spin", "0"}, []string{"FUNCTION", "KILL"}},
		} {
			if kill.run[0] == "FCALL_RO" {
				lib := "#!lua name=spinlib\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}"
				mustDo("$7\r\nspinlib\r\n", "FUNCTION", "LOAD", "REPLACE", lib)
			}
			done := runBusy(t, busy, kill.run...)
			harnessEventually(t, "script running on "+busy, func() error {
				if got := direct(busy, "PING"); !strings.HasPrefix(got, "-BUSY") {
					return fmt.Errorf("PING = %q", got)
				}
				return nil
			})
			// PING asks every primary, as Redis's tip for it says.
			if got := do(v, "PING"); !strings.HasPrefix(got, "-BUSY") {
				t.Fatalf("PING through the proxy while %s runs a script = %q, want BUSY", busy, got)
			}
			mustDo("+OK\r\n", kill.kill...)
			if got := <-done; !strings.Contains(got, "killed") {
				t.Fatalf("%v ended with %q", kill.run, got)
			}
			mustDo("-NOTBUSY No scripts in execution right now.\r\n", kill.kill...)
		}
		mustDo("+OK\r\n", "FUNCTION", "FLUSH")
	})

	t.Run("publish counts subscribers on every node", func(t *testing.T) {
		for _, p := range primaries {
			subscribeDirect(t, p, "wide-news")
		}
		mustDo(":"+strconv.Itoa(len(primaries))+"\r\n", "PUBLISH", "wide-news", "hi")
		mustDo(":0\r\n", "PUBLISH", "nobody-listens", "hi")
		n := strconv.Itoa(len(primaries))
		mustDo("*2\r\n$9\r\nwide-news\r\n:"+n+"\r\n", "PUBSUB", "NUMSUB", "wide-news")
		mustDo(bulks("wide-news"), "PUBSUB", "CHANNELS", "wide-*")
	})

	t.Run("reports name every node", func(t *testing.T) {
		got := do(v, "MEMORY", "DOCTOR")
		for _, p := range primaries {
			if !strings.Contains(got, "--- node "+p+" ---") {
				t.Fatalf("MEMORY DOCTOR lacks %s: %q", p, got)
			}
		}
		mustDo(":0\r\n", "LATENCY", "RESET")
		mustDo("+OK\r\n", "MEMORY", "PURGE")
	})

	t.Run("wait reaches every primary", func(t *testing.T) {
		// WAIT blocks, so the shared connections would refuse it; every
		// primary of the test cluster has one replica.
		mustDo("+OK\r\n", "SET", keyOn(0), "1")
		mustDo(":1\r\n", "WAIT", "1", "2000")
		mustDo(":1\r\n", "WAIT", "5", "10") // the smallest count after the timeout
	})

	t.Run("wide commands keep pipeline order", func(t *testing.T) {
		mustDo("+OK\r\n", "FLUSHALL")
		got := pipeline(v, []string{"SET", keyOn(1), "1"}, []string{"DBSIZE"}, []string{"SET", keyOn(2), "1"}, []string{"DBSIZE"})
		if want := []string{"+OK\r\n", ":1\r\n", "+OK\r\n", ":2\r\n"}; !slices.Equal(got, want) {
			t.Fatalf("pipeline = %q, want %q", got, want)
		}
	})
}

// runBusy runs a never-ending script on addr and returns a channel that
// gets the error it ends with.
func runBusy(t *testing.T, addr string, args ...string) <-chan string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	var a []string
	fmt.Fprintf(nc, "*%d\r\n", len(args))
	for _, s := range args {
		a = append(a, fmt.Sprintf("$%d\r\n%s\r\n", len(s), s))
	}
	if _, err := nc.Write([]byte(strings.Join(a, ""))); err != nil {
		t.Fatal(err)
	}
	done := make(chan string, 1)
	go func() {
		_ = nc.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, _ := bufio.NewReader(nc).ReadString('\n')
		done <- line
	}()
	return done
}

// subscribeDirect subscribes a connection of its own to addr until the
// test ends.
func subscribeDirect(t *testing.T, addr, channel string) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	fmt.Fprintf(nc, "*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n", len(channel), channel)
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	rd := bufio.NewReader(nc)
	for range 6 { // *3, $9 subscribe, $n channel, :1
		if _, err := rd.ReadString('\n'); err != nil {
			t.Fatalf("subscribe on %s: %v", addr, err)
		}
	}
}
