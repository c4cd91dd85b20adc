package resp

import "sort"

// All returns every top-level command of the table, sorted by name, for
// the proxy's COMMAND reply. The specs are shared; callers must not
// modify them.
func All() []*Spec {
	out := make([]*Spec, 0, len(commands))
	for _, s := range commands {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
