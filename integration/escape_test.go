package integration

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/resp"
)

// TestTenantEscape is the tenant-escape suite: it runs every command of
// the proxy's command table, with hostile argument shapes (patterns,
// MATCH, BY/GET, scripts, database indexes, channel names, MIGRATE to a
// second server), as alice of domain a, through a real proxy on a real
// policy, against a real redis-server that holds domain b's keys,
// scripts and functions. Nothing of b may be read (no reply holds one of
// its values), listed (no reply holds the name of a key alice cannot
// know), written or destroyed (b's keys, types, values, expiry times,
// scripts and functions are the same after as before), and nothing may
// reach a subscriber of b's channels. Commands without a key-access class
// fail the suite.
func TestTenantEscape(t *testing.T) {
	for _, mode := range []string{"guard", "prefix"} {
		t.Run(mode, func(t *testing.T) { testTenantEscape(t, mode) })
	}
}

// escapeWorld is what domain b holds and what alice may not learn.
type escapeWorld struct {
	redis, target *redistest.Server
	// secrets are b's values: no reply to alice may hold one.
	secrets []string
	// hidden is the stem of b's key names alice cannot know: no reply
	// may hold it.
	hidden string
	// bSHA is a script b loaded; bFunc a function b's library defines.
	bSHA, bFunc string
}

func token(t *testing.T) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func seedEscapeWorld(t *testing.T) *escapeWorld {
	w := &escapeWorld{redis: redistest.Start(t), target: redistest.Start(t)}
	w.hidden = "b:h-" + token(t)
	secret := func() string {
		s := "bsecret-" + token(t)
		w.secrets = append(w.secrets, s)
		return s
	}
	r := w.redis
	cmds := [][]string{
		{"SET", "b:secret", secret()},
		{"SET", w.hidden + ":1", secret()},
		{"SET", "b:ttl", secret(), "EX", "100000"},
		{"RPUSH", "b:list", secret(), secret()},
		{"HSET", "b:hash", "f", secret()},
		{"SADD", "b:set", secret()},
		{"ZADD", "b:zset", "1", secret()},
		{"XADD", "b:stream", "1-1", "f", secret()},
		// a's own data, whose elements name b's keys: SORT ... GET b:*
		// would read them.
		{"RPUSH", "a:list", "secret", "ttl", strings.TrimPrefix(w.hidden, "b:") + ":1"},
		{"SET", "a:x", "ax"},
		{"RPUSH", "pa:a:list", "secret", "ttl"},
		{"SET", "pa:a:x", "ax"},
	}
	for _, c := range cmds {
		if got := r.Do(c...); strings.HasPrefix(got, "-") {
			t.Fatalf("seed %v: %s", c, got)
		}
	}
	w.bSHA = r.Do("SCRIPT", "LOAD", "return redis.call('GET','b:secret')")
	w.bFunc = "bget_" + token(t)[:8]
	lib := fmt.Sprintf("#!lua name=blib_%s\nredis.register_function('%s', function() return redis.call('GET','b:secret') end)", w.bFunc, w.bFunc)
	if got := r.Do("FUNCTION", "LOAD", lib); strings.HasPrefix(got, "-") {
		t.Fatalf("seed function: %s", got)
	}
	return w
}

