package render

import (
	"math"

	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinNearCache answers hot reads from each proxy's memory, kept
// correct by Redis's client tracking: near_cache(next, max_bytes,
// prefixes=[], commands=[], max_entry_bytes=0, max_age=None,
// admit_reads=0, admit_window=None, coalescing=True, label=None). next is
// an upstream: the cache holds what its primaries report changes of.
// The rules are kinds.NearCache's, shared with the proxy's builder.
func builtinNearCache(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var next starlark.Value
	var prefixesV, commandsV, maxAgeV, windowV starlark.Value = starlark.None, starlark.None, starlark.None, starlark.None
	var maxBytes, maxEntry, admit int
	coalescing := true
	var label string
	if err := unpack(fn.Name(), args, kwargs,
		"next", &next, "max_bytes", &maxBytes, "prefixes?", &prefixesV, "commands?", &commandsV,
		"max_entry_bytes?", &maxEntry, "max_age?", &maxAgeV, "admit_reads?", &admit,
		"admit_window?", &windowV, "coalescing?", &coalescing, "label?", &label); err != nil {
		return nil, err
	}
	n := &keywayv1.NearCache{NoCoalescing: !coalescing}
	var err error
	if n.Next, err = c.child("next", next); err != nil {
		return nil, err
	}
	// Negative sizes cannot reach the message; the rules then see no
	// budget (and say it must be positive) or the default entry size.
	if maxEntry < 0 {
		c.errorf("max_entry_bytes must not be negative, got %d", maxEntry)
	}
	n.MaxBytes, n.MaxEntryBytes = uint64(max(maxBytes, 0)), uint64(max(maxEntry, 0))
	if n.Prefixes, err = c.strs("prefixes", prefixesV); err != nil {
		return nil, err
	}
	if n.Commands, err = c.commandNames("commands", commandsV); err != nil {
		return nil, err
	}
	if n.MaxAge, err = c.duration("max_age", maxAgeV, ""); err != nil {
		return nil, err
	}
	if admit < 0 || admit > math.MaxUint32 {
		c.errorf("admit_reads must be in [0, %d], got %d", uint32(math.MaxUint32), admit)
	} else {
		n.AdmitReads = uint32(admit)
	}
	if n.AdmitWindow, err = c.duration("admit_window", windowV, ""); err != nil {
		return nil, err
	}
	for _, e := range kinds.NearCache(n) {
		c.errorf("%v", e)
	}
	return c.engine("near_cache", label, &keywayv1.Engine{Kind: &keywayv1.Engine_NearCache{NearCache: n}}), nil
}
