package engine

import (
	"fmt"
	"strings"
)

// Explainer is implemented by engines that can tell, without side effects,
// where a request would go. KEYWAY.EXPLAIN and `keyway policy test` walk
// the tree through it.
type Explainer interface {
	// Explain records this engine's decision for r in x and returns the
	// child r would be sent to, or nil when this engine answers r itself
	// (a leaf, or a refusal recorded with x.Refuse).
	Explain(r *Request, x *Explanation) Engine
}

// Step is one engine's decision.
type Step struct {
	Kind   string
	Label  string
	Source string
	Note   string
}

// Explanation is the path of a request through a tree.
type Explanation struct {
	Steps []Step
	// Upstream is the upstream the request reaches, if any.
	Upstream string
	// Refusal is the error a guard or reject would answer, if any.
	Refusal string
	cur     *Labeled
}

// Note records the current engine's decision.
func (x *Explanation) Note(format string, args ...any) {
	s := Step{Note: fmt.Sprintf(format, args...)}
	if x.cur != nil {
		s.Kind, s.Label, s.Source = x.cur.Kind, x.cur.Label, x.cur.Source
	}
	x.Steps = append(x.Steps, s)
}

// Refuse records that the current engine would refuse with msg.
func (x *Explanation) Refuse(msg string) {
	x.Refusal = msg
	x.Note("refuse: %s", msg)
}

// Reach records that the request reaches upstream name.
func (x *Explanation) Reach(name string) {
	x.Upstream = name
	x.Note("upstream %s", name)
}

// String renders the path one step a line.
func (x *Explanation) String() string {
	var sb strings.Builder
	for i, s := range x.Steps {
		fmt.Fprintf(&sb, "%d. %s", i+1, s.Kind)
		if s.Label != "" {
			fmt.Fprintf(&sb, " %q", s.Label)
		}
		if s.Source != "" {
			fmt.Fprintf(&sb, " (%s)", s.Source)
		}
		fmt.Fprintf(&sb, ": %s\n", s.Note)
	}
	return sb.String()
}

// Explain walks root for r. Engines that do not implement Explainer end the
// walk with a note saying so.
func Explain(root Engine, r *Request) *Explanation {
	x := &Explanation{}
	e := root
	for depth := 0; e != nil && depth < 64; depth++ {
		l, ok := e.(*Labeled)
		if ok {
			x.cur = l
			e = l.Engine
		}
		ex, ok := e.(Explainer)
		if !ok {
			x.Note("does not explain its decisions")
			return x
		}
		e = ex.Explain(r, x)
	}
	return x
}
