package engine

import "sort"

// Counter is one of an engine's own numbers, by name: a count of events
// (a refusal, a dropped mirror copy, a breaker opening) or, with Gauge
// set, a level that can go down (a queue length, a breaker state).
type Counter struct {
	Name  string
	Value uint64
	Gauge bool
}

// StatsReporter is implemented by engines that count their own events.
// AppendStats appends the engine's counters to dst and returns it. It is
// called at scrape time, never on the request path, and must be safe to
// call concurrently with Serve. An event counter should be reported from
// the engine's start, even while zero, so a rate over it has a baseline.
type StatsReporter interface {
	AppendStats(dst []Counter) []Counter
}

// Walker is implemented by engines that hold children. Engines compiled
// by a Builder need not implement it: their Labeled wrapper knows the
// children the builder built. It is for trees assembled by hand.
type Walker interface {
	Children() []Engine
}

// Children returns the engines built as l's children, in build order.
func (l *Labeled) Children() []Engine {
	out := make([]Engine, len(l.children))
	for i, c := range l.children {
		out[i] = c
	}
	return out
}

// EngineStat is one counter of one engine in one domain's tree.
type EngineStat struct {
	Domain string
	// Track is "stable", or "canary" for the tree a rollout tries out.
	Track string
	// Kind, Label and Source say which engine: its kind name, the label
	// the policy gave it and its file:line in the policy.
	Kind, Label, Source string
	Counter
}

// maxDepth bounds a walk, as Explain does, against a tree that refers to
// itself by mistake.
const maxDepth = 64

// CollectStats gathers the counters of every StatsReporter in st's
// trees, domains in name order, engines in tree order (parents first).
// Counters live in the engines, so a domain rebuilt by a reload starts
// from zero, as a restarted process would.
func CollectStats(st *State) []EngineStat {
	if st == nil {
		return nil
	}
	names := make([]string, 0, len(st.Domains))
	for n := range st.Domains {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []EngineStat
	var buf []Counter
	for _, n := range names {
		d := st.Domains[n]
		for _, t := range []struct {
			track string
			tree  *Tree
		}{{"stable", d.Stable}, {"canary", d.Canary}} {
			if t.tree == nil {
				continue
			}
			walk(t.tree.Root, 0, func(kind, label, source string, e Engine) {
				r, ok := e.(StatsReporter)
				if !ok {
					return
				}
				buf = r.AppendStats(buf[:0])
				for _, c := range buf {
					out = append(out, EngineStat{Domain: n, Track: t.track, Kind: kind, Label: label, Source: source, Counter: c})
				}
			})
		}
	}
	return out
}

// CollectCurrent is CollectStats of the installed state, holding a
// reference for the walk so its trees are not released under it.
func CollectCurrent(c *Current) []EngineStat {
	st := c.Acquire()
	if st == nil {
		return nil
	}
	defer st.Release()
	return CollectStats(st)
}

// walk calls visit for e and every engine below it with the innermost
// engine (the one that may report stats) and its labels.
func walk(e Engine, depth int, visit func(kind, label, source string, e Engine)) {
	if e == nil || depth >= maxDepth {
		return
	}
	if l, ok := e.(*Labeled); ok {
		visit(l.Kind, l.Label, l.Source, l.Engine)
		for _, c := range l.children {
			walk(c, depth+1, visit)
		}
		if w, ok := l.Engine.(Walker); ok && len(l.children) == 0 {
			// Wrapped by hand rather than by a Builder.
			for _, c := range w.Children() {
				walk(c, depth+1, visit)
			}
		}
		return
	}
	visit("", "", "", e)
	if w, ok := e.(Walker); ok {
		for _, c := range w.Children() {
			walk(c, depth+1, visit)
		}
	}
}
