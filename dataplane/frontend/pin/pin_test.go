package pin

import (
	"context"
	"errors"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// fakeClient records what a Pin writes; it can open no connection, so
// these tests cover what the pin answers without Redis (the frontend's
// tests cover the rest against a real redis-server).
type fakeClient struct{ out []string }

func (f *fakeClient) Write(raw []byte)          { f.out = append(f.out, string(raw)) }
func (f *fakeClient) WriteError(msg string)     { f.out = append(f.out, "-"+msg+"\r\n") }
func (f *fakeClient) Blocked(*upstream.Blocked) {}
func (f *fakeClient) Open(engine.Upstream, *resp.Command) (*upstream.Dedicated, error) {
	return nil, errors.New("no upstream in this test")
}

func (f *fakeClient) take() string {
	s := strings.Join(f.out, "")
	f.out = nil
	return s
}

func TestTransactionCommandsOutOfPlace(t *testing.T) {
	f := &fakeClient{}
	p := New(context.Background(), f)
	for _, tc := range []struct {
		name string
		do   func()
		want string
	}{
		{"EXEC without MULTI", func() { p.Exec(nil, nil) }, "-ERR EXEC without MULTI\r\n"},
		{"DISCARD without MULTI", p.Discard, "-ERR DISCARD without MULTI\r\n"},
		{"UNWATCH outside MULTI", p.Unwatch, "+OK\r\n"},
		{"MULTI", p.Multi, "+OK\r\n"},
		{"nested MULTI", p.Multi, "-ERR MULTI calls can not be nested\r\n"},
		{"DISCARD", p.Discard, "+OK\r\n"},
	} {
		tc.do()
		if got := f.take(); got != tc.want {
			t.Errorf("%s wrote %q, want %q", tc.name, got, tc.want)
		}
	}
	if p.Busy() || p.InMulti() {
		t.Fatal("a discarded transaction left the pin busy")
	}
}

func TestLocalAnswersMergedAtExec(t *testing.T) {
	f := &fakeClient{}
	p := New(context.Background(), f)
	p.Multi()
	p.Queue([]byte("+PONG\r\n"))
	p.Unwatch()
	p.Queue([]byte("$2\r\nhi\r\n"))
	if got, want := f.take(), "+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n"; got != want {
		t.Fatalf("queueing wrote %q, want %q", got, want)
	}
	p.Exec(nil, nil)
	if got, want := f.take(), "*3\r\n+PONG\r\n+OK\r\n$2\r\nhi\r\n"; got != want {
		t.Fatalf("EXEC wrote %q, want %q", got, want)
	}
	p.Multi()
	p.Exec(nil, nil)
	if got, want := f.take(), "+OK\r\n*0\r\n"; got != want {
		t.Fatalf("an empty transaction wrote %q, want %q", got, want)
	}
}

func TestRefusedCommandAbortsExec(t *testing.T) {
	for name, refuse := range map[string]func(p *Pin){
		"an error answer queued": func(p *Pin) { p.Queue([]byte("-ERR wrong number of arguments\r\n")) },
		"a command refused":      func(p *Pin) { p.Refused() },
	} {
		t.Run(name, func(t *testing.T) {
			f := &fakeClient{}
			p := New(context.Background(), f)
			p.Multi()
			p.Queue([]byte("+PONG\r\n"))
			refuse(p)
			f.take()
			p.Exec(nil, nil)
			if got := f.take(); !strings.HasPrefix(got, "-EXECABORT ") {
				t.Fatalf("EXEC wrote %q, want EXECABORT", got)
			}
			if p.InMulti() {
				t.Fatal("the aborted transaction is still open")
			}
		})
	}
	var none *Pin
	none.Refused() // a client without a pin has no transaction to mark
	if none.InMulti() {
		t.Fatal("a nil pin is in a transaction")
	}
}

func TestFirstCommandWithoutUpstreamFails(t *testing.T) {
	f := &fakeClient{}
	p := New(context.Background(), f)
	r := &engine.Request{}
	r.Cmd.Args = [][]byte{[]byte("GET"), []byte("k")}
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	p.Serve(r, false, func(b engine.Batch) { p.Forward(context.Background(), nil, b) })
	if got := f.take(); !strings.Contains(got, "no upstream in this test") {
		t.Fatalf("a failed open wrote %q, want its error", got)
	}
	if p.Conn() != nil {
		t.Fatal("a failed open left a connection")
	}
}
