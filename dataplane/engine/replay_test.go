package engine

import (
	"context"
	"errors"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// admitting refuses nothing and counts what it serves; as an Admitter it
// stands for guard and ratelimit.
type admitting struct {
	next   Engine
	served int
}

func (c *admitting) Serve(ctx context.Context, b Batch) { c.served += len(b); c.next.Serve(ctx, b) }
func (c *admitting) Admitted() Engine                   { return c.next }

// rewriting appends "!" to every reply, as transform or prefix rewrite
// replies on their way up.
type rewriting struct{ next Engine }

func (w rewriting) Serve(ctx context.Context, b Batch) {
	w.next.Serve(ctx, b)
	for _, r := range b {
		r.Reply(append(append([]byte(nil), r.Raw()...), '!'))
	}
}

// replayPin answers with a fixed result, as the frontend's pin answers a
// replayed request with Redis's result for it.
type replayPin struct{ result []byte }

func (p replayPin) Forward(_ context.Context, _ Upstream, b Batch) {
	for _, r := range b {
		r.Reply(p.result)
	}
}

// pinLeaf hands requests with a pin to it, as the upstream leaf does.
type pinLeaf struct{}

func (pinLeaf) Serve(ctx context.Context, b Batch) {
	for _, r := range b {
		if r.Pin == nil {
			r.Fail(KindProxy, errors.New("no pin"))
			continue
		}
		r.Pin.Forward(ctx, nil, Batch{r})
	}
}

// TestReplaySkipsAdmitters: a replayed request passes through an
// Admitter without being served by it, and through every other engine as
// usual, without either knowing about replays.
func TestReplaySkipsAdmitters(t *testing.T) {
	adm := &admitting{}
	reg := NewRegistry()
	Add(reg, "guard", func(b *Builder, m *keywayv1.Guard) (Engine, error) {
		next, err := b.Child("next", m.GetNext())
		adm.next = next
		return adm, err
	})
	Add(reg, "transform", func(b *Builder, m *keywayv1.Transform) (Engine, error) {
		next, err := b.Child("next", m.GetNext())
		return rewriting{next: next}, err
	})
	Add(reg, "upstream", func(*Builder, *keywayv1.Forward) (Engine, error) { return pinLeaf{}, nil })
	cfg := &keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: &keywayv1.Transform{
		Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Guard{Guard: &keywayv1.Guard{
			Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "u"}}},
		}}},
	}}}
	root, err := NewBuilder(reg, &fakeUpstreams{}, "d", nil, nil).Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	pin := replayPin{result: []byte("+QUEUED\r\n")}
	queued := &Request{Pin: pin}
	Do(context.Background(), root, queued)
	if adm.served != 1 {
		t.Fatalf("admitter served %d requests, want 1", adm.served)
	}
	replayed := &Request{Pin: replayPin{result: []byte(":1\r\n")}}
	Replay(context.Background(), root, replayed)
	if got := string(replayed.Raw()); got != ":1\r\n!" {
		t.Fatalf("replayed reply %q, want the result rewritten", got)
	}
	if adm.served != 1 {
		t.Fatalf("admitter served %d requests after the replay, want still 1", adm.served)
	}
	// A request reused after a replay is an ordinary one again.
	replayed.Reset()
	replayed.Pin = pin
	Do(context.Background(), root, replayed)
	if adm.served != 2 {
		t.Fatalf("admitter served %d requests, want 2", adm.served)
	}
}
