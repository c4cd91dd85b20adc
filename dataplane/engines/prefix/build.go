package prefix

import (
	"keyway.dev/dataplane/engine"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a Prefix.
func Build(b *engine.Builder, cfg *keywayv1.Prefix) (engine.Engine, error) {
	if err := kinds.Prefix(cfg.GetPrefix()); err != nil {
		return nil, err
	}
	p := &Prefix{prefix: []byte(cfg.GetPrefix()), pattern: escapeGlob(cfg.GetPrefix()), allowScripts: cfg.GetAllowScripts()}
	var err error
	if p.next, err = b.Child("next", cfg.GetNext()); err != nil {
		return nil, err
	}
	return p, nil
}

// escapeGlob backslash-escapes the characters Redis's glob matcher treats
// specially, so a prefix such as "t[1]:" is matched literally.
func escapeGlob(s string) []byte {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*', '?', '[', ']', '\\', '^', '-':
			out = append(out, '\\', c)
		default:
			out = append(out, c)
		}
	}
	return out
}
