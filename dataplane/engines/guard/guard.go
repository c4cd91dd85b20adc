// Package guard is the Guard engine: a guardrail that enforces a domain's
// command allow and deny lists, key-prefix ownership, value size, keys
// per command and pipeline depth before passing requests on. In audit
// mode it refuses nothing and only counts what it would have refused.
package guard

import (
	"context"
	"errors"
	"strings"
	"sync"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/internal/trie"
)

// Guard enforces its rules, then passes what is left to next.
type Guard struct {
	// allow and deny hold canonical names ("GET", "CONFIG|SET"); a
	// container name ("CONFIG") covers all its subcommands. A nil allow
	// allows every command.
	allow, deny map[string]struct{}
	prefixes    []string
	// prefixList is prefixes joined for error messages, built once.
	prefixList  string
	trie        *trie.Trie
	maxValue    uint64
	maxKeys     int
	maxPipeline int
	audit       bool
	domain      string
	next        engine.Engine
	counts      *Counts

	// globTrie holds the key prefixes glob-escaped, what a KEYS or SCAN
	// pattern must start with; chanTrie and chanGlobTrie are the same for
	// channel_prefixes (empty: channels are not confined).
	globTrie, chanTrie, chanGlobTrie *trie.Trie
	chanList                         string
	allowScripts                     bool
}

var (
	_ engine.Engine    = (*Guard)(nil)
	_ engine.Explainer = (*Guard)(nil)
	_ engine.Admitter  = (*Guard)(nil)
)

// Admitted is next: a guard refuses or counts requests and passes the
// rest unchanged, so a transaction's replayed results skip it.
func (g *Guard) Admitted() engine.Engine { return g.next }

// violation is a broken rule and where: the argument index of the key or
// value at fault, or the key count for max_keys.
type violation struct {
	rule Rule
	arg  int
	n    int
	// why tells key_prefixes, channel_prefixes and allow_scripts
	// violations apart (access.go).
	why uint8
}

var keyBufs = sync.Pool{New: func() any { b := make([]int, 0, 16); return &b }}

// Serve refuses (or, in audit mode, counts) what breaks a rule and passes
// the rest, in order, to next.
func (g *Guard) Serve(ctx context.Context, b engine.Batch) {
	if g.maxPipeline > 0 && len(b) > g.maxPipeline {
		g.counts.add(RuleMaxPipeline, uint64(len(b)))
		if !g.audit {
			err := errors.New(g.pipelineMessage(len(b)))
			for _, r := range b {
				r.Fail(engine.KindRefused, err)
			}
			return
		}
	}
	refused := 0
	for _, r := range b {
		v, bad := g.check(r)
		if !bad {
			continue
		}
		g.counts.add(v.rule, 1)
		if g.audit {
			continue
		}
		r.Fail(engine.KindRefused, errors.New(g.message(r, v)))
		refused++
	}
	if rest := b.Unanswered(refused); len(rest) > 0 {
		g.next.Serve(ctx, rest)
	}
}

// check returns the first rule r breaks, in the order the rules are
// documented: allow, deny, key prefixes, max keys, max value bytes.
func (g *Guard) check(r *engine.Request) (violation, bool) {
	name := ""
	if r.Cmd.Spec != nil {
		name = r.Cmd.Spec.Name
	}
	if g.allow != nil && !listed(g.allow, name) {
		return violation{rule: RuleAllow}, true
	}
	if g.deny != nil && listed(g.deny, name) {
		return violation{rule: RuleDeny}, true
	}
	v, bad, skipKeys := g.checkAccess(r, !g.trie.Empty()) // access.go
	if bad {
		return v, true
	}
	checkKeys := !g.trie.Empty() || g.maxKeys > 0 || g.maxValue > 0
	if !checkKeys {
		return violation{}, false
	}
	buf := keyBufs.Get().(*[]int)
	defer keyBufs.Put(buf)
	keys := r.Cmd.Keys((*buf)[:0])
	*buf = keys[:0]
	if !g.trie.Empty() && !skipKeys {
		for _, k := range keys {
			if g.trie.Longest(r.Cmd.Args[k]) < 0 {
				return violation{rule: RuleKeyPrefix, arg: k}, true
			}
		}
	}
	if g.maxKeys > 0 && len(keys) > g.maxKeys {
		return violation{rule: RuleMaxKeys, n: len(keys)}, true
	}
	if g.maxValue > 0 {
		for i := 1; i < len(r.Cmd.Args); i++ {
			if uint64(len(r.Cmd.Args[i])) > g.maxValue && !isKey(keys, i) {
				return violation{rule: RuleMaxValueBytes, arg: i}, true
			}
		}
	}
	return violation{}, false
}

// listed reports whether name, or the container of a subcommand name, is
// in set. Unknown commands (name "") are in no list.
func listed(set map[string]struct{}, name string) bool {
	if name == "" {
		return false
	}
	if _, ok := set[name]; ok {
		return true
	}
	if parent, _, ok := strings.Cut(name, "|"); ok {
		_, ok := set[parent]
		return ok
	}
	return false
}

func isKey(keys []int, i int) bool {
	for _, k := range keys {
		if k == i {
			return true
		}
	}
	return false
}

// Explain records the rule r breaks, if any. In audit mode the walk goes
// on to next, since nothing is refused.
func (g *Guard) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	v, bad := g.check(r)
	if !bad {
		if g.maxPipeline > 0 {
			x.Note("allowed (pipelines over %d commands are refused whole)", g.maxPipeline)
		} else {
			x.Note("allowed")
		}
		return g.next
	}
	msg := g.message(r, v)
	if g.audit {
		x.Note("audit mode: would refuse by %s: %s", v.rule, msg)
		return g.next
	}
	x.Refuse(strings.TrimSuffix(string(engine.AppendError(nil, msg)[1:]), "\r\n"))
	return nil
}

// Counts is the guard's tally of broken rules, for telemetry.
func (g *Guard) Counts() *Counts { return g.counts }

// Audit reports whether the guard only counts.
func (g *Guard) Audit() bool { return g.audit }
