package frontend

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/identity"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// startAuthServer serves a domain that requires AUTH as user u with
// password p; gate, when not nil, replaces the limiter's clock.
func startAuthServer(t *testing.T, lim AuthLimits, gate chan time.Time) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limits := DefaultLimits()
	limits.Auth = lim
	h := &harness{cur: &engine.Current{}, addr: ln.Addr().String(), done: make(chan error, 1)}
	h.srv = New(Config{NodeID: "test", Current: h.cur, Limits: limits})
	if gate != nil {
		h.srv.auth.HoldWith(func(time.Duration) <-chan time.Time { return gate })
	}
	go func() { h.done <- h.srv.Serve(ln, "main") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.srv.Shutdown(ctx)
		if err := <-h.done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve returned %v", err)
		}
	})
	install(h.cur, "v1", map[string]engine.Engine{"default": domainEngine("default")}, &keywayv1.ProxyConfig{
		Identity: &keywayv1.Identity{DefaultDomain: "default", RequireAuth: true,
			Users: []*keywayv1.User{{Name: "u", PasswordSha256: []string{sha("p")}}}},
	})
	return h
}

func TestAuthThrottled(t *testing.T) {
	// Delays far longer than MaxWait: every attempt over the free ones
	// is refused at once.
	h := startAuthServer(t, AuthLimits{Free: 2, Delay: time.Hour, MaxDelay: time.Hour, MaxWait: time.Minute}, nil)
	c := dialRaw(t, h.addr)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"AUTH", "u", "wrong"}, "-" + identity.WrongPassReply + "\r\n"},
		{[]string{"HELLO", "2", "AUTH", "u", "wrong"}, "-" + identity.WrongPassReply + "\r\n"},
		{[]string{"AUTH", "u", "wrong"}, "-" + identity.ErrThrottled + "\r\n"},
		{[]string{"AUTH", "u", "p"}, "-" + identity.ErrThrottled + "\r\n"}, // not even checked
		{[]string{"GET", "k"}, "-NOAUTH Authentication required.\r\n"},
	}
	for _, s := range steps {
		if got := c.cmd(s.args...); got != s.want {
			t.Fatalf("%v: got %q, want %q", s.args, got, s.want)
		}
	}
	want := AuthStats{Failures: 2, Refused: 2, Throttled: 1}
	if got := h.srv.AuthStats(); got != want {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
}

func TestAuthDelayDoesNotBlockOthers(t *testing.T) {
	gate := make(chan time.Time)
	h := startAuthServer(t, AuthLimits{Free: 1}, gate)
	a, b := dialRaw(t, h.addr), dialRaw(t, h.addr)
	if got := a.cmd("AUTH", "u", "wrong"); got != "-"+identity.WrongPassReply+"\r\n" {
		t.Fatalf("first attempt: %q", got)
	}
	// The next attempt from the same address waits on the gate.
	replies := make(chan string, 1)
	a.send("*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n")
	go func() { replies <- a.reply() }()
	waitFor(t, "attempt delayed", func() error {
		if st := h.srv.AuthStats(); st.Delayed != 1 {
			return fmt.Errorf("stats %+v", st)
		}
		return nil
	})
	if got := b.cmd("PING"); got != "+PONG\r\n" {
		t.Fatalf("other client while one waits: %q", got)
	}
	select {
	case got := <-replies:
		t.Fatalf("delayed attempt answered before its delay: %q", got)
	default:
	}
	gate <- time.Now()
	if got := <-replies; got != "+OK\r\n" {
		t.Fatalf("delayed attempt with the right password: %q", got)
	}
	if got := a.cmd("GET", "k"); got != "$7\r\ndefault\r\n" {
		t.Fatalf("after auth: %q", got)
	}
}

// TestRequireAuthGate checks that only AUTH, HELLO, PING and QUIT (and
// RESET, which Redis also lets through and which grants nothing) run
// before authentication, with Redis's NOAUTH text, forwarded, local and
// dedicated-connection commands alike.
func TestRequireAuthGate(t *testing.T) {
	h := startAuthServer(t, AuthLimits{}, nil)
	noAuth := "-NOAUTH Authentication required.\r\n"
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"GET", "k"}, noAuth},
		{[]string{"ECHO", "x"}, noAuth},
		{[]string{"SELECT", "0"}, noAuth},
		{[]string{"CLIENT", "SETNAME", "x"}, noAuth},
		{[]string{"INFO"}, noAuth},
		{[]string{"COMMAND", "COUNT"}, noAuth},
		{[]string{"MULTI"}, noAuth},
		{[]string{"WATCH", "k"}, noAuth},
		{[]string{"BLPOP", "q", "0"}, noAuth},
		{[]string{"SUBSCRIBE", "ch"}, noAuth},
		{[]string{"UNSUBSCRIBE"}, noAuth},
		{[]string{"PUBLISH", "ch", "x"}, noAuth},
		{[]string{"KEYWAY.EXPLAIN", "k"}, noAuth},
		{[]string{"PING"}, "+PONG\r\n"},
		{[]string{"RESET"}, "+RESET\r\n"},
		{[]string{"HELLO"}, "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n"},
		{[]string{"AUTH", "u", "p"}, "+OK\r\n"},
	}
	c := dialRaw(t, h.addr)
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if got := c.cmd(tc.args...); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if got := c.cmd("QUIT"); got != "+OK\r\n" {
		t.Fatalf("quit: %q", got)
	}
}
