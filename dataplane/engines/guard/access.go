package guard

import (
	"bytes"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Reasons a request breaks key_prefixes, channel_prefixes or
// allow_scripts beyond a key outside the prefixes: each key-access class
// of resp's table has its own ways to reach keys.
const (
	reasonKey uint8 = iota
	reasonStore
	reasonPattern
	reasonMatch
	reasonMatchAll
	reasonRandom
	reasonKeyspace
	reasonTracking
	reasonTrackingAll
	reasonScript
	reasonUndeclared
	reasonChannel
	reasonChannelPattern
	reasonChannelAll
)

// checkAccess applies the domain's confinement to what r's key-access
// class reaches beyond its key positions. confined is true when the guard
// has key prefixes: the domain does not own the whole keyspace. The key
// positions themselves are checked by the caller, except for channels
// under channel_prefixes, which are checked here as channels instead.
func (g *Guard) checkAccess(r *engine.Request, confined bool) (violation, bool, bool) {
	skipKeys := false
	switch resp.KeyAccessOf(&r.Cmd) {
	case resp.AccessPatterns:
		if !confined {
			break
		}
		var pats, stores [8]int
		p, s, _ := resp.SortArgs(&r.Cmd, pats[:0], stores[:0])
		for _, i := range s {
			if g.trie.Longest(r.Cmd.Args[i]) < 0 {
				return violation{rule: RuleKeyPrefix, arg: i, why: reasonStore}, true, false
			}
		}
		for _, i := range p {
			pat := r.Cmd.Args[i]
			if !resp.SortPatternReads(pat) {
				continue
			}
			// The key read is the pattern with its first '*' replaced by
			// an element: what comes before the '*' must hold a prefix.
			if g.trie.Longest(pat[:bytes.IndexByte(pat, '*')]) < 0 {
				return violation{rule: RuleKeyPrefix, arg: i, why: reasonPattern}, true, false
			}
		}
	case resp.AccessMatch:
		if !confined {
			break
		}
		var buf [4]int
		m, all := resp.MatchArgs(&r.Cmd, buf[:0])
		if all {
			return violation{rule: RuleKeyPrefix, why: reasonMatchAll}, true, false
		}
		for _, i := range m {
			if g.globTrie.Longest(r.Cmd.Args[i]) < 0 {
				return violation{rule: RuleKeyPrefix, arg: i, why: reasonMatch}, true, false
			}
		}
	case resp.AccessRandom:
		if confined {
			return violation{rule: RuleKeyPrefix, why: reasonRandom}, true, false
		}
	case resp.AccessKeyspace:
		if confined {
			return violation{rule: RuleKeyPrefix, why: reasonKeyspace}, true, false
		}
	case resp.AccessTracking:
		if !confined {
			break
		}
		var buf [4]int
		p, bcast := resp.TrackingPrefixes(&r.Cmd, buf[:0])
		if bcast && len(p) == 0 {
			return violation{rule: RuleKeyPrefix, why: reasonTrackingAll}, true, false
		}
		for _, i := range p {
			if g.trie.Longest(r.Cmd.Args[i]) < 0 {
				return violation{rule: RuleKeyPrefix, arg: i, why: reasonTracking}, true, false
			}
		}
	case resp.AccessScript:
		if !confined {
			break
		}
		if !g.allowScripts {
			return violation{rule: RuleScripts, why: reasonScript}, true, false
		}
		if resp.ScriptDeclaresUndeclaredKeys(&r.Cmd) {
			return violation{rule: RuleScripts, why: reasonUndeclared}, true, false
		}
	case resp.AccessChannels:
		if g.chanTrie.Empty() {
			break // shard channels stay checked as keys, as before
		}
		skipKeys = true
		var buf [8]int
		c, patterns, all := resp.ChannelArgs(&r.Cmd, buf[:0])
		if all {
			return violation{rule: RuleChannelPrefix, why: reasonChannelAll}, true, true
		}
		t, why := g.chanTrie, reasonChannel
		if patterns {
			t, why = g.chanGlobTrie, reasonChannelPattern
		}
		for _, i := range c {
			if t.Longest(r.Cmd.Args[i]) < 0 {
				return violation{rule: RuleChannelPrefix, arg: i, why: why}, true, true
			}
		}
	}
	return violation{}, false, skipKeys
}

// globLiteral backslash-escapes the characters Redis's glob matcher
// treats specially outside brackets, so a prefix such as "t[1]:" is
// matched literally: a pattern confined to prefix p must start with
// globLiteral(p), which for prefixes without them is p itself.
func globLiteral(s string) string {
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func globLiterals(list []string) []string {
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = globLiteral(p)
	}
	return out
}
