package nearcache

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a NearCache over its upstream leaf and starts tracking
// the upstream's primaries; the tree's release stops the tracking
// (a reload builds a new, empty cache).
func Build(b *engine.Builder, cfg *keywayv1.NearCache) (engine.Engine, error) {
	leaf := cfg.GetNext().GetUpstream()
	if leaf == nil {
		return nil, errors.New("next must be an upstream: the near cache holds what one upstream's primaries report changes of")
	}
	if leaf.GetReadFromReplicas() {
		return nil, errors.New("next reads from replicas, which may lag the primaries whose changes the near cache hears; drop read_from_replicas")
	}
	maxBytes := cfg.GetMaxBytes()
	if maxBytes == 0 {
		return nil, errors.New("max_bytes is required: the memory budget of the cache on each proxy")
	}
	if maxBytes > 1<<40 {
		return nil, fmt.Errorf("max_bytes %d is above 1 TiB", maxBytes)
	}
	maxEntry := cfg.GetMaxEntryBytes()
	if maxEntry == 0 {
		maxEntry = max(maxBytes/64, 1)
	}
	if maxEntry > maxBytes {
		return nil, fmt.Errorf("max_entry_bytes %d is above max_bytes %d", maxEntry, maxBytes)
	}
	prefixes, err := checkPrefixes(cfg.GetPrefixes())
	if err != nil {
		return nil, err
	}
	cmds, err := checkCommands(cfg.GetCommands())
	if err != nil {
		return nil, err
	}
	n := &NearCache{prefixes: prefixes, cmds: cmds, admitK: cfg.GetAdmitReads(), coalesce: !cfg.GetNoCoalescing(), stats: &stats{}}
	if d := cfg.GetMaxAge(); d != nil {
		if d.AsDuration() <= 0 {
			return nil, fmt.Errorf("max_age must be positive, got %s", d.AsDuration())
		}
		n.maxAge = int64(d.AsDuration())
	}
	if n.admitK > 1 {
		w := cfg.GetAdmitWindow().AsDuration()
		if w <= 0 {
			return nil, fmt.Errorf("admit_reads %d needs a positive admit_window", n.admitK)
		}
		n.admitWin = int64(w)
	}
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

// checkPrefixes refuses what Redis would refuse at CLIENT TRACKING time,
// so a bad policy fails when it is pushed rather than on every proxy.
func checkPrefixes(ps []string) ([][]byte, error) {
	out := make([][]byte, 0, len(ps))
	for i, p := range ps {
		if p == "" {
			return nil, errors.New("prefixes: an empty prefix; leave prefixes out to cache every key")
		}
		for _, q := range ps[:i] {
			if strings.HasPrefix(p, q) || strings.HasPrefix(q, p) {
				return nil, fmt.Errorf("prefixes %q and %q overlap, which redis refuses for BCAST tracking", q, p)
			}
		}
		out = append(out, []byte(p))
	}
	return out, nil
}

func checkCommands(names []string) (map[*resp.Spec]bool, error) {
	m := map[*resp.Spec]bool{}
	if len(names) == 0 {
		for s := range cacheableArgs {
			m[s] = true
		}
		return m, nil
	}
	for _, name := range names {
		s := resp.Lookup([]byte(name))
		if _, ok := cacheableArgs[s]; !ok || s == nil {
			return nil, fmt.Errorf("commands: %q cannot be answered from the near cache (it answers GET, HGET, HGETALL and EXISTS)", name)
		}
		if m[s] {
			return nil, fmt.Errorf("commands: %s is listed twice", s.Name)
		}
		m[s] = true
	}
	return m, nil
}
