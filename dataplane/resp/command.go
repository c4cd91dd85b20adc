package resp

// Spec is one row of the command table.
type Spec struct {
	// Name is the canonical upper-case name; subcommands are "CONFIG|SET".
	Name string
	// Arity as Redis reports it: positive is exact, negative is a minimum.
	// Subcommand arities count the container name too.
	Arity int
	Flags Flags
	// FirstKey, LastKey and Step locate keys the way COMMAND's legacy
	// fields do (LastKey -1 is the last argument, -2 the one before).
	FirstKey, LastKey, Step int
	// Keys, when set, finds keys for commands whose positions depend on
	// their arguments (EVAL's numkeys, XREAD's STREAMS, ...). It replaces
	// the legacy fields and appends to dst the indexes into args.
	Keys func(args [][]byte, dst []int) []int
	// Subcommands by upper-case name, for container commands.
	Subcommands map[string]*Spec
	// proxy is the command's row of proxyClasses, copied here at init.
	proxy ProxyClass
	// access is the command's row of keyAccess, copied here at init.
	access KeyAccess
}

// Has reports whether every flag in f is set.
func (s *Spec) Has(f Flags) bool { return s.Flags&f == f }

// Container reports whether s is a container (CONFIG, CLIENT, ...): a
// Command resolves to its container only when the subcommand is missing
// or unknown, which Redis refuses.
func (s *Spec) Container() bool { return len(s.Subcommands) > 0 }

// Command is one parsed client command.
type Command struct {
	// Args as received; Args[0] is the name in the client's case.
	Args [][]byte
	// Spec is the table row, nil for commands Redis does not know.
	Spec *Spec
}

// Parse sets c to args and resolves its Spec; args is kept, not copied.
func (c *Command) Parse(args [][]byte) {
	c.Args = args
	c.Spec = Resolve(args)
}

// Name is the canonical name ("GET", "CONFIG|SET"), or "UNKNOWN".
func (c *Command) Name() string {
	if c.Spec == nil {
		return "UNKNOWN"
	}
	return c.Spec.Name
}