// snapshot is everything of b's that must not change: every key outside
// a's namespaces with its type, DUMP and absolute expiry, in every
// database, and b's script and function.
func (w *escapeWorld) snapshot(t *testing.T) map[string]string {
	t.Helper()
	c, err := dialWire(w.redis.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	do := func(args ...string) string {
		if err := c.send([][]string{args}, ""); err != nil {
			t.Fatal(err)
		}
		reply, err := c.readReply(nil, 10*time.Second)
		if err != nil {
			t.Fatalf("snapshot %v: %v", args, err)
		}
		return string(reply)
	}
	out := map[string]string{}
	for db := range 16 {
		do("SELECT", strconv.Itoa(db))
		for _, k := range bulkStrings(do("KEYS", "*")) {
			if strings.HasPrefix(k, "a:") || strings.HasPrefix(k, "pa:") {
				continue
			}
			out[fmt.Sprintf("db%d %s", db, k)] = do("TYPE", k) + do("DUMP", k) + do("PEXPIRETIME", k)
		}
	}
	do("SELECT", "0")
	out["script"] = do("SCRIPT", "EXISTS", w.bSHA)
	out["function"] = do("FCALL", w.bFunc, "0") + do("FUNCTION", "LIST", "LIBRARYNAME", "blib_"+w.bFunc)
	return out
}

// bulkStrings takes the bulk strings out of a flat array reply.
func bulkStrings(reply string) []string {
	var out []string
	lines := strings.Split(reply, "\r\n")
	for i := 1; i+1 < len(lines); i++ {
		if strings.HasPrefix(lines[i], "$") && lines[i] != "$-1" {
			out = append(out, lines[i+1])
			i++
		}
	}
	return out
}

// leak says what of b's a reply shows, or "".
func (w *escapeWorld) leak(reply []byte) string {
	for _, s := range w.secrets {
		if bytes.Contains(reply, []byte(s)) {
			return "a value of b's (" + s + ")"
		}
	}
	if bytes.Contains(reply, []byte(w.hidden)) {
		return "the name of a key of b's it cannot know (" + w.hidden + ")"
	}
	return ""
}

const (
	alicePassword = "alice-password"
	bobPassword   = "bob-password"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// escapePolicy is policies/examples/tenants' shape: users tell domains
// apart, a is confined to "a:" (guard) or lives under "pa:" (prefix), b
// to "b:".
func escapePolicy(addr, mode string) string {
	a := `guard(cache, key_prefixes = ["a:"], channel_prefixes = ["a."])`
	if mode == "prefix" {
		a = `prefix("pa:", cache)`
	}
	return fmt.Sprintf(`
cache = redis("cache", %q)
domain("a", %s)
domain("b", guard(cache, key_prefixes = ["b:"], channel_prefixes = ["b."]))
domain("open", cache)
identity(
    require_auth = True,
    default_domain = "a",
    users = [
        user("alice", password_sha256 = [%q], domain = "a"),
        user("bob", password_sha256 = [%q], domain = "b"),
        user("root", password_sha256 = [%q], domain = "open"),
    ],
)
`, addr, a, sha(alicePassword), sha(bobPassword), sha("root-password"))
}

// hostileShapes are the arguments every command is tried with, after its
// name: b's key names in key positions and everywhere else, patterns,
// SORT's BY/GET/STORE, scripts that call b's keys, b's script and
// function, database indexes, b's channels, MIGRATE to another server,
// tracking of b's prefix.
func (w *escapeWorld) hostileShapes() [][]string {
	get := "return redis.call('GET','b:secret')"
	set := "return redis.call('SET','b:secret','owned')"
	del := "return redis.call('DEL','b:list')"
	keys := "return redis.call('KEYS','*')"
	lib := "#!lua name=evil\nredis.register_function('evil', function() return redis.call('GET','b:secret') end)"
	port := w.target.Addr[strings.LastIndex(w.target.Addr, ":")+1:]
	return [][]string{
		{},
		{"b:secret"}, {"b:secret", "b:secret"}, {"b:list", "x", "b:hash"}, {"b:list", "b:list", "LEFT", "RIGHT"},
		{"b:secret", "b:secret", "REPLACE"}, {"a:x", "b:secret"}, {"b:secret", "a:x"}, {"b:hash", "f"},
		{"1", "b:secret"}, {"2", "a:x", "b:secret"}, {"1", "b:zset", "MIN"},
		{"*"}, {"b:*"}, {"0"}, {"0", "MATCH", "b:*"}, {"0", "MATCH", "a:*", "MATCH", "*"}, {"0", "COUNT", "1000"},
		{"a:list", "BY", "nosort", "GET", "b:*"}, {"a:list", "BY", "b:*"}, {"a:list", "ALPHA", "GET", "#", "GET", "b:*"},
		{"a:list", "STORE", "BY", "STORE", "b:secret"}, {"a:list", "STORE", "b:secret"},
		{get, "0"}, {get, "1", "a:x"}, {set, "1", "a:x"}, {del, "1", "a:x"}, {keys, "0"},
		{"#!lua flags=allow-cross-slot-keys\n" + get, "1", "a:x"},
		{w.bSHA, "0"}, {w.bSHA, "1", "a:x"}, {w.bFunc, "0"}, {w.bFunc, "1", "a:x"}, {"evil", "0"},
		{lib}, {"REPLACE", lib}, {"FLUSH"}, {"blib_" + w.bFunc},
		{"0", "1"}, {"1", "1"}, {"a:x", "1"}, {"a:x", "a:y", "DB", "1"}, {"b:secret", "a:y", "DB", "1"},
		{"127.0.0.1", port, "b:secret", "0", "5000"}, {"127.0.0.1", port, "", "0", "5000", "COPY", "KEYS", "b:secret", "b:list"},
		{"b.chan", "hello"}, {"b.*"}, {"CHANNELS"}, {"ON", "BCAST"}, {"ON", "BCAST", "PREFIX", "b:"},
		{"OBJECT", "b:secret"}, {"DIGEST-VALUE", "b:secret"}, {"GET", "requirepass"},
	}
}

func testTenantEscape(t *testing.T, mode string) {
	w := seedEscapeWorld(t)
	p := startPolicyProxy(t, "escape-"+mode, escapePolicy(w.redis.Addr, mode))
	before := w.snapshot(t)

	// A subscriber of every channel directly on Redis: under the guard,
	// nothing alice publishes reaches b's channels.
	sub, err := dialWire(w.redis.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.send([][]string{{"PSUBSCRIBE", "b.*"}}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.readReply(nil, 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// The suite is only as good as its detection: as a user of a domain
	// that owns the whole keyspace, the same shapes do show b's data.
	if r := aliceDo(t, p.Addr, "root", "root-password", [][]string{{"SORT", "a:list", "BY", "nosort", "GET", "b:*"}}); w.leak(r) == "" {
		t.Fatalf("control: SORT ... GET b:* as an unconfined domain answered %q, which the leak check does not catch", r)
	}

	// What the security review found, each refused with its reason: the
	// last reply of each sequence must be an error.
	refusals := [][][]string{
		{{"EVAL", "return redis.call('GET','b:secret')", "1", "a:x"}},
		{{"EVALSHA", w.bSHA, "1", "a:x"}},
		{{"FUNCTION", "LOAD", "#!lua name=evil\nredis.register_function('evil', function() return 1 end)"}},
		{{"FCALL", w.bFunc, "1", "a:x"}},
		{{"SWAPDB", "0", "1"}},
		{{"FLUSHDB"}},
		{{"DBSIZE"}},
		{{"SCAN", "0", "MATCH", "a:*", "MATCH", "*"}}, // an error under the guard; prefixed under prefix()
	}
	if mode == "guard" {
		refusals = append(refusals,
			[][]string{{"SORT", "a:list", "BY", "nosort", "GET", "b:*"}}, // prefixed under prefix()
			[][]string{{"SCAN", "0", "MATCH", "b:*"}},
			[][]string{{"RANDOMKEY"}},
			[][]string{{"PUBLISH", "b.chan", "x"}},
			[][]string{{"SUBSCRIBE", "a.ok"}, {"SUBSCRIBE", "b.chan"}},
			[][]string{{"SUBSCRIBE", "a.ok"}, {"PSUBSCRIBE", "*"}},
		)
	} else {
		refusals = refusals[:len(refusals)-1]
	}
	for _, seq := range refusals {
		r := aliceDo(t, p.Addr, "alice", alicePassword, seq)
		last := lastReply(t, r, len(seq))
		if !strings.HasPrefix(last, "-ERR keyway: ") {
			t.Errorf("%q answered %q, want a refusal by the policy", seq, last)
		}
	}

	type job struct{ cmds [][]string }
	var jobs []job
	shapes := w.hostileShapes()
	for _, row := range resp.AccessTable() {
		if row.Access == resp.AccessUnclassified {
			t.Errorf("%s has no key-access class (dataplane/resp/access.go): the suite cannot say what it may reach", row.Name)
			continue
		}
		name := strings.Split(row.Name, "|")
		if row.Name == "AUTH" {
			// A failed AUTH slows every later login from the address;
			// logging in as another user is the identity tests' business.
			continue
		}
		for _, s := range shapes {
			jobs = append(jobs, job{[][]string{append(slices.Clone(name), s...)}})
		}
		// Inside a transaction, each command is judged when it is
		// queued, and EXEC runs nothing that was refused.
		jobs = append(jobs, job{[][]string{{"MULTI"}, append(slices.Clone(name), "b:secret"), {"EXEC"}}})
	}
	// Sequences that change the connection first.
	for _, seq := range [][][]string{
		{{"SUBSCRIBE", "a.ok"}, {"SUBSCRIBE", "b.chan"}, {"PSUBSCRIBE", "b.*"}},
		{{"MULTI"}, {"SORT", "a:list", "BY", "nosort", "GET", "b:*"}, {"EVAL", "return redis.call('GET','b:secret')", "0"}, {"EXEC"}},
		{{"SELECT", "1"}, {"GET", "b:secret"}, {"KEYS", "*"}},
		{{"HELLO", "3"}, {"SORT", "a:list", "BY", "nosort", "GET", "b:*"}, {"SCAN", "0", "MATCH", "*"}},
		{{"CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "a:"}, {"SET", "a:x", "ax"}, {"GET", "b:secret"}},
	} {
		jobs = append(jobs, job{seq})
	}

	var mu sync.Mutex
	counts := map[string]int{}
	work := make(chan job)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for j := range work {
				r := aliceDo(t, p.Addr, "alice", alicePassword, j.cmds)
				if l := w.leak(r); l != "" {
					t.Errorf("%q: the reply shows %s: %q", j.cmds, l, r)
				}
				mu.Lock()
				counts[strings.ToUpper(j.cmds[0][0])]++
				mu.Unlock()
			}
		})
	}
	for _, j := range jobs {
		work <- j
	}
	close(work)
	wg.Wait()
	t.Logf("%s: %d hostile command sequences over %d commands", mode, len(jobs), len(counts))

	after := w.snapshot(t)
	for _, k := range slices.Sorted(maps.Keys(before)) {
		if after[k] != before[k] {
			t.Errorf("b's %s changed: %q -> %q", k, before[k], after[k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(after)) {
		if _, ok := before[k]; !ok {
			t.Errorf("a key appeared outside a's namespace: %s = %q", k, after[k])
		}
	}
	if keys := w.target.Do("DBSIZE"); keys != ":0" {
		t.Errorf("MIGRATE's target server holds keys now (%s): something of b's was moved or copied out", keys)
	}

	// Whatever alice published, the subscriber has heard nothing: a
	// PING through the subscription comes back first.
	if mode == "guard" {
		if err := sub.send([][]string{{"PING", "end"}}, ""); err != nil {
			t.Fatal(err)
		}
		r, err := sub.readReply(nil, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(r, []byte("pong")) {
			t.Errorf("a subscriber of b's channels heard %q before its PING's answer", r)
		}
	}
}

// aliceDo logs in as user on a fresh connection, sends cmds in one
// write, and returns every reply up to the end of the last one, or to the
// connection's end (QUIT, a relay); on a read error it returns what it
// has. A command that does not answer (CLIENT REPLY OFF) ends the read
// after a bounded wait, so the suite cannot hang.
func aliceDo(t *testing.T, addr, user, password string, cmds [][]string) []byte {
	t.Helper()
	c, err := dialWire(addr)
	if err != nil {
		t.Errorf("%v: %v", cmds, err)
		return nil
	}
	defer c.Close()
	all := append([][]string{{"AUTH", user, password}}, cmds...)
	if err := c.send(all, ""); err != nil {
		t.Errorf("%v: %v", cmds, err)
		return nil
	}
	auth, err := c.readReply(nil, 10*time.Second)
	if err != nil || string(auth) != "+OK\r\n" {
		t.Errorf("%v: AUTH %s answered %q, %v", cmds, user, auth, err)
		return nil
	}
	var out []byte
	for range cmds {
		out, err = c.readReply(out, 10*time.Second)
		if err != nil {
			if err != io.EOF && !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "timeout") && !strings.Contains(err.Error(), "reset") {
				t.Logf("%v: %v", cmds, err)
			}
			break
		}
	}
	return out
}

// lastReply returns the n-th (last) of the replies in raw.
func lastReply(t *testing.T, raw []byte, n int) string {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(raw))
	var last []byte
	for i := range n {
		var err error
		if last, err = readReply(r, nil); err != nil {
			t.Errorf("reply %d of %q: %v", i, raw, err)
			return ""
		}
	}
	return string(last)
}
