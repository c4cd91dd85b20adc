package resp

// Specs whose blocking depends on their arguments, resolved once.
var (
	specXRead      = commands["XREAD"]
	specXReadGroup = commands["XREADGROUP"]
)

// IsBlocking reports whether c may hold its connection waiting: Redis's
// blocking commands (BLPOP, BZMPOP, ...), WAIT and WAITAOF, and XREAD and
// XREADGROUP only when given BLOCK.
func IsBlocking(c *Command) bool {
	s := c.Spec
	if s == nil || s.Flags&FlagBlocking == 0 {
		return false
	}
	if s != specXRead && s != specXReadGroup {
		return true
	}
	// Options come before STREAMS; after it every argument is a key or an
	// ID, so a key named "block" must not count.
	for i := 1; i < len(c.Args); i++ {
		a := c.Args[i]
		switch {
		case equalFold(a, "BLOCK"):
			return true
		case equalFold(a, "STREAMS"):
			return false
		case equalFold(a, "COUNT"):
			i++
		case equalFold(a, "GROUP"):
			i += 2
		}
	}
	return false
}
