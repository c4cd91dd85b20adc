package render

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// Error is one problem in a policy, located at the call or statement that
// caused it so an author can jump straight to it.
type Error struct {
	// Pos is "file:line:col" inside the bundle, or empty when the problem
	// is the bundle as a whole (for example its size).
	Pos string
	// Msg says what is wrong in plain words.
	Msg string
}

// Error returns "file:line:col: msg".
func (e *Error) Error() string {
	if e.Pos == "" {
		return e.Msg
	}
	return e.Pos + ": " + e.Msg
}

// Errors is every problem found in one render, in source order of
// discovery. Render returns it for any failure, so callers may range over
// it to show each problem; errors.As with *Error finds the first.
type Errors []*Error

// Error joins the problems one per line.
func (l Errors) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap exposes each problem to errors.Is and errors.As.
func (l Errors) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// errorAt builds an Error located at pos.
func errorAt(pos syntax.Position, format string, args ...any) *Error {
	return &Error{Pos: pos.String(), Msg: fmt.Sprintf(format, args...)}
}

// convert turns what the Starlark interpreter returned into Errors with
// positions: the interpreter's own errors carry their position in several
// shapes, and for runtime errors the useful one is the innermost frame of
// policy code, not the builtin that failed.
func convert(err error) Errors {
	var list Errors
	if errors.As(err, &list) {
		return list
	}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		return Errors{{Pos: policyFrame(ee.CallStack), Msg: ee.Msg}}
	}
	var se syntax.Error
	if errors.As(err, &se) {
		return Errors{{Pos: se.Pos.String(), Msg: se.Msg}}
	}
	var rl resolve.ErrorList
	if errors.As(err, &rl) {
		out := make(Errors, 0, len(rl))
		for _, re := range rl {
			out = append(out, &Error{Pos: re.Pos.String(), Msg: re.Msg})
		}
		return out
	}
	return Errors{{Msg: err.Error()}}
}

// policyFrame returns the position of the innermost frame that is policy
// code rather than a builtin.
func policyFrame(stack starlark.CallStack) string {
	for i := range stack {
		fr := stack.At(i)
		if fr.Pos.Filename() != "<builtin>" {
			return fr.Pos.String()
		}
	}
	return ""
}

// sortErrors orders problems by file, line and column, so an author reads
// them top to bottom whichever check found them. Problems of the bundle as
// a whole come first.
func sortErrors(l Errors) {
	sort.SliceStable(l, func(i, j int) bool {
		fi, li, ci := splitPos(l[i].Pos)
		fj, lj, cj := splitPos(l[j].Pos)
		if fi != fj {
			return fi < fj
		}
		if li != lj {
			return li < lj
		}
		return ci < cj
	})
}

// splitPos parses "file:line:col"; an unparsable position sorts as line 0.
func splitPos(pos string) (file string, line, col int) {
	rest, c, ok := cutLast(pos)
	if !ok {
		return pos, 0, 0
	}
	file, l, ok := cutLast(rest)
	if !ok {
		return pos, 0, 0
	}
	line, _ = strconv.Atoi(l)
	col, _ = strconv.Atoi(c)
	return file, line, col
}

func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}
