package resp

// maxNameLen bounds the names Lookup upper-cases on the stack; the
// longest Redis command or subcommand name is 21 bytes.
const maxNameLen = 32

// Lookup returns the top-level command named name in any case, or nil:
// Redis's commands, then the proxy's own (KEYWAY.LOCK, ...). It does not
// allocate.
func Lookup(name []byte) *Spec {
	if s := lookupIn(commands, name); s != nil {
		return s
	}
	return lookupIn(proxyCommands, name)
}

// Resolve returns the spec for args: the subcommand's for container
// commands (CONFIG GET -> CONFIG|GET), the container's own when the
// subcommand is missing or unknown (so the caller can give Redis's error),
// and nil for unknown commands or empty args. It does not allocate.
func Resolve(args [][]byte) *Spec {
	if len(args) == 0 {
		return nil
	}
	s := Lookup(args[0])
	if s == nil || s.Subcommands == nil || len(args) < 2 {
		return s
	}
	if sub := lookupIn(s.Subcommands, args[1]); sub != nil {
		return sub
	}
	return s
}

func lookupIn(m map[string]*Spec, name []byte) *Spec {
	if len(name) > maxNameLen {
		return nil
	}
	var buf [maxNameLen]byte
	for i, c := range name {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[i] = c
	}
	// The compiler turns a map index by string(bytes) into a lookup
	// without a copy.
	return m[string(buf[:len(name)])]
}
