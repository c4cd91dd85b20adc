package guard

import (
	"fmt"
	"strings"

	"keyway.dev/dataplane/engine"
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
	case RuleKeyPrefix:
		return fmt.Sprintf("keyway: key %q is outside this domain's key prefixes (%s)", quote(r.Cmd.Args[v.arg]), g.prefixList)
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
