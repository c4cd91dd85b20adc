package resp

// Key functions for the commands Redis marks movablekeys. Each follows the
// server's own getkeys procedure (db.c) for the positions it will read
// keys from when it runs the command, which is what routing needs.

// keysCountAt1: ZUNION, ZINTER, ZDIFF, SINTERCARD, ZINTERCARD, LMPOP,
// ZMPOP — numkeys at 1, keys after it.
func keysCountAt1(args [][]byte, dst []int) []int { return countedKeys(args, 0, 1, dst) }

// keysCountAt2: EVAL and friends, FCALL, BLMPOP, BZMPOP — numkeys at 2.
func keysCountAt2(args [][]byte, dst []int) []int { return countedKeys(args, 0, 2, dst) }

// keysStoreCountAt2: ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE — destination
// at 1, numkeys at 2.
func keysStoreCountAt2(args [][]byte, dst []int) []int { return countedKeys(args, 1, 2, dst) }

// countedKeys is Redis's genericGetKeys: a numkeys argument followed by
// that many keys, optionally preceded by a destination key. A count that
// is not a positive integer, or runs past the arguments, yields no keys.
func countedKeys(args [][]byte, store, countAt int, dst []int) []int {
	if countAt >= len(args) {
		return dst
	}
	n, ok := parseInt(args[countAt])
	first := countAt + 1
	if !ok || n < 1 || n > int64(len(args)-first) {
		return dst
	}
	if store > 0 {
		dst = append(dst, store)
	}
	for i := first; i < first+int(n); i++ {
		dst = append(dst, i)
	}
	return dst
}

// keysStreams: XREAD and XREADGROUP. Options are skipped by their known
// arity until STREAMS; the first half of what follows are keys, the rest
// IDs.
func keysStreams(args [][]byte, dst []int) []int {
	streams := -1
options:
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case equalFold(a, "BLOCK"), equalFold(a, "COUNT"):
			i++
		case equalFold(a, "GROUP"):
			i += 2
		case equalFold(a, "NOACK"):
		case equalFold(a, "STREAMS"):
			streams = i
			break options
		default:
			break options // a syntax error: Redis reports no keys
		}
	}
	if streams < 0 {
		return dst
	}
	n := len(args) - streams - 1
	if n == 0 || n%2 != 0 {
		return dst
	}
	for i := streams + 1; i <= streams+n/2; i++ {
		dst = append(dst, i)
	}
	return dst
}

// keysSortRO: SORT_RO reads only its first argument (BY and GET patterns
// name keys derived from data, which Redis does not report either).
func keysSortRO(args [][]byte, dst []int) []int {
	if len(args) < 2 {
		return dst
	}
	return append(dst, 1)
}

// keysSort: SORT's key and, when given, the last STORE destination. Like
// Redis, LIMIT skips two arguments, GET and BY one, and STORE none (its
// argument is then looked at as an option name too).
func keysSort(args [][]byte, dst []int) []int {
	if len(args) < 2 {
		return dst
	}
	dst = append(dst, 1)
	store := -1
	for i := 2; i < len(args); i++ {
		a := args[i]
		switch {
		case equalFold(a, "STORE") && i+1 < len(args):
			store = i + 1
		case equalFold(a, "LIMIT"):
			i += 2
		case equalFold(a, "GET"), equalFold(a, "BY"):
			i++
		}
	}
	if store >= 0 {
		dst = append(dst, store)
	}
	return dst
}

// keysMigrate: MIGRATE host port key|"" db timeout [COPY] [REPLACE]
// [AUTH pw] [AUTH2 user pw] [KEYS key...]. With KEYS the key argument must
// be empty and the keys follow KEYS.
func keysMigrate(args [][]byte, dst []int) []int {
	if len(args) < 6 {
		return dst
	}
	first, n := 3, 1
	for i := 6; i < len(args); i++ {
		a := args[i]
		if equalFold(a, "KEYS") {
			if len(args[3]) > 0 {
				return dst
			}
			first, n = i+1, len(args)-i-1
			break
		}
		switch {
		case equalFold(a, "AUTH"):
			i++
		case equalFold(a, "AUTH2"):
			i += 2
		}
	}
	for i := first; i < first+n; i++ {
		dst = append(dst, i)
	}
	return dst
}

// keysGeoRadius: GEORADIUS and GEORADIUSBYMEMBER read key 1 and write the
// argument of the last STORE or STOREDIST.
func keysGeoRadius(args [][]byte, dst []int) []int {
	if len(args) < 2 {
		return dst
	}
	dst = append(dst, 1)
	store := -1
	for i := 5; i < len(args); i++ {
		if (equalFold(args[i], "STORE") || equalFold(args[i], "STOREDIST")) && i+1 < len(args) {
			store = i + 1
			i++
		}
	}
	if store >= 0 {
		dst = append(dst, store)
	}
	return dst
}
