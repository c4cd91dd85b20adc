// Package reject is the Reject engine: a guardrail that refuses listed
// commands and keys under listed prefixes with the policy's message, and
// passes everything else on.
package reject

import (
	"context"
	"strings"
	"sync"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/internal/trie"
)

// Reject refuses by command name or key prefix.
type Reject struct {
	// commands holds canonical upper-case names; a container name
	// ("CONFIG") refuses all its subcommands.
	commands map[string]struct{}
	prefixes []string
	trie     *trie.Trie
	err      error
	next     engine.Engine
}

var (
	_ engine.Engine    = (*Reject)(nil)
	_ engine.Explainer = (*Reject)(nil)
)

var keyBufs = sync.Pool{New: func() any { b := make([]int, 0, 16); return &b }}

// Serve refuses what it must and passes the rest, in order, to next.
func (rj *Reject) Serve(ctx context.Context, b engine.Batch) {
	refused := 0
	for _, r := range b {
		if why, _ := rj.refuses(r); why != "" {
			r.Fail(engine.KindRefused, rj.err)
			refused++
		}
	}
	if rest := b.Unanswered(refused); len(rest) > 0 {
		rj.next.Serve(ctx, rest)
	}
}

// refuses returns why r is refused ("command" or "key"), and the key or
// name that matched; "" when r passes.
func (rj *Reject) refuses(r *engine.Request) (string, string) {
	if len(rj.commands) > 0 && r.Cmd.Spec != nil {
		name := r.Cmd.Spec.Name
		if _, ok := rj.commands[name]; ok {
			return "command", name
		}
		if parent, _, ok := strings.Cut(name, "|"); ok {
			if _, ok := rj.commands[parent]; ok {
				return "command", name
			}
		}
	}
	if rj.trie.Empty() {
		return "", ""
	}
	buf := keyBufs.Get().(*[]int)
	defer keyBufs.Put(buf)
	keys := r.Cmd.Keys((*buf)[:0])
	*buf = keys[:0]
	for _, k := range keys {
		if i := rj.trie.Longest(r.Cmd.Args[k]); i >= 0 {
			return "key", rj.prefixes[i]
		}
	}
	return "", ""
}

// Explain records a refusal, or passes r on to next.
func (rj *Reject) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	switch why, what := rj.refuses(r); why {
	case "command":
		x.Note("command %s is refused", what)
		x.Refuse(string(engine.AppendError(nil, rj.err.Error())[1:]))
		return nil
	case "key":
		x.Note("a key is under refused prefix %q", what)
		x.Refuse(string(engine.AppendError(nil, rj.err.Error())[1:]))
		return nil
	}
	x.Note("allowed")
	return rj.next
}
