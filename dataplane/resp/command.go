// Package resp parses client commands and frames Redis replies. It does no
// I/O: the server reads bytes, resp says what they mean.
package resp

// Flags classify a command, as Redis's COMMAND reply does.
type Flags uint32

// Command flags, from COMMAND INFO. Only the ones the proxy acts on.
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
)

// Spec is one row of the command table.
type Spec struct {
	// Name is the canonical upper-case name; subcommands are "CONFIG|SET".
	Name string
	// Arity as Redis reports it: positive is exact, negative is a minimum.
	Arity int
	Flags Flags
	// FirstKey, LastKey and Step locate keys the way COMMAND's legacy
	// fields do (LastKey -1 is the last argument, -2 the one before).
	FirstKey, LastKey, Step int
	// Keys, when set, finds keys for commands whose positions depend on
	// their arguments (EVAL's numkeys, XREAD's STREAMS, ...).
	Keys func(args [][]byte, dst []int) []int
	// Subcommands by upper-case name, for container commands.
	Subcommands map[string]*Spec
}

// Has reports whether every flag in f is set.
func (s *Spec) Has(f Flags) bool { return s.Flags&f == f }

// Command is one parsed client command.
type Command struct {
	// Args as received; Args[0] is the name in the client's case.
	Args [][]byte
	// Spec is the table row, nil for commands Redis does not know.
	Spec *Spec
}

// Name is the canonical name ("GET", "CONFIG|SET"), or "UNKNOWN".
func (c *Command) Name() string {
	if c.Spec == nil {
		return "UNKNOWN"
	}
	return c.Spec.Name
}
