// Package engine defines the engine tree: the Engine interface every kind
// implements, the Request it serves, and the registry and builder that
// compile a snapshot's protobuf tree into engines.
//
// Engine kinds live in their own packages under dataplane/engines and are
// registered by name (the oneof field of keyway.v1.Engine) in
// engines/all, the way CoreDNS registers plugins.
package engine

import (
	"context"
	"errors"
	"strings"
	"time"

	"keyway.dev/dataplane/resp"
)

// Engine is immutable after Build and safe for concurrent use.
type Engine interface {
	// Serve answers every request in b (Reply or Fail, exactly once each)
	// before returning. It may split b and serve parts concurrently but
	// never reorders it: b[i] is the client's i-th pipelined command.
	// The requests and the bytes of their arguments belong to the server
	// again once Serve returns (it reads the next pipeline into the same
	// buffer); an engine that keeps them longer, as a mirror's queue
	// does, copies them.
	Serve(ctx context.Context, b Batch)
}

// Func adapts a function to Engine.
type Func func(ctx context.Context, b Batch)

// Serve calls f.
func (f Func) Serve(ctx context.Context, b Batch) { f(ctx, b) }

// Batch is a client's pipeline, in order.
type Batch []*Request

// Unanswered returns the requests of b no engine has answered, in order,
// given that answered of them were: b itself when none was, nil when all
// were. A guardrail that refused some of a batch passes the rest on with
// it, allocating only when it refused some but not all.
func (b Batch) Unanswered(answered int) Batch {
	switch answered {
	case 0:
		return b
	case len(b):
		return nil
	}
	rest := make(Batch, 0, len(b)-answered)
	for _, r := range b {
		if !r.Done() {
			rest = append(rest, r)
		}
	}
	return rest
}

// ErrorKind classifies a failed request for telemetry.
type ErrorKind uint8

// Error kinds. An error reply from Redis is not a failure of the proxy; it
// is counted as KindUpstream by looking at the reply.
const (
	KindNone ErrorKind = iota
	KindUpstream
	KindTimeout
	KindRefused
	KindProxy
)

// String is the telemetry label of k.
func (k ErrorKind) String() string {
	switch k {
	case KindUpstream:
		return "upstream"
	case KindTimeout:
		return "timeout"
	case KindRefused:
		return "refused"
	case KindProxy:
		return "proxy"
	}
	return "none"
}

// Session is the state of one client connection that engines may read. The
// server owns it; engines must not write it.
type Session struct {
	ID       uint64
	Domain   string
	Listener string
	Name     string // CLIENT SETNAME
	User     string // AUTH user
	Addr     string // remote address
	// Hash is a stable hash of the connection, for per-connection splits,
	// flags and canary assignment.
	Hash uint64
	// Canary is set when the session runs on its domain's canary tree.
	Canary bool
	// Proto is the RESP version the client chose with HELLO: 3, or 2 (0
	// means 2). Upstream leaves send a RESP3 client's commands on
	// connections that ran HELLO 3, so Redis itself shapes every reply.
	Proto uint8
}

// RESP3 reports whether the session speaks RESP3.
func (s *Session) RESP3() bool { return s != nil && s.Proto == 3 }

// Request is one client command on its way through an engine tree.
type Request struct {
	Cmd     resp.Command
	Session *Session
	// Pin, when set, is the dedicated connection the request's client
	// holds; leaves send on it instead of the shared pool (pin.go).
	Pin Pin

	// Upstream is the name of the upstream that answered, set by leaves
	// for telemetry.
	Upstream string
	// Read is when the proxy read the command from its client; upstream
	// deadlines run from it, whatever batch the request rides in. Zero
	// means unknown: deadlines run from when the request is sent.
	// Engines that make sub-requests copy it.
	Read time.Time
	// Trace, set on sampled requests only, receives the upstream
	// timing (trace.go).
	Trace *Trace

	reply []byte
	kind  ErrorKind
	err   error
	done  bool
	// replay marks a transaction's result on its way back up the tree at
	// EXEC (replay.go).
	replay bool
}

// Reset prepares r for reuse with a new command; it keeps buffers.
func (r *Request) Reset() {
	r.Cmd.Args = r.Cmd.Args[:0]
	r.Cmd.Spec = nil
	r.Session = nil
	r.Pin = nil
	r.Upstream = ""
	r.replay = false
	r.Read = time.Time{}
	r.Trace = nil
	r.reply = r.reply[:0]
	r.kind = KindNone
	r.err = nil
	r.done = false
}

// Reply sets the raw RESP reply. The bytes are copied, so callers may reuse
// raw.
func (r *Request) Reply(raw []byte) {
	r.reply = append(r.reply[:0], raw...)
	r.done = true
	r.kind, r.err = KindNone, nil // a retry's reply replaces a failure
	if len(raw) > 0 && raw[0] == '-' {
		r.kind = KindUpstream
	}
}

// ReplyBuffer returns the reply buffer emptied, for callers that build the
// reply in place; they must call SetReplied after writing it.
func (r *Request) ReplyBuffer() []byte { return r.reply[:0] }

// SetReplied stores a reply built from ReplyBuffer.
func (r *Request) SetReplied(raw []byte) {
	r.reply = raw
	r.done = true
	r.kind, r.err = KindNone, nil
	if len(raw) > 0 && raw[0] == '-' {
		r.kind = KindUpstream
	}
}

// Fail answers r with an error reply built from err and records its kind.
// An err whose text starts with an upper-case code (for example
// "TRYAGAIN ...") keeps it; anything else gets "ERR ".
func (r *Request) Fail(kind ErrorKind, err error) {
	r.reply = AppendError(r.reply[:0], err.Error())
	r.kind = kind
	r.err = err
	r.done = true
}

// Done reports whether r has been answered.
func (r *Request) Done() bool { return r.done }

// Raw is the reply as RESP bytes. Valid until r is reused.
func (r *Request) Raw() []byte { return r.reply }

// Kind is the error kind of the reply, KindNone for success.
func (r *Request) Kind() ErrorKind { return r.kind }

// Err is the cause of a failure set with Fail.
func (r *Request) Err() error { return r.err }

// AppendError appends msg as a RESP error, adding "ERR " unless msg starts
// with an upper-case error code. Line breaks are replaced so the reply
// stays one line.
func AppendError(dst []byte, msg string) []byte {
	dst = append(dst, '-')
	if !hasErrorCode(msg) {
		dst = append(dst, "ERR "...)
	}
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		dst = append(dst, c)
	}
	return append(dst, '\r', '\n')
}

func hasErrorCode(msg string) bool {
	code, _, ok := strings.Cut(msg, " ")
	if !ok || len(code) < 2 {
		return false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if (c < 'A' || c > 'Z') && c != '_' && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Do serves one request through e; a convenience for tests and for
// commands the server issues on its own.
func Do(ctx context.Context, e Engine, r *Request) {
	e.Serve(ctx, Batch{r})
	if !r.done {
		r.Fail(KindProxy, errors.New("keyway: request left unanswered"))
	}
}
