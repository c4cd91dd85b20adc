package resp

// Class is the coarse kind of a command, what the by_command engine
// routes on.
type Class uint8

// Command classes. ClassOf decides between overlapping ones.
const (
	ClassOther Class = iota
	ClassRead
	ClassWrite
	ClassAdmin
	ClassBlocking
	ClassPubSub
)

var classNames = [...]string{"other", "read", "write", "admin", "blocking", "pubsub"}

// String is the class name as policies spell it ("read", "pubsub", ...).
func (c Class) String() string {
	if int(c) < len(classNames) {
		return classNames[c]
	}
	return "unknown"
}

// ParseClass returns the class a policy names.
func ParseClass(name string) (Class, bool) {
	for i, n := range classNames {
		if n == name {
			return Class(i), true
		}
	}
	return ClassOther, false
}

// ClassOf classifies c. Pub/sub and blocking win over everything, since
// they need their own connection whatever else they do; then admin (the
// admin flag or Redis's @dangerous category, so KEYS, FLUSHALL and SORT
// land here); then write before read. Unknown commands are ClassOther.
func ClassOf(c *Command) Class {
	s := c.Spec
	switch {
	case s == nil:
		return ClassOther
	case s.Flags&FlagPubSub != 0:
		return ClassPubSub
	case IsBlocking(c):
		return ClassBlocking
	case s.Flags&(FlagAdmin|FlagDangerous) != 0:
		return ClassAdmin
	case s.Flags&FlagWrite != 0:
		return ClassWrite
	case s.Flags&FlagReadOnly != 0:
		return ClassRead
	}
	return ClassOther
}
