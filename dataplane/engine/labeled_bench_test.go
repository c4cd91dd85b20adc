package engine

import (
	"context"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// BenchmarkLabeledChain serves one request through three built engines
// that only pass it on, so the cost measured is the Labeled wrappers'
// (one interface call and one nil check each).
func BenchmarkLabeledChain(b *testing.B) {
	reg := NewRegistry()
	Add(reg, "guard", func(bd *Builder, m *keywayv1.Guard) (Engine, error) {
		next, err := bd.Child("next", m.GetNext())
		return Func(func(ctx context.Context, b Batch) { next.Serve(ctx, b) }), err
	})
	Add(reg, "upstream", func(*Builder, *keywayv1.Forward) (Engine, error) { return okEngine{}, nil })
	leaf := &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "u"}}}
	cfg := &keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{
		Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{Next: leaf}}},
	}}}
	root, err := NewBuilder(reg, &fakeUpstreams{}, "d", nil, nil).Build(cfg)
	if err != nil {
		b.Fatal(err)
	}
	r := &Request{}
	batch := Batch{r}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r.Reset()
		root.Serve(ctx, batch)
	}
}
