package kinds

import (
	"fmt"
	"strings"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// NearCacheMaxBytes bounds a near cache's budget on one proxy.
const NearCacheMaxBytes = 1 << 40

// NearCacheCommands are the commands a near cache may answer from memory
// (MGET too, from GET's replies, when GET is among them).
var NearCacheCommands = []string{"GET", "HGET", "HGETALL", "EXISTS"}

// NearCacheEntryBytes is the max_entry_bytes in effect: as set, or
// max_bytes / 64.
func NearCacheEntryBytes(nc *keywayv1.NearCache) uint64 {
	if e := nc.GetMaxEntryBytes(); e != 0 {
		return e
	}
	return max(nc.GetMaxBytes()/64, 1)
}

// NearCache checks a near_cache's values and returns every rule they
// break: next is an upstream leaf that reads primaries (a lagging replica
// could refill a value the primaries already reported changed); the
// budget is set and holds the largest entry; prefixes are non-empty and
// do not overlap (Redis refuses overlapping BCAST prefixes); commands
// are ones memory can answer, each once; durations are positive, and
// admit_reads above 1 has a window. Command names are compared
// upper-cased.
func NearCache(nc *keywayv1.NearCache) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch leaf := nc.GetNext().GetUpstream(); {
	case leaf == nil:
		bad("next must be an upstream: the near cache holds what one upstream's primaries report changes of")
	case leaf.GetReadFromReplicas():
		bad("next reads from replicas, which may lag the primaries whose changes the near cache hears; drop read_from_replicas")
	}
	switch b := nc.GetMaxBytes(); {
	case b == 0:
		bad("max_bytes must be positive: the memory budget of the cache on each proxy")
	case b > NearCacheMaxBytes:
		bad("max_bytes %d is above 1 TiB", b)
	}
	if e := NearCacheEntryBytes(nc); nc.GetMaxBytes() > 0 && e > nc.GetMaxBytes() {
		bad("max_entry_bytes %d is above max_bytes %d", e, nc.GetMaxBytes())
	}
	ps := nc.GetPrefixes()
	for i, p := range ps {
		if p == "" {
			bad("prefixes: an empty prefix (leave prefixes out to cache every key)")
			continue
		}
		for _, q := range ps[:i] {
			if q != "" && (strings.HasPrefix(p, q) || strings.HasPrefix(q, p)) {
				bad("prefixes %q and %q overlap, which redis refuses for BCAST tracking", q, p)
			}
		}
	}
	cmds := nc.GetCommands()
	for i, c := range cmds {
		c = strings.ToUpper(c)
		known := false
		for _, k := range NearCacheCommands {
			known = known || c == k
		}
		if !known {
			bad("commands: %s cannot be answered from the near cache (it answers %s)", c, strings.Join(NearCacheCommands, ", "))
		}
		for _, prev := range cmds[:i] {
			if strings.ToUpper(prev) == c {
				bad("commands: %s is listed twice", c)
			}
		}
	}
	if d := nc.GetMaxAge(); d != nil && d.AsDuration() <= 0 {
		bad("max_age must be positive, got %s", d.AsDuration())
	}
	if d := nc.GetAdmitWindow(); d != nil && d.AsDuration() <= 0 {
		bad("admit_window must be positive, got %s", d.AsDuration())
	}
	if nc.GetAdmitReads() > 1 && nc.GetAdmitWindow() == nil {
		bad("admit_reads %d needs admit_window, the span in which the reads must happen", nc.GetAdmitReads())
	}
	return errs
}
