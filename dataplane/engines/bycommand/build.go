package bycommand

import (
	"fmt"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a ByCommand. Command names are checked against the
// command table, so a typo fails the build instead of silently routing
// nothing. A bare container name ("CONFIG") covers all its subcommands;
// a subcommand ("CONFIG|GET") listed as well wins over it.
func Build(b *engine.Builder, cfg *keywayv1.ByCommand) (engine.Engine, error) {
	if err := kinds.ByCommand(cfg.GetDefault() != nil); err != nil {
		return nil, err
	}
	bc := &ByCommand{named: map[*resp.Spec]engine.Engine{}, names: map[*resp.Spec]string{}}
	for _, c := range []struct {
		field string
		class resp.Class
		cfg   *keywayv1.Engine
	}{
		{"reads", resp.ClassRead, cfg.GetReads()},
		{"writes", resp.ClassWrite, cfg.GetWrites()},
		{"admin", resp.ClassAdmin, cfg.GetAdmin()},
		{"blocking", resp.ClassBlocking, cfg.GetBlocking()},
		{"pubsub", resp.ClassPubSub, cfg.GetPubsub()},
	} {
		if c.cfg == nil {
			continue
		}
		child, err := b.Child(c.field, c.cfg)
		if err != nil {
			return nil, err
		}
		bc.classes[c.class] = child
	}
	// Containers first, so subcommands named anywhere override them.
	type named struct {
		name  string
		specs []*resp.Spec
		sub   bool
		child engine.Engine
	}
	var all []named
	seen := map[string]bool{}
	for i, cr := range cfg.GetCommands() {
		if len(cr.GetNames()) == 0 {
			return nil, fmt.Errorf("commands[%d]: no command names", i)
		}
		child, err := b.Child(fmt.Sprintf("commands[%q]", strings.Join(cr.GetNames(), ",")), cr.GetEngine())
		if err != nil {
			return nil, err
		}
		for _, n := range cr.GetNames() {
			canon, specs, sub, err := resolve(n)
			if err != nil {
				return nil, fmt.Errorf("commands: %w", err)
			}
			if seen[canon] {
				return nil, kinds.ListedTwice("commands", canon)
			}
			seen[canon] = true
			all = append(all, named{name: canon, specs: specs, sub: sub, child: child})
		}
	}
	for _, pass := range []bool{false, true} {
		for _, n := range all {
			if n.sub != pass {
				continue
			}
			for _, s := range n.specs {
				bc.named[s] = n.child
				bc.names[s] = n.name
			}
		}
	}
	def, err := b.Child("default", cfg.GetDefault())
	if err != nil {
		return nil, err
	}
	bc.def = def
	return bc, nil
}

// resolve returns the canonical name of a listed command and the table
// rows it covers: one row, or a container's own row and all its
// subcommands'.
func resolve(name string) (canon string, specs []*resp.Spec, sub bool, err error) {
	top, subName, hasSub := strings.Cut(strings.TrimSpace(name), "|")
	s := resp.Lookup([]byte(top))
	if s == nil {
		return "", nil, false, fmt.Errorf("unknown command %q", name)
	}
	if hasSub {
		ss := s.Subcommands[strings.ToUpper(subName)]
		if ss == nil {
			return "", nil, false, fmt.Errorf("unknown subcommand %q of %s", subName, s.Name)
		}
		return ss.Name, []*resp.Spec{ss}, true, nil
	}
	specs = append(specs, s)
	for _, ss := range s.Subcommands {
		specs = append(specs, ss)
	}
	return s.Name, specs, false, nil
}
