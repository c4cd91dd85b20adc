package guard

import (
	"fmt"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// maxQuoted bounds how much of a client's key or command name an error
// quotes back, as Redis does with its own errors.
const maxQuoted = 128

// message words a violation for the client. It runs only on refusal, so
// it may allocate.
func (g *Guard) message(r *engine.Request, v violation) string {
	switch v.rule {
	case RuleAllow:
		return fmt.Sprintf("keyway: command %s is not in domain %q's allow_commands", commandName(r), g.domain)
	case RuleDeny:
		return fmt.Sprintf("keyway: command %s is in domain %q's deny_commands", commandName(r), g.domain)
	case RuleKeyPrefix, RuleChannelPrefix, RuleScripts:
		return g.accessMessage(r, v)
	case RuleMaxKeys:
		return fmt.Sprintf("keyway: %s has %d keys, over this domain's max_keys of %d", commandName(r), v.n, g.maxKeys)
	case RuleMaxValueBytes:
		return fmt.Sprintf("keyway: %s argument %d is %d bytes, over this domain's max_value_bytes of %d",
			commandName(r), v.arg, len(r.Cmd.Args[v.arg]), g.maxValue)
	}
	return "keyway: refused by guard"
}

func (g *Guard) pipelineMessage(n int) string {
	return fmt.Sprintf("keyway: pipeline of %d commands is over this domain's max_pipeline of %d", n, g.maxPipeline)
}

// commandName is the canonical name with subcommands spelled as people
// type them ("CONFIG SET"), or the client's spelling of an unknown one.
func commandName(r *engine.Request) string {
	if r.Cmd.Spec != nil {
		return strings.ReplaceAll(r.Cmd.Spec.Name, "|", " ")
	}
	if len(r.Cmd.Args) > 0 {
		return strings.ToUpper(quote(r.Cmd.Args[0]))
	}
	return "(empty)"
}

func quote(b []byte) string {
	if len(b) > maxQuoted {
		return string(b[:maxQuoted]) + "..."
	}
	return string(b)
}

// accessMessage words a key_prefixes, channel_prefixes or allow_scripts
// violation: what the command would reach and why the domain may not.
func (g *Guard) accessMessage(r *engine.Request, v violation) string {
	name := commandName(r)
	arg := ""
	if v.arg > 0 && v.arg < len(r.Cmd.Args) {
		arg = quote(r.Cmd.Args[v.arg])
	}
	switch v.why {
	case reasonStore:
		return fmt.Sprintf("keyway: %s STORE destination %q is outside this domain's key prefixes (%s)", name, arg, g.prefixList)
	case reasonPattern:
		return fmt.Sprintf("keyway: %s pattern %q reads keys outside this domain's key prefixes (%s)", name, arg, g.prefixList)
	case reasonMatch:
		return fmt.Sprintf("keyway: %s pattern %q does not start with one of this domain's key prefixes (%s), so it would list other domains' keys", name, arg, g.prefixList)
	case reasonMatchAll:
		return fmt.Sprintf("keyway: SCAN without MATCH lists every domain's keys; add MATCH with one of this domain's key prefixes (%s)", g.prefixList)
	case reasonRandom, reasonKeyspace:
		why := resp.KeyAccessWhy(r.Cmd.Name())
		if why == "" {
			why = "it acts on the whole keyspace"
		}
		return fmt.Sprintf("keyway: %s is refused in domain %q, which owns only the key prefixes %s: %s", name, g.domain, g.prefixList, why)
	case reasonTracking:
		return fmt.Sprintf("keyway: CLIENT TRACKING PREFIX %q is outside this domain's key prefixes (%s)", arg, g.prefixList)
	case reasonTrackingAll:
		return fmt.Sprintf("keyway: CLIENT TRACKING BCAST without PREFIX reports every domain's keys; add PREFIX with one of this domain's key prefixes (%s)", g.prefixList)
	case reasonScript:
		return fmt.Sprintf("keyway: %s runs or loads code that can touch keys it does not declare, and domain %q is confined to key prefixes (%s); the policy allows it with guard(..., allow_scripts = True)", name, g.domain, g.prefixList)
	case reasonUndeclared:
		return fmt.Sprintf("keyway: %s declares allow-cross-slot-keys (access to keys it is not given), which domain %q, confined to key prefixes, may not run", name, g.domain)
	case reasonChannel:
		return fmt.Sprintf("keyway: channel %q is outside this domain's channel prefixes (%s)", arg, g.chanList)
	case reasonChannelPattern:
		return fmt.Sprintf("keyway: channel pattern %q does not start with one of this domain's channel prefixes (%s)", arg, g.chanList)
	case reasonChannelAll:
		return fmt.Sprintf("keyway: %s without a pattern lists every domain's channels; give one that starts with one of this domain's channel prefixes (%s)", name, g.chanList)
	}
	return fmt.Sprintf("keyway: key %q is outside this domain's key prefixes (%s)", arg, g.prefixList)
}
