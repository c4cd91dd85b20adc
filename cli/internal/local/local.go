// Package local renders policies on the author's machine with the control
// plane's own renderer, so `keyway policy validate` and `push` report the
// same file:line:col errors the control plane would, before any network.
// The keyway binary renders in the control plane's sandbox too (a child
// process with the same memory, CPU and time limits), since a policy
// under review is untrusted code wherever it is rendered.
package local

import (
	"context"

	"keyway.dev/cli/internal/app"
	"keyway.dev/policy/render"
	"keyway.dev/policy/sandbox"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Renderer is app.Renderer backed by keyway.dev/policy/render.
type Renderer struct {
	// Options bound each render; the zero value uses render's defaults.
	// They apply in process only: a sandbox has its own.
	Options render.Options
	// Sandbox, when set, renders in a limited child process, as
	// keyway-control does; nil renders in this process.
	Sandbox *sandbox.Sandbox
}

var _ app.Renderer = Renderer{}

// LoadBundle reads a bundle from a .star file or a directory.
func (Renderer) LoadBundle(path string) (*keywayv1.Bundle, error) {
	return render.LoadBundle(path)
}

// Render renders and validates b.
func (r Renderer) Render(ctx context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
	if r.Sandbox != nil {
		return r.Sandbox.Render(ctx, b)
	}
	return render.Render(ctx, b, r.Options)
}
