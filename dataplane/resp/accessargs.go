package resp

import "bytes"

// The functions below find the arguments of the key-access classes that
// are not key positions. Each follows the parser of the Redis command
// that will run, not COMMAND GETKEYS: where the two differ (SORT's STORE),
// the parser is what decides which key is written.

// SortArgs appends to patterns the indexes of SORT's and SORT_RO's BY and
// GET patterns and to stores the indexes of STORE destinations, as
// sortCommandGeneric parses them. ok is false when Redis will refuse the
// arguments as a syntax error before touching any key; what was found up
// to there is still returned.
//
// COMMAND GETKEYS does not skip STORE's argument, so for
// "SORT k STORE BY STORE x" it reports "BY" as the destination while SORT
// writes x: stores is what a check or a rewrite must use.
func SortArgs(c *Command, patterns, stores []int) ([]int, []int, bool) {
	args := c.Args
	readonly := c.Spec != nil && c.Spec.Name == "SORT_RO"
	for j := 2; j < len(args); j++ {
		left := len(args) - j - 1
		a := args[j]
		switch {
		case equalFold(a, "ASC"), equalFold(a, "DESC"), equalFold(a, "ALPHA"):
		case equalFold(a, "LIMIT") && left >= 2:
			j += 2
		case !readonly && equalFold(a, "STORE") && left >= 1:
			stores = append(stores, j+1)
			j++
		case (equalFold(a, "BY") || equalFold(a, "GET")) && left >= 1:
			patterns = append(patterns, j+1)
			j++
		default:
			return patterns, stores, false
		}
	}
	return patterns, stores, true
}

// SortPatternReads reports whether SORT looks up keys by pattern p: "#"
// is the element itself, and a pattern without '*' names no key (Redis
// answers nil for it, and BY without '*' means no sorting).
func SortPatternReads(p []byte) bool {
	return !(len(p) == 1 && p[0] == '#') && bytes.IndexByte(p, '*') >= 0
}

// MatchArgs appends to dst the indexes of the glob patterns of KEYS (its
// argument) and SCAN (every MATCH value: Redis uses the last, a check
// must look at all). all is true when the command lists every key: a
// SCAN without MATCH.
func MatchArgs(c *Command, dst []int) (out []int, all bool) {
	args := c.Args
	if c.Spec == nil || len(args) < 2 {
		return dst, false
	}
	if c.Spec.Name == "KEYS" {
		return append(dst, 1), false
	}
	n := len(dst)
	// SCAN's options come in pairs after the cursor; anything else is
	// a syntax error.
	for i := 2; i+1 < len(args); i += 2 {
		if equalFold(args[i], "MATCH") {
			dst = append(dst, i+1)
		}
	}
	return dst, len(dst) == n
}

// ChannelArgs appends to dst the indexes of the channel names or, when
// patterns is true, glob patterns that a channels-class command names.
// all is true when it lists every channel (PUBSUB CHANNELS without a
// pattern). UNSUBSCRIBE and friends without arguments name no channel:
// they drop the connection's own subscriptions.
func ChannelArgs(c *Command, dst []int) (out []int, patterns, all bool) {
	s := c.Spec
	if s == nil {
		return dst, false, false
	}
	args := c.Args
	switch s.Name {
	case "PUBLISH", "SPUBLISH":
		if len(args) > 1 {
			dst = append(dst, 1)
		}
	case "SUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "SUNSUBSCRIBE":
		for i := 1; i < len(args); i++ {
			dst = append(dst, i)
		}
	case "PSUBSCRIBE", "PUNSUBSCRIBE":
		for i := 1; i < len(args); i++ {
			dst = append(dst, i)
		}
		patterns = true
	case "PUBSUB|CHANNELS", "PUBSUB|SHARDCHANNELS":
		if len(args) < 3 {
			return dst, true, true
		}
		dst = append(dst, 2)
		patterns = true
	case "PUBSUB|NUMSUB", "PUBSUB|SHARDNUMSUB":
		for i := 2; i < len(args); i++ {
			dst = append(dst, i)
		}
	}
	return dst, patterns, false
}

// TrackingPrefixes appends to dst the indexes of CLIENT TRACKING's PREFIX
// arguments. bcast reports BCAST, under which the connection hears of
// changes to every key under those prefixes, or every key without any.
func TrackingPrefixes(c *Command, dst []int) (out []int, bcast bool) {
	args := c.Args
	for i := 3; i < len(args); i++ {
		switch {
		case equalFold(args[i], "PREFIX") && i+1 < len(args):
			dst = append(dst, i+1)
			i++
		case equalFold(args[i], "REDIRECT"):
			i++
		case equalFold(args[i], "BCAST"):
			bcast = true
		}
	}
	return dst, bcast
}

// ScriptCode returns the code a script command carries (EVAL's script,
// SCRIPT LOAD's, FUNCTION LOAD's library), or nil for those that name
// code loaded before (EVALSHA, FCALL).
func ScriptCode(c *Command) []byte {
	s := c.Spec
	if s == nil {
		return nil
	}
	args := c.Args
	switch s.Name {
	case "EVAL", "EVAL_RO":
		if len(args) > 1 {
			return args[1]
		}
	case "SCRIPT|LOAD":
		if len(args) > 2 {
			return args[2]
		}
	case "FUNCTION|LOAD":
		if len(args) > 2 {
			return args[len(args)-1]
		}
	}
	return nil
}

// crossSlotFlag is the script flag by which Redis 7 code declares that it
// touches keys it was not given.
var crossSlotFlag = []byte("allow-cross-slot-keys")

// ScriptDeclaresUndeclaredKeys reports whether code asks Redis for
// access to keys it does not declare: a "#!lua flags=..." first line
// with allow-cross-slot-keys, or, in a function library, the flag's name
// anywhere (its register_function calls carry it; the check cannot
// follow code that builds the name). Code without the flag can still
// call undeclared keys on a server that is not a cluster: Redis checks
// declared keys only in cluster mode.
func ScriptDeclaresUndeclaredKeys(c *Command) bool {
	code := ScriptCode(c)
	if code == nil {
		return false
	}
	if c.Spec.Name == "FUNCTION|LOAD" {
		return bytes.Contains(code, crossSlotFlag)
	}
	if !bytes.HasPrefix(code, []byte("#!")) {
		return false
	}
	line, _, _ := bytes.Cut(code, []byte("\n"))
	return bytes.Contains(line, crossSlotFlag)
}
