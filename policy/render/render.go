// Package render turns a policy bundle, Starlark files written by a policy
// author, into the keywayv1.Policy the control plane stores and
// distributes. Rendering is sandboxed (only Keyway's builtins, bounded
// steps, time and source size, load() only from the bundle), deterministic
// (the same bundle always renders to byte-identical deterministic
// marshals), and validating: every problem comes back as an Error with the
// file:line:col of the call that caused it.
package render

import (
	"context"
	"time"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Defaults used when the matching Options field is zero.
const (
	DefaultMaxSteps       = 1_000_000
	DefaultTimeout        = 2 * time.Second
	DefaultMaxSourceBytes = 1 << 20
)

// Options bound one render. The zero value means the defaults above.
type Options struct {
	// MaxSteps caps Starlark execution steps across every file.
	MaxSteps uint64
	// Timeout caps wall-clock time; it guards against steps that are
	// individually expensive, which the step limit does not see.
	Timeout time.Duration
	// MaxSourceBytes caps the total size of the bundle's files.
	MaxSourceBytes int
}

// withDefaults fills zero fields.
func (o Options) withDefaults() Options {
	if o.MaxSteps == 0 {
		o.MaxSteps = DefaultMaxSteps
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxSourceBytes <= 0 {
		o.MaxSourceBytes = DefaultMaxSourceBytes
	}
	return o
}

// Render executes b's entry file and returns the policy it declares. On
// failure the error is Errors, each with a position and a plain message.
// Render is safe for concurrent use; each call has its own interpreter.
func Render(ctx context.Context, b *keywayv1.Bundle, opts Options) (*keywayv1.Policy, error) {
	opts = opts.withDefaults()
	if err := checkBundle(b, opts.MaxSourceBytes); err != nil {
		return nil, err
	}
	st := newState(b)
	if err := st.exec(ctx, opts); err != nil {
		return nil, err
	}
	return st.finish()
}
