package guard

import "keyway.dev/dataplane/engine"

var _ engine.StatsReporter = (*Guard)(nil)

// statNames are the counters' names, built once so a scrape does not
// concatenate: "refused_<rule>" in enforce mode, "audited_<rule>" (would
// have been refused) in audit mode.
var statNames = func() (n [2][numRules]string) {
	for r := Rule(0); r < numRules; r++ {
		n[0][r] = "refused_" + r.String()
		n[1][r] = "audited_" + r.String()
	}
	return n
}()

// AppendStats reports a counter for each rule the guard enforces, zero
// included, and none for rules it was not given. max_pipeline counts the
// commands of the pipelines it refused, not the pipelines.
func (g *Guard) AppendStats(dst []engine.Counter) []engine.Counter {
	mode := 0
	if g.audit {
		mode = 1
	}
	for r := Rule(0); r < numRules; r++ {
		if g.enforces(r) {
			dst = append(dst, engine.Counter{Name: statNames[mode][r], Value: g.counts.Get(r)})
		}
	}
	return dst
}

// enforces reports whether the policy gave the guard rule r.
func (g *Guard) enforces(r Rule) bool {
	switch r {
	case RuleAllow:
		return g.allow != nil
	case RuleDeny:
		return g.deny != nil
	case RuleKeyPrefix:
		return !g.trie.Empty()
	case RuleMaxKeys:
		return g.maxKeys > 0
	case RuleMaxValueBytes:
		return g.maxValue > 0
	case RuleMaxPipeline:
		return g.maxPipeline > 0
	case RuleChannelPrefix:
		return !g.chanTrie.Empty()
	case RuleScripts:
		return !g.trie.Empty() // scripts are judged only where keys are confined
	}
	return false
}
