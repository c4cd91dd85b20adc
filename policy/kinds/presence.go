package kinds

import (
	"errors"
	"fmt"
)

// The rules that a kind's message says something at all; each is the
// one sentence render and the builder use.
var (
	ErrPrefixEmpty      = errors.New("prefix is required (an empty one would change nothing)")
	ErrFlagNameEmpty    = errors.New("flag name is required")
	ErrFailoverChildren = errors.New("children: give at least two engines to fail over between")
	ErrRejectNothing    = errors.New("give commands or key_prefixes (a reject with neither refuses nothing)")
	ErrTransformNothing = errors.New("give compression or keys (a transform with neither changes nothing)")
)

// Prefix checks a prefix engine's prefix.
func Prefix(prefix string) error {
	if prefix == "" {
		return ErrPrefixEmpty
	}
	return nil
}

// Flag checks a flag engine's flag name.
func Flag(name string) error {
	if name == "" {
		return ErrFlagNameEmpty
	}
	return nil
}

// Failover checks the number of a failover's children.
func Failover(children int) error {
	if children < 2 {
		return ErrFailoverChildren
	}
	return nil
}

// Reject checks that a reject refuses something.
func Reject(commands, keyPrefixes int) error {
	if commands == 0 && keyPrefixes == 0 {
		return ErrRejectNothing
	}
	return nil
}

// Transform checks that a transform changes something.
func Transform(compresses bool, keys int) error {
	if !compresses && keys == 0 {
		return ErrTransformNothing
	}
	return nil
}

// ErrRouteDefault and ErrByCommandDefault are a route or by_command
// without the child that takes what no rule matches.
var (
	ErrRouteDefault     = errors.New("default is required: commands without keys, and keys no prefix matches, go there")
	ErrByCommandDefault = errors.New("default is required: commands no class or name matches go there")
)

// Route checks a route: its default is set and no route has an empty
// prefix (that is what default is for).
func Route(hasDefault bool, prefixes []string) []error {
	var errs []error
	for i, p := range prefixes {
		if p == "" {
			errs = append(errs, fmt.Errorf("routes[%d]: empty prefix (use default for everything else)", i))
		}
	}
	if !hasDefault {
		errs = append(errs, ErrRouteDefault)
	}
	return errs
}

// ByCommand checks that a by_command has its default.
func ByCommand(hasDefault bool) error {
	if !hasDefault {
		return ErrByCommandDefault
	}
	return nil
}

// ErrCommandsLocks is a commands engine without the engine its lock keys
// are stored through.
var ErrCommandsLocks = errors.New("locks is required: the engine lock keys are stored through")

// Commands checks a commands engine: it has its locks child and a lock
// prefix. An empty prefix in a message is the unset field, so a builder
// passes the default in effect and only the renderer can see "" here.
func Commands(hasLocks bool, lockPrefix string) error {
	if !hasLocks {
		return ErrCommandsLocks
	}
	if lockPrefix == "" {
		return errors.New("lock_prefix: empty prefix (lock keys would mix with application keys)")
	}
	return nil
}

// RejectMessage checks the error a reject sends. As with Commands'
// prefix, an empty message in a snapshot is the unset field and means
// the default.
func RejectMessage(msg string) error {
	if msg == "" {
		return errors.New("message: empty (clients would see a bare error)")
	}
	return nil
}

// ListedTwice is the error for a name given twice in the list arg, once
// both sides put names in their canonical form.
func ListedTwice(arg, name string) error {
	return fmt.Errorf("%s: %s is listed twice", arg, name)
}
