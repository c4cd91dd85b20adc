package enginetest

import (
	"context"
	"strings"
	"sync"

	"keyway.dev/dataplane/engine"
)

// OK is the reply Recorder and Static give unless told otherwise.
const OK = "+OK\r\n"

// Call is one request as a Recorder saw it.
type Call struct {
	// Line is the command as space-separated arguments ("GET k").
	Line string
	// Keys are the request's keys by the command table.
	Keys []string
	// Domain is the request's session domain.
	Domain string
}

// Recorder is an engine that records every request it serves and answers
// each with Reply, or with ReplyFunc when set. It is safe for concurrent
// use, like every engine.
type Recorder struct {
	// Name identifies the recorder in explanations and failures.
	Name string
	// Reply is the raw RESP reply; empty means OK.
	Reply string
	// ReplyFunc, when set, computes each request's reply instead.
	ReplyFunc func(r *engine.Request) string

	mu      sync.Mutex
	calls   []Call
	batches [][]string
}

var (
	_ engine.Engine    = (*Recorder)(nil)
	_ engine.Explainer = (*Recorder)(nil)
)

// NewRecorder returns a recorder named name that answers reply.
func NewRecorder(name, reply string) *Recorder { return &Recorder{Name: name, Reply: reply} }

// Serve records b and answers every request in it.
func (rec *Recorder) Serve(_ context.Context, b engine.Batch) {
	lines := make([]string, len(b))
	calls := make([]Call, len(b))
	for i, r := range b {
		calls[i] = callOf(r)
		lines[i] = calls[i].Line
	}
	rec.mu.Lock()
	rec.calls = append(rec.calls, calls...)
	rec.batches = append(rec.batches, lines)
	rec.mu.Unlock()
	for _, r := range b {
		reply := rec.Reply
		if rec.ReplyFunc != nil {
			reply = rec.ReplyFunc(r)
		}
		if reply == "" {
			reply = OK
		}
		r.Reply([]byte(reply))
	}
}

// Explain notes the recorder and ends the walk.
func (rec *Recorder) Explain(_ *engine.Request, x *engine.Explanation) engine.Engine {
	x.Note("recorder %s", rec.Name)
	return nil
}

func callOf(r *engine.Request) Call {
	args := make([]string, len(r.Cmd.Args))
	for i, a := range r.Cmd.Args {
		args[i] = string(a)
	}
	c := Call{Line: strings.Join(args, " ")}
	if r.Session != nil {
		c.Domain = r.Session.Domain
	}
	for _, k := range r.Cmd.Keys(nil) {
		c.Keys = append(c.Keys, string(r.Cmd.Args[k]))
	}
	return c
}

// Calls returns every request served so far, in arrival order.
func (rec *Recorder) Calls() []Call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Call(nil), rec.calls...)
}

// Lines returns the command line of every request served so far.
func (rec *Recorder) Lines() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string // nil when nothing was served, for DeepEqual
	for _, c := range rec.calls {
		out = append(out, c.Line)
	}
	return out
}

// Keys returns every key of every request served so far.
func (rec *Recorder) Keys() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []string
	for _, c := range rec.calls {
		out = append(out, c.Keys...)
	}
	return out
}

// Batches returns the command lines grouped by the Serve call that
// carried them, to assert how a batch was split.
func (rec *Recorder) Batches() [][]string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([][]string(nil), rec.batches...)
}

// Reset forgets what was recorded.
func (rec *Recorder) Reset() {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.calls, rec.batches = nil, nil
}

// Static is an engine that answers every request with the same raw reply
// and records nothing; the cheapest possible child, for benchmarks.
type Static struct {
	Raw []byte
}

var _ engine.Engine = (*Static)(nil)

// NewStatic returns a Static answering reply.
func NewStatic(reply string) *Static { return &Static{Raw: []byte(reply)} }

// Serve answers every request in b.
func (s *Static) Serve(_ context.Context, b engine.Batch) {
	for _, r := range b {
		r.Reply(s.Raw)
	}
}

// Explain notes the static reply and ends the walk.
func (s *Static) Explain(_ *engine.Request, x *engine.Explanation) engine.Engine {
	x.Note("static reply %q", s.Raw)
	return nil
}
