// Package enginetest holds test doubles for engine unit tests, in the
// manner of mcrouter's RecordingRoute: engines that record what reached
// them, fake upstream pools that count references, and helpers that turn
// strings into requests.
package enginetest

import (
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Session is the session Req gives requests: domain "test".
var Session = &engine.Session{ID: 1, Domain: "test", Hash: 1}

// Req returns a request for one command, resolved against the command
// table, on Session.
func Req(args ...string) *engine.Request {
	r := &engine.Request{Session: Session}
	for _, a := range args {
		r.Cmd.Args = append(r.Cmd.Args, []byte(a))
	}
	resolve(&r.Cmd)
	return r
}

// Line returns a request for a command written as one line of
// space-separated arguments ("MGET a b").
func Line(line string) *engine.Request { return Req(strings.Fields(line)...) }

// Lines returns a batch with one request per line, in order.
func Lines(lines ...string) engine.Batch {
	b := make(engine.Batch, len(lines))
	for i, l := range lines {
		b[i] = Line(l)
	}
	return b
}

// Reply returns r's raw reply as a string, "" before it is answered.
func Reply(r *engine.Request) string { return string(r.Raw()) }

// Replies returns the raw replies of b in order.
func Replies(b engine.Batch) []string {
	out := make([]string, len(b))
	for i, r := range b {
		out[i] = Reply(r)
	}
	return out
}

// resolve fills cmd.Spec from the command table.
func resolve(cmd *resp.Command) { cmd.Spec = resp.Resolve(cmd.Args) }
