package prefix

import (
	"errors"
	"fmt"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// refusal is the error for a request the prefix cannot confine to its
// namespace, or "": keyspace-wide commands (resp's key-access table),
// scripts unless allowed (their code names keys that no prefix reaches),
// and CLIENT TRACKING BCAST without a PREFIX (it would report every
// domain's keys). It runs for every request, so it allocates only to
// refuse.
func (p *Prefix) refusal(r *engine.Request) string {
	switch resp.KeyAccessOf(&r.Cmd) {
	case resp.AccessKeyspace:
		why := resp.KeyAccessWhy(r.Cmd.Name())
		if why == "" {
			why = "it acts on the whole keyspace"
		}
		return fmt.Sprintf("keyway: %s is refused under prefix %q, which owns only its own keys: %s", name(r), p.prefix, why)
	case resp.AccessScript:
		if !p.allowScripts {
			return fmt.Sprintf("keyway: %s runs or loads code whose keys cannot be prefixed; the policy allows it with prefix(..., allow_scripts = True), which prefixes only the keys a script declares", name(r))
		}
		if resp.ScriptDeclaresUndeclaredKeys(&r.Cmd) {
			return fmt.Sprintf("keyway: %s declares allow-cross-slot-keys (access to keys it is not given), which no prefix can confine", name(r))
		}
	case resp.AccessTracking:
		var buf [4]int
		if pre, bcast := resp.TrackingPrefixes(&r.Cmd, buf[:0]); bcast && len(pre) == 0 {
			return "keyway: CLIENT TRACKING BCAST without PREFIX reports every domain's keys; add PREFIX"
		}
	}
	return ""
}

// refuse fails the requests refusal names and returns the rest, b itself
// when it refuses none.
func (p *Prefix) refuse(b engine.Batch) engine.Batch {
	refused := 0
	for _, r := range b {
		if msg := p.refusal(r); msg != "" {
			r.Fail(engine.KindRefused, errors.New(msg))
			refused++
		}
	}
	return b.Unanswered(refused)
}

func name(r *engine.Request) string { return strings.ReplaceAll(r.Cmd.Name(), "|", " ") }
