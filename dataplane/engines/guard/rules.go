package guard

import "sync/atomic"

// Rule is one of a guard's rules, named as in the policy language.
type Rule uint8

// The rules, in the order a request is checked against them.
const (
	RuleAllow Rule = iota
	RuleDeny
	RuleKeyPrefix
	RuleMaxKeys
	RuleMaxValueBytes
	RuleMaxPipeline
	RuleChannelPrefix
	RuleScripts
	numRules
)

var ruleNames = [numRules]string{"allow_commands", "deny_commands", "key_prefixes", "max_keys", "max_value_bytes", "max_pipeline", "channel_prefixes", "allow_scripts"}

// String is the rule's argument name in the policy ("key_prefixes").
func (r Rule) String() string {
	if r < numRules {
		return ruleNames[r]
	}
	return "unknown"
}

// Rules lists every rule, for exporters that want a series per rule even
// when it is zero.
func Rules() []Rule {
	out := make([]Rule, numRules)
	for i := range out {
		out[i] = Rule(i)
	}
	return out
}

// Counts tallies requests that broke each rule: refused ones in enforce
// mode, and in audit mode the ones that would have been. Counters only
// grow; they are atomics so the hot path takes no lock.
type Counts struct {
	n [numRules]atomic.Uint64
}

func (c *Counts) add(r Rule, n uint64) { c.n[r].Add(n) }

// Get returns the count of rule r.
func (c *Counts) Get(r Rule) uint64 {
	if r >= numRules {
		return 0
	}
	return c.n[r].Load()
}

// Map returns the non-zero counts by rule name.
func (c *Counts) Map() map[string]uint64 {
	m := map[string]uint64{}
	for i := range c.n {
		if v := c.n[i].Load(); v > 0 {
			m[Rule(i).String()] = v
		}
	}
	return m
}
