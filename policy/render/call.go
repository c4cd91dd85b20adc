package render

import (
	"fmt"
	"math"
	"net"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/policy/kinds"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// call is one invocation of a builtin: where it was called from and the
// render it belongs to. Type errors abort the policy at once (returned as
// Go errors); semantic errors are recorded with the call's position so
// the author sees all of them in one run.
type call struct {
	st   *state
	name string
	pos  syntax.Position
}

// newCall captures the call site. Frame 1 is the caller of the builtin.
func newCall(thread *starlark.Thread, fn *starlark.Builtin) *call {
	return &call{st: stateOf(thread), name: fn.Name(), pos: thread.CallFrame(1).Pos}
}

// errorf records a semantic error at the call site, prefixed with the
// builtin's name.
func (c *call) errorf(format string, args ...any) {
	c.st.errs = append(c.st.errs, errorAt(c.pos, c.name+": "+format, args...))
}

// typeErr is a type error that aborts execution.
func (c *call) typeErr(arg string, want string, got starlark.Value) error {
	return fmt.Errorf("%s: %s: want %s, got %s", c.name, arg, want, got.Type())
}

// source is the call site as stored in Engine.source and friends.
func (c *call) source() string { return c.pos.String() }

// engine returns the new engine node of kind for this call.
func (c *call) engine(kind string, label string, e *keywayv1.Engine) starlark.Value {
	e.Source = c.source()
	e.Label = label
	c.st.seq++
	return &engineValue{kind: kind, msg: e, seq: c.st.seq}
}

// child converts an argument to a child engine: an engine, an upstream,
// or an upstream's name. None gives nil, and the caller decides whether
// that is allowed. Leaves made from upstreams carry this call's position,
// which is where the author wrote the reference.
func (c *call) child(arg string, v starlark.Value) (*keywayv1.Engine, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case *engineValue:
		return clone(v.msg), nil
	case *upstreamValue:
		return c.forward(v.msg.GetName()), nil
	case starlark.String:
		return c.forward(string(v)), nil
	}
	return nil, c.typeErr(arg, "an engine, an upstream or an upstream name", v)
}

// required is child for arguments that must be set.
func (c *call) required(arg string, v starlark.Value) (*keywayv1.Engine, error) {
	e, err := c.child(arg, v)
	if err == nil && e == nil {
		c.errorf("%s= is required", arg)
	}
	return e, err
}

// forward is the upstream leaf; names are resolved after execution, when
// every upstream is known.
func (c *call) forward(name string) *keywayv1.Engine {
	return &keywayv1.Engine{
		Source: c.source(),
		Kind:   &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: name}},
	}
}

// duration parses an optional duration argument; None gives def, which
// may be empty for "unset".
func (c *call) duration(arg string, v starlark.Value, def string) (*durationpb.Duration, error) {
	d, err := c.anyDuration(arg, v, def)
	if d != nil && d.AsDuration() <= 0 {
		c.errorf("%s: duration %q must be positive", arg, d.AsDuration())
		return nil, nil
	}
	return d, err
}

// anyDuration reads a duration argument like duration, of any sign, for
// a kind whose rule in keyway.dev/policy/kinds judges the value itself.
func (c *call) anyDuration(arg string, v starlark.Value, def string) (*durationpb.Duration, error) {
	s := def
	switch v := v.(type) {
	case starlark.NoneType:
	case starlark.String:
		s = string(v)
	default:
		return nil, c.typeErr(arg, `a duration string like "250ms"`, v)
	}
	if s == "" {
		return nil, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		c.errorf("%s: bad duration %q (want a number and a unit, like \"250ms\", \"5s\" or \"2m\")", arg, s)
		return nil, nil
	}
	return durationpb.New(d), nil
}

// number reads an int or float argument; None gives def.
func (c *call) number(arg string, v starlark.Value, def float64) (float64, error) {
	if v == starlark.None {
		return def, nil
	}
	f, ok := starlark.AsFloat(v)
	if !ok {
		return 0, c.typeErr(arg, "a number", v)
	}
	return f, nil
}

// count checks that an int argument fits a uint32 and is at least min.
func (c *call) count(arg string, n int, min int) uint32 {
	if n < min {
		c.errorf("%s must be at least %d, got %d", arg, min, n)
		return 0
	}
	if n > math.MaxUint32 {
		c.errorf("%s must be at most %d, got %d", arg, uint32(math.MaxUint32), n)
		return 0
	}
	return uint32(n)
}

// strs reads a list or tuple of strings; a lone string counts as a list
// of one, and None as empty.
func (c *call) strs(arg string, v starlark.Value) ([]string, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.String:
		return []string{string(v)}, nil
	case starlark.Indexable:
		if _, ok := v.(*starlark.List); !ok {
			if _, ok := v.(starlark.Tuple); !ok {
				break
			}
		}
		out := make([]string, 0, v.Len())
		for i := range v.Len() {
			s, ok := starlark.AsString(v.Index(i))
			if !ok {
				return nil, c.typeErr(fmt.Sprintf("%s[%d]", arg, i), "a string", v.Index(i))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, c.typeErr(arg, "a list of strings", v)
}

// commandNames reads command names, upper-cased as the proxy matches
// them ("config|set" becomes "CONFIG|SET").
func (c *call) commandNames(arg string, v starlark.Value) ([]string, error) {
	names, err := c.strs(arg, v)
	for i, n := range names {
		names[i] = strings.ToUpper(strings.TrimSpace(n))
		if names[i] == "" {
			c.errorf("%s: empty command name", arg)
		}
	}
	return names, err
}

// prefixes reads key prefixes; an empty prefix would match every key,
// which is never what the author meant.
func (c *call) prefixes(arg string, v starlark.Value) ([]string, error) {
	ps, err := c.strs(arg, v)
	if perr := kinds.Prefixes(arg, ps); perr != nil {
		c.errorf("%v", perr)
	}
	return ps, err
}

// address checks a host:port; whether the port is in range or the host
// resolves is the proxy's business.
func (c *call) address(arg string, a string) {
	if _, _, err := net.SplitHostPort(a); err != nil {
		c.errorf("%s: %q is not host:port", arg, a)
	}
}

// oneOf maps a string argument to an enum value, listing the valid
// choices when it is not one of them.
func oneOf[E ~int32](c *call, arg string, got string, choices []string, values []E) E {
	for i, ch := range choices {
		if got == ch {
			return values[i]
		}
	}
	c.errorf("%s: unknown value %q (valid: %s)", arg, got, quoteList(choices))
	return 0
}

// quoteList renders choices as "a", "b" or "c".
func quoteList(choices []string) string {
	q := make([]string, len(choices))
	for i, ch := range choices {
		q[i] = fmt.Sprintf("%q", ch)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
