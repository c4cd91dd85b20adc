package render

import (
	"math"
	"strings"

	"go.starlark.net/starlark"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinNearCache answers hot reads from each proxy's memory, kept
// correct by Redis's client tracking: near_cache(next, max_bytes,
// prefixes=[], commands=[], max_entry_bytes=0, max_age=None,
// admit_reads=0, admit_window=None, coalescing=True, label=None). next is
// an upstream: the cache holds what its primaries report changes of.
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
	if n.Next, err = c.required("next", next); err != nil {
		return nil, err
	}
	if n.Next != nil {
		f := n.Next.GetUpstream()
		switch {
		case f == nil:
			c.errorf("next must be an upstream (the near cache holds what one upstream's primaries report changes of), got a %s engine", kindOf(n.Next))
		case f.GetReadFromReplicas():
			c.errorf("next reads from replicas, which may lag the primaries whose changes the near cache hears")
		}
	}
	switch {
	case maxBytes <= 0:
		c.errorf("max_bytes must be positive: the memory budget of the cache on each proxy")
	case maxBytes > 1<<40:
		c.errorf("max_bytes %d is above 1 TiB", maxBytes)
	}
	n.MaxBytes = uint64(max(maxBytes, 0))
	switch {
	case maxEntry < 0:
		c.errorf("max_entry_bytes must not be negative, got %d", maxEntry)
	case maxEntry > maxBytes && maxBytes > 0:
		c.errorf("max_entry_bytes %d is above max_bytes %d", maxEntry, maxBytes)
	}
	n.MaxEntryBytes = uint64(max(maxEntry, 0))
	if n.Prefixes, err = c.prefixes("prefixes", prefixesV); err != nil {
		return nil, err
	}
	for i, p := range n.Prefixes {
		for _, q := range n.Prefixes[:i] {
			if len(p) > 0 && len(q) > 0 && (strings.HasPrefix(p, q) || strings.HasPrefix(q, p)) {
				c.errorf("prefixes %q and %q overlap, which redis refuses for BCAST tracking", q, p)
			}
		}
	}
	if n.Commands, err = c.commandNames("commands", commandsV); err != nil {
		return nil, err
	}
	for i, cmd := range n.Commands {
		switch cmd {
		case "GET", "HGET", "HGETALL", "EXISTS":
		default:
			c.errorf("commands: %s cannot be answered from the near cache (it answers GET, HGET, HGETALL and EXISTS)", cmd)
		}
		for _, prev := range n.Commands[:i] {
			if prev == cmd {
				c.errorf("commands: %s is listed twice", cmd)
			}
		}
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
	if admit > 1 && n.AdmitWindow == nil {
		c.errorf("admit_reads = %d needs admit_window, the span in which the reads must happen", admit)
	}
	return c.engine("near_cache", label, &keywayv1.Engine{Kind: &keywayv1.Engine_NearCache{NearCache: n}}), nil
}

// kindOf names e's engine kind for messages.
func kindOf(e *keywayv1.Engine) string {
	m := e.ProtoReflect()
	if fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind")); fd != nil {
		return string(fd.Name())
	}
	return "kindless"
}
