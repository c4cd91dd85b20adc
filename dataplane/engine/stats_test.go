package engine

import (
	"context"
	"reflect"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// counting reports one counter named after it.
type counting struct {
	name string
	n    uint64
}

func (c *counting) Serve(context.Context, Batch) {}

func (c *counting) AppendStats(dst []Counter) []Counter {
	return append(dst, Counter{Name: c.name, Value: c.n})
}

// parent is a hand-assembled inner engine that exposes its children.
type parent struct{ kids []Engine }

func (p *parent) Serve(context.Context, Batch) {}
func (p *parent) Children() []Engine           { return p.kids }

func TestCollectStats(t *testing.T) {
	labeled := &Labeled{Engine: &counting{"deep", 3}, Kind: "guard", Label: "g", Source: "a.star:1:1"}
	stable := &parent{kids: []Engine{&counting{"top", 1}, &parent{kids: []Engine{labeled}}}}
	canary := &Labeled{Engine: &parent{}, Kind: "route", children: []*Labeled{
		{Engine: &counting{"c", 7}, Kind: "mirror"},
	}}
	tree := func(root Engine) *Tree { return NewTree("d", &keywayv1.DomainTree{}, root, nil) }
	tests := []struct {
		name  string
		state *State
		want  []EngineStat
	}{
		{name: "nil state", state: nil, want: nil},
		{
			name: "walker and labeled children, both tracks, domains sorted",
			state: NewState(map[string]*Domain{
				"b": {Name: "b", Stable: tree(stable), Canary: tree(canary)},
				"a": {Name: "a", Stable: tree(&counting{"only", 2})},
			}, nil, "v1"),
			want: []EngineStat{
				{Domain: "a", Track: "stable", Counter: Counter{Name: "only", Value: 2}},
				{Domain: "b", Track: "stable", Counter: Counter{Name: "top", Value: 1}},
				{Domain: "b", Track: "stable", Kind: "guard", Label: "g", Source: "a.star:1:1", Counter: Counter{Name: "deep", Value: 3}},
				{Domain: "b", Track: "canary", Kind: "mirror", Counter: Counter{Name: "c", Value: 7}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := CollectStats(tc.state)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("CollectStats =\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

func TestCollectCurrent(t *testing.T) {
	var c Current
	if got := CollectCurrent(&c); got != nil {
		t.Fatalf("before install: %v", got)
	}
	c.Install(NewState(map[string]*Domain{"d": {Name: "d", Stable: NewTree("d", &keywayv1.DomainTree{}, &counting{"n", 4}, nil)}}, nil, "v1"))
	defer c.Install(nil)
	got := CollectCurrent(&c)
	if len(got) != 1 || got[0].Value != 4 {
		t.Fatalf("CollectCurrent = %+v, want n=4", got)
	}
	if st := c.Load(); st.refs.Load() != 1 {
		t.Errorf("state holds %d references after the walk, want 1", st.refs.Load())
	}
}

// TestBuilderRecordsChildren checks that every Labeled the Builder makes
// knows the children built under it, which is what the walk relies on.
func TestBuilderRecordsChildren(t *testing.T) {
	r := NewRegistry()
	Add(r, "guard", func(b *Builder, m *keywayv1.Guard) (Engine, error) {
		next, err := b.Child("next", m.GetNext())
		if err != nil {
			return nil, err
		}
		return &parent{kids: []Engine{next}}, nil
	})
	Add(r, "upstream", func(*Builder, *keywayv1.Forward) (Engine, error) { return okEngine{}, nil })
	cfg := &keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{
		Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{
			Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "u"}}},
		}}},
	}}}
	root, err := NewBuilder(r, &fakeUpstreams{}, "d", nil, nil).Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for e := root; e != nil; {
		l := e.(*Labeled)
		kinds = append(kinds, l.Kind)
		kids := l.Children()
		if len(kids) > 1 {
			t.Fatalf("%s has %d children, want at most 1", l.Kind, len(kids))
		}
		e = nil
		if len(kids) == 1 {
			e = kids[0]
		}
	}
	if want := []string{"guard", "guard", "upstream"}; !reflect.DeepEqual(kinds, want) {
		t.Errorf("walked %v, want %v", kinds, want)
	}
}
