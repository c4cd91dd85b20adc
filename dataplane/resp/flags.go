package resp

import "strings"

// Flags classify a command, as Redis's COMMAND reply does.
type Flags uint32

// Command flags, from COMMAND's flags, plus FlagDangerous from the ACL
// categories and FlagConnState, which the proxy sets itself.
const (
	FlagWrite Flags = 1 << iota
	FlagReadOnly
	FlagAdmin
	FlagPubSub
	FlagNoScript
	FlagBlocking
	FlagLoading
	FlagStale
	FlagFast
	FlagNoAuth
	FlagMayReplicate
	FlagMovableKeys
	FlagNoMulti
	FlagDenyOOM
	// FlagConnState marks commands that leave state on the connection
	// (MULTI, WATCH, SUBSCRIBE, CLIENT TRACKING, ...): they need a
	// dedicated upstream connection. Not a Redis flag; set by the proxy.
	FlagConnState
	// FlagDangerous is Redis's @dangerous ACL category (KEYS, FLUSHALL,
	// CONFIG SET, SORT, ...): commands an operator may want to fence off.
	FlagDangerous
	FlagSkipMonitor
	FlagSkipSlowlog
	FlagAsking
	FlagNoMandatoryKeys
	FlagNoAsyncLoading
	FlagAllowBusy
)

// flagNames are the Redis spellings, in bit order.
var flagNames = [...]string{
	"write", "readonly", "admin", "pubsub", "noscript", "blocking",
	"loading", "stale", "fast", "no_auth", "may_replicate", "movablekeys",
	"no_multi", "denyoom", "connstate", "dangerous", "skip_monitor",
	"skip_slowlog", "asking", "no_mandatory_keys", "no_async_loading",
	"allow_busy",
}

// String lists the flags in Redis's spelling, joined by '|'.
func (f Flags) String() string {
	var b strings.Builder
	for i, name := range flagNames {
		if f&(1<<i) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		b.WriteString(name)
	}
	return b.String()
}

// FlagByName returns the flag Redis spells name ("readonly", "denyoom",
// "dangerous", ...).
func FlagByName(name string) (Flags, bool) {
	for i, n := range flagNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}
