package render

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// stateKey is the thread-local key of the render's state.
const stateKey = "keyway.render"

// fileOptions is the dialect policies are written in: no while loops and
// no recursion (so every policy terminates without leaning on the step
// limit), but top-level for/if, which make tables of domains readable.
var fileOptions = &syntax.FileOptions{Set: true, TopLevelControl: true}

// state collects what a policy declares while it runs. Declarations are
// appended in call order, which is deterministic because Starlark is.
type state struct {
	bundle *keywayv1.Bundle
	policy *keywayv1.Policy
	errs   Errors
	seq    uint32

	upstreams map[string]string // name -> declaration position
	domains   map[string]string
	listeners map[string]string
	tests     map[string]string
	identity  string // position of identity(), empty if none yet

	domainRefs   []ref // names that must be declared domains
	upstreamRefs []ref // names that must be declared upstreams (besides tree leaves)

	modules map[string]*module
}

// ref is a name used at a position, checked once everything is declared.
type ref struct {
	name string
	pos  string
	what string // e.g. "identity: default_domain"
}

// module is one loaded file: its globals once run, or the error it failed
// with.
type module struct {
	globals starlark.StringDict
	err     error
	loading bool
}

func newState(b *keywayv1.Bundle) *state {
	return &state{
		bundle:    b,
		policy:    &keywayv1.Policy{},
		upstreams: map[string]string{},
		domains:   map[string]string{},
		listeners: map[string]string{},
		tests:     map[string]string{},
		modules:   map[string]*module{},
	}
}

// stateOf returns the render a thread belongs to; every builtin call runs
// on a thread Render made.
func stateOf(thread *starlark.Thread) *state {
	return thread.Local(stateKey).(*state)
}

// cancelled is the prefix Starlark puts on cancellation errors; ours carry
// their own wording.
const cancelled = "Starlark computation cancelled: "

// exec runs the entry file under the sandbox limits. It fails only when
// execution stopped; problems recorded by builtins wait for finish, so the
// author sees them together with those only the whole policy reveals.
func (s *state) exec(ctx context.Context, opts Options) error {
	thread := &starlark.Thread{
		Name:  "render",
		Print: func(*starlark.Thread, string) {},
		Load:  s.load,
		OnMaxSteps: func(t *starlark.Thread) {
			t.Cancel(fmt.Sprintf("render stopped after %d steps, the step limit (is there a runaway loop?)", opts.MaxSteps))
		},
	}
	thread.SetLocal(stateKey, s)
	thread.SetMaxExecutionSteps(opts.MaxSteps)

	tctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	stop := context.AfterFunc(tctx, func() {
		if ctx.Err() != nil {
			thread.Cancel(fmt.Sprintf("render cancelled: %v", ctx.Err()))
			return
		}
		thread.Cancel(fmt.Sprintf("render took longer than %s, the time limit", opts.Timeout))
	})
	defer stop()

	if _, err := s.run(thread, s.bundle.GetEntry()); err != nil {
		for _, e := range convert(err) {
			e.Msg = strings.TrimPrefix(e.Msg, cancelled)
			s.errs = append(s.errs, e)
		}
		sortErrors(s.errs)
		return s.errs
	}
	return nil
}

// run executes one file of the bundle once; later loads share its
// globals, and a load cycle is an error rather than a hang.
func (s *state) run(thread *starlark.Thread, name string) (starlark.StringDict, error) {
	if m, ok := s.modules[name]; ok {
		if m.loading {
			return nil, fmt.Errorf("load cycle: %s loads itself, directly or through other files", name)
		}
		return m.globals, m.err
	}
	m := &module{loading: true}
	s.modules[name] = m
	m.globals, m.err = starlark.ExecFileOptions(fileOptions, thread, name, s.bundle.GetFiles()[name], builtins)
	m.loading = false
	return m.globals, m.err
}

// load serves load() from the bundle only. Failures inside the loaded
// file come back as Errors, so their own positions survive the
// interpreter's "cannot load" wrapping.
func (s *state) load(thread *starlark.Thread, name string) (starlark.StringDict, error) {
	if _, ok := s.bundle.GetFiles()[name]; !ok || !validPath(name) {
		return nil, errors.New(`not a file of this bundle (load takes paths relative to the bundle root, like "lib/common.star")`)
	}
	g, err := s.run(thread, name)
	if err != nil {
		var ee *starlark.EvalError
		var se syntax.Error
		var rl resolve.ErrorList
		if errors.As(err, &ee) || errors.As(err, &se) || errors.As(err, &rl) {
			return nil, convert(err)
		}
		return nil, err
	}
	return g, nil
}
