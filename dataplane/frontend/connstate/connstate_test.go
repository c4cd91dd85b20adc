package connstate

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/answer"
	"keyway.dev/dataplane/frontend/wire"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// loop is a Loop without a socket or upstreams: what the state answers
// without asking Redis.
type loop struct {
	out    strings.Builder
	sess   engine.Session
	authed bool
	ended  bool
}

func (l *loop) Write(raw []byte)                                      { l.out.Write(raw) }
func (l *loop) WriteError(msg string)                                 { l.out.WriteString("-" + msg + "\r\n") }
func (l *loop) Scratch() []byte                                       { return nil }
func (l *loop) Reply(b []byte)                                        { l.out.Write(b) }
func (l *loop) Flush() error                                          { return nil }
func (l *loop) Socket() *wire.Conn                                    { return nil }
func (l *loop) End()                                                  { l.ended = true }
func (l *loop) Session() *engine.Session                              { return &l.sess }
func (l *loop) Snapshot() engine.Session                              { return l.sess }
func (l *loop) Tree(*engine.State) *engine.Tree                       { return nil }
func (l *loop) ServeRun(*engine.State, engine.Batch)                  {}
func (l *loop) ServeAlone(*engine.State, *engine.Request, engine.Pin) {}
func (l *loop) Pipelined(*engine.Request) []byte                      { return nil }
func (l *loop) Unauthenticated(st *engine.State) bool {
	return st != nil && !l.authed && st.Proxy.GetIdentity().GetRequireAuth()
}

func newState(t *testing.T) (*State, *loop) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	l := &loop{}
	s := &State{}
	s.Init(l, &Server{Ctx: ctx, Log: slog.New(slog.DiscardHandler)})
	t.Cleanup(s.Release)
	return s, l
}

// serve sends line to the state as the request loop would and returns
// what was written.
func serve(t *testing.T, s *State, l *loop, st *engine.State, line string) string {
	t.Helper()
	r := &engine.Request{}
	for _, f := range strings.Fields(line) {
		r.Cmd.Args = append(r.Cmd.Args, []byte(f))
	}
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	l.out.Reset()
	if !s.ServePinned(st, r) {
		t.Fatalf("%s: the connection was closed", line)
	}
	return l.out.String()
}

func TestServePinnedWithoutRedis(t *testing.T) {
	s, l := newState(t)
	for _, tc := range []struct{ line, want string }{
		{"EXEC", "-ERR EXEC without MULTI\r\n"},
		{"DISCARD", "-ERR DISCARD without MULTI\r\n"},
		{"UNWATCH", "+OK\r\n"},
		{"UNSUBSCRIBE", "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"},
		{"PUNSUBSCRIBE a b", "*3\r\n$12\r\npunsubscribe\r\n$1\r\na\r\n:0\r\n*3\r\n$12\r\npunsubscribe\r\n$1\r\nb\r\n:0\r\n"},
		// Before a policy there is nowhere to subscribe.
		{"SUBSCRIBE news", "-" + answer.ErrNoPolicy.Error() + "\r\n"},
		{"MULTI", "+OK\r\n"},
		{"MULTI", "-ERR MULTI calls can not be nested\r\n"},
		{"SUBSCRIBE news", "-ERR keyway: SUBSCRIBE inside MULTI is not supported by the proxy; subscribe outside the transaction\r\n"},
		{"DISCARD", "+OK\r\n"},
	} {
		if got := serve(t, s, l, nil, tc.line); got != tc.want {
			t.Errorf("%s: wrote %q, want %q", tc.line, got, tc.want)
		}
	}
	if s.Pinned() || s.Subscribed() || s.InMulti() {
		t.Errorf("state kept after DISCARD: pinned %v, subscribed %v, in multi %v", s.Pinned(), s.Subscribed(), s.InMulti())
	}
}

func TestServePinnedBeforeAuth(t *testing.T) {
	s, l := newState(t)
	st := &engine.State{Proxy: &keywayv1.ProxyConfig{Identity: &keywayv1.Identity{RequireAuth: true}}}
	if got, want := serve(t, s, l, st, "MULTI"), "-"+answer.ErrNoAuth.Error()+"\r\n"; got != want {
		t.Errorf("MULTI before AUTH wrote %q, want %q", got, want)
	}
	l.authed = true
	if got := serve(t, s, l, st, "MULTI"); got != "+OK\r\n" {
		t.Errorf("MULTI after AUTH wrote %q", got)
	}
}
