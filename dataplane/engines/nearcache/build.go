package nearcache

import (
	"errors"
	"log/slog"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a NearCache over its upstream leaf and starts tracking
// the upstream's primaries; the tree's release stops the tracking
// (a reload builds a new, empty cache). Its values are checked by
// kinds.NearCache, the renderer's rules.
func Build(b *engine.Builder, cfg *keywayv1.NearCache) (engine.Engine, error) {
	if err := errors.Join(kinds.NearCache(cfg)...); err != nil {
		return nil, err
	}
	maxBytes, maxEntry := cfg.GetMaxBytes(), kinds.NearCacheEntryBytes(cfg)
	prefixes := make([][]byte, len(cfg.GetPrefixes()))
	for i, p := range cfg.GetPrefixes() {
		prefixes[i] = []byte(p)
	}
	cmds := map[*resp.Spec]bool{}
	for _, name := range cfg.GetCommands() {
		cmds[resp.Lookup([]byte(name))] = true
	}
	if len(cmds) == 0 {
		for s := range cacheableArgs {
			cmds[s] = true
		}
	}
	n := &NearCache{prefixes: prefixes, cmds: cmds, admitK: cfg.GetAdmitReads(), coalesce: !cfg.GetNoCoalescing(), stats: &stats{}}
	if d := cfg.GetMaxAge(); d != nil {
		n.maxAge = int64(d.AsDuration())
	}
	if n.admitK > 1 {
		n.admitWin = int64(cfg.GetAdmitWindow().AsDuration())
	}
	var err error
	if n.next, err = b.Child("next", cfg.GetNext()); err != nil {
		return nil, err
	}
	fwd, ok := n.next.(*engine.Labeled).Engine.(interface{ Upstream() engine.Upstream })
	if !ok {
		return nil, errors.New("next: the upstream leaf does not expose its client")
	}
	n.up = fwd.Upstream()
	n.name = n.up.Name()
	n.store = newStore(int64(maxBytes), int64(maxEntry), n.stats)
	log := slog.Default().With("domain", b.Domain, "engine", b.Path())
	n.track = newTracker(n.name, sourceOf(n.up), cfg.GetPrefixes(), n.store, n.stats, log)
	b.OnRelease(n.track.close)
	return n, nil
}
