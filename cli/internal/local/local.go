// Package local renders policies on the author's machine with the control
// plane's own renderer, so `keyway policy validate` and `push` report the
// same file:line:col errors the control plane would, before any network.
package local

import (
	"context"

	"keyway.dev/cli/internal/app"
	"keyway.dev/policy/render"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Renderer is app.Renderer backed by keyway.dev/policy/render.
type Renderer struct {
	// Options bound each render; the zero value uses render's defaults.
	Options render.Options
}

var _ app.Renderer = Renderer{}

// LoadBundle reads a bundle from a .star file or a directory.
func (Renderer) LoadBundle(path string) (*keywayv1.Bundle, error) {
	return render.LoadBundle(path)
}

// Render renders and validates b.
func (r Renderer) Render(ctx context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
	return render.Render(ctx, b, r.Options)
}
