package resp

// Keys appends to dst the indexes in c.Args of the command's keys, in the
// order Redis's COMMAND GETKEYS lists them, and returns the extended
// slice. The shard channels of SSUBSCRIBE, SUNSUBSCRIBE and SPUBLISH are
// included: GETKEYS leaves them out, but Redis Cluster routes them by
// slot like keys. Unknown commands and malformed movable-key arguments (a numkeys
// that is not a number or exceeds the arguments) have no keys: Redis will
// refuse them, so there is nothing to route by.
func (c *Command) Keys(dst []int) []int {
	s := c.Spec
	if s == nil {
		return dst
	}
	if s.Keys != nil {
		return s.Keys(c.Args, dst)
	}
	return legacyKeys(s, len(c.Args), dst)
}

// legacyKeys walks COMMAND's first/last/step, as Redis does for commands
// whose keys sit at fixed positions.
func legacyKeys(s *Spec, argc int, dst []int) []int {
	if s.FirstKey <= 0 || s.Step <= 0 {
		return dst
	}
	last := s.LastKey
	if last < 0 {
		last += argc
	}
	if last >= argc {
		last = argc - 1
	}
	for i := s.FirstKey; i <= last; i += s.Step {
		dst = append(dst, i)
	}
	return dst
}
