package frontend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/observe"
	"keyway.dev/dataplane/redistest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// observed is one Observe call.
type observed struct {
	domain, track, command, upstream string
	kind                             engine.ErrorKind
	reqBytes, replyBytes             int
}

// recordingObserver keeps every call, for assertions.
type recordingObserver struct {
	mu    sync.Mutex
	calls []observed
	keys  map[string][]string
	conns map[string]int
}

func newRecordingObserver() *recordingObserver {
	return &recordingObserver{keys: map[string][]string{}, conns: map[string]int{}}
}

func (o *recordingObserver) Observe(domain, track, command, upstream string, kind engine.ErrorKind, req, reply int, lat time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if lat <= 0 {
		panic("non-positive latency")
	}
	o.calls = append(o.calls, observed{domain, track, command, upstream, kind, req, reply})
}

func (o *recordingObserver) ObserveKey(domain string, key []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.keys[domain] = append(o.keys[domain], string(key))
}

func (o *recordingObserver) ConnOpened(domain string) { o.add(domain, 1) }
func (o *recordingObserver) ConnClosed(domain string) { o.add(domain, -1) }

func (o *recordingObserver) add(domain string, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.conns[domain] += n
	if o.conns[domain] < 0 {
		panic("connections of " + domain + " below zero")
	}
}

func (o *recordingObserver) snapshot() ([]observed, map[string][]string, map[string]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	keys := map[string][]string{}
	for k, v := range o.keys {
		keys[k] = append([]string(nil), v...)
	}
	conns := map[string]int{}
	for k, v := range o.conns {
		if v != 0 {
			conns[k] = v
		}
	}
	return append([]observed(nil), o.calls...), keys, conns
}

// startObserved is startServer with an Observer.
func startObserved(t testing.TB, obs observe.Observer) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{cur: &engine.Current{}, addr: ln.Addr().String(), done: make(chan error, 1)}
	h.srv = New(Config{NodeID: "test", Current: h.cur, Limits: DefaultLimits(), Observer: obs})
	go func() { h.done <- h.srv.Serve(ln, "main") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.srv.Shutdown(ctx)
		if err := <-h.done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve returned %v", err)
		}
	})
	return h
}

// twoDomains installs domains "a" (the default) and "b" (client names
// starting "b-"), both on one redis-server leaf.
func twoDomains(t testing.TB, h *harness) {
	t.Helper()
	r := redistest.Start(t)
	leaf := newLeaf(t, "main", r.Addr)
	install(h.cur, "v1", map[string]engine.Engine{"a": leaf, "b": leaf}, &keywayv1.ProxyConfig{
		Name: "proxy",
		Identity: &keywayv1.Identity{
			DefaultDomain: "a",
			ClientNames:   []*keywayv1.NameRule{{Match: "b-", Domain: "b"}},
		},
	})
}

// waitConns waits for the observer's connection gauges to equal want; the
// server counts a close when redcon lets go of the connection.
func waitConns(t *testing.T, o *recordingObserver, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, got := o.snapshot()
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("connections = %v, want %v", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestObserveCommands(t *testing.T) {
	obs := newRecordingObserver()
	h := startObserved(t, obs)
	twoDomains(t, h)
	c := dialRaw(t, h.addr)
	// One pipeline: forwarded, local, refused and error-reply commands.
	set := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nabc\r\n"
	ping := "*1\r\n$4\r\nPING\r\n"
	incr := "*2\r\n$4\r\nINCR\r\n$1\r\nk\r\n"
	unknown := "*1\r\n$6\r\nNOSUCH\r\n"
	get := "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
	c.send(set + ping + incr + unknown + get)
	var replies []string
	for range 5 {
		replies = append(replies, c.reply())
	}
	// A new name moves the connection; the next command counts in "b".
	if got := c.cmd("CLIENT", "SETNAME", "b-worker"); got != "+OK\r\n" {
		t.Fatalf("setname = %q", got)
	}
	if got := c.cmd("GET", "k"); got != replies[4] {
		t.Fatalf("get in b = %q", got)
	}

	calls, keys, _ := obs.snapshot()
	want := []observed{
		{"a", "stable", "SET", "main", engine.KindNone, len(set), len(replies[0])},
		{"a", "stable", "PING", "", engine.KindNone, len(ping), len(replies[1])},
		{"a", "stable", "INCR", "main", engine.KindUpstream, len(incr), len(replies[2])},
		{"a", "stable", "UNKNOWN", "", engine.KindRefused, len(unknown), len(replies[3])},
		{"a", "stable", "GET", "main", engine.KindNone, len(get), len(replies[4])},
		{"b", "stable", "CLIENT|SETNAME", "", engine.KindNone, len("*3\r\n$6\r\nCLIENT\r\n$7\r\nSETNAME\r\n$8\r\nb-worker\r\n"), len("+OK\r\n")},
		{"b", "stable", "GET", "main", engine.KindNone, len(get), len(replies[4])},
	}
	if len(calls) != len(want) {
		t.Fatalf("observed %d commands, want %d: %+v", len(calls), len(want), calls)
	}
	for i := range want {
		t.Run(want[i].command+"/"+want[i].domain, func(t *testing.T) {
			if calls[i] != want[i] {
				t.Fatalf("observed %+v, want %+v", calls[i], want[i])
			}
		})
	}
	if got := strings.Join(keys["a"], ","); got != "k,k,k" {
		t.Errorf("keys offered in a = %q, want k,k,k", got)
	}
	if got := strings.Join(keys["b"], ","); got != "k" {
		t.Errorf("keys offered in b = %q, want k", got)
	}
}

func TestObserveConnections(t *testing.T) {
	obs := newRecordingObserver()
	h := startObserved(t, obs)

	// Before any policy a connection waits in domain "".
	early := dialRaw(t, h.addr)
	if got := early.cmd("PING"); got != "+PONG\r\n" {
		t.Fatalf("ping = %q", got)
	}
	waitConns(t, obs, map[string]int{"": 1})

	twoDomains(t, h)
	outer := t // connections opened in a case outlive it
	tests := []struct {
		name string
		do   func(*testing.T)
		want map[string]int
	}{
		{"policy places the waiting connection", func(t *testing.T) { early.cmd("GET", "k") }, map[string]int{"a": 1}},
		{"accept counts in the default", func(t *testing.T) { dialRaw(outer, h.addr).cmd("PING") }, map[string]int{"a": 2}},
		{"setname moves", func(t *testing.T) { early.cmd("CLIENT", "SETNAME", "b-1") }, map[string]int{"a": 1, "b": 1}},
		{"reset moves back", func(t *testing.T) { early.cmd("RESET") }, map[string]int{"a": 2}},
		{"close leaves", func(t *testing.T) { early.c.Close() }, map[string]int{"a": 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.do(t)
			waitConns(t, obs, tc.want)
		})
	}
}
