package observe

import (
	"fmt"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
)

// log is an Observer and Tracer that writes down every call.
type log struct {
	calls  []string
	sample bool
}

func (l *log) Observe(domain, track, command, upstream string, kind engine.ErrorKind, req, reply int, _ time.Duration) {
	l.calls = append(l.calls, fmt.Sprintf("observe %s %s %s %q %v %d %d", domain, track, command, upstream, kind, req, reply))
}
func (l *log) ObserveKey(domain string, key []byte) {
	l.calls = append(l.calls, fmt.Sprintf("key %s %s", domain, key))
}
func (l *log) ConnOpened(domain string) { l.calls = append(l.calls, "open "+domain) }
func (l *log) ConnClosed(domain string) { l.calls = append(l.calls, "close "+domain) }
func (l *log) Sample() *engine.Trace {
	if l.sample {
		return &engine.Trace{}
	}
	return nil
}
func (l *log) ObserveTrace(domain, command, upstream string, _ engine.ErrorKind, _, _ time.Time, up *engine.Trace) {
	l.calls = append(l.calls, fmt.Sprintf("trace %s %s %q upstream timing %v", domain, command, upstream, up != nil))
}

func (l *log) take() []string {
	c := l.calls
	l.calls = nil
	return c
}

func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func TestConnCountsItsDomain(t *testing.T) {
	l := &log{}
	c := NewConn(l, nil)
	c.Moved("", "web") // before Opened: not counted yet
	c.Gone("web")
	same(t, "before Opened", l.take(), nil)
	c.Opened("web")
	c.Moved("web", "api")
	c.Gone("api")
	c.Gone("api") // once only
	same(t, "a connection's stay", l.take(), []string{"open web", "close web", "open api", "close api"})
}

func TestConnRunAndOne(t *testing.T) {
	l := &log{sample: true}
	c := NewConn(l, l)
	c.ReadAt = time.Now()
	run := engine.Batch{&engine.Request{}, &engine.Request{}}
	run[0].Cmd.Parse([][]byte{[]byte("GET"), []byte("k1")})
	run[1].Cmd.Parse([][]byte{[]byte("MGET"), []byte("k2"), []byte("k3")})
	for i, r := range run {
		c.Sample(r)
		r.Upstream = "main"
		r.Reply([]byte("+OK\r\n"))
		c.SetSize(i, 10*(i+1))
	}
	c.Run(run, "web", TrackCanary)
	same(t, "a run", l.take(), []string{
		`observe web canary GET "main" none 10 5`, "key web k1",
		`observe web canary MGET "main" none 20 5`, "key web k2",
		`trace web GET "main" upstream timing true`, `trace web MGET "main" upstream timing true`,
	})
	c.One([][]byte{[]byte("NOSUCH")}, "web", Track(false), "", engine.KindRefused, 8, 30)
	same(t, "one command", l.take(), []string{`observe web stable UNKNOWN "" refused 8 30`, `trace web UNKNOWN "" upstream timing false`})
}
