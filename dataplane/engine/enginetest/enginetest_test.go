package enginetest

import (
	"context"
	"errors"
	"reflect"
	"testing"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestRecorder(t *testing.T) {
	rec := NewRecorder("r", "")
	b := Lines("MGET a b", "set k v")
	rec.Serve(context.Background(), b)
	if got := Replies(b); !reflect.DeepEqual(got, []string{OK, OK}) {
		t.Errorf("replies = %q", got)
	}
	calls := rec.Calls()
	want := []Call{{Line: "MGET a b", Keys: []string{"a", "b"}, Domain: "test"}, {Line: "set k v", Keys: []string{"k"}, Domain: "test"}}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("calls = %+v, want %+v", calls, want)
	}
	if got := rec.Batches(); len(got) != 1 || len(got[0]) != 2 {
		t.Errorf("batches = %q, want one of two", got)
	}
	rec.Reset()
	if rec.Lines() != nil {
		t.Error("Reset kept calls")
	}
}

func TestUpstreams(t *testing.T) {
	p := NewUpstreams()
	cfg := &keywayv1.Upstream{Name: "main"}
	u1, rel1, err := p.Acquire(cfg)
	if err != nil {
		t.Fatal(err)
	}
	u2, rel2, _ := p.Acquire(cfg)
	if u1 != u2 || u1.Name() != "main" || p.Refs("main") != 2 {
		t.Fatalf("two acquires: same=%v name=%q refs=%d", u1 == u2, u1.Name(), p.Refs("main"))
	}
	rel1()
	rel1()
	rel2()
	if p.Refs("main") != 0 || p.Acquired("main") != 2 {
		t.Errorf("refs=%d acquired=%d, want 0 and 2", p.Refs("main"), p.Acquired("main"))
	}
	if got := p.DoubleReleases(); !reflect.DeepEqual(got, []string{"main"}) {
		t.Errorf("double releases = %q", got)
	}
	p.Fail("bad", errors.New("boom"))
	if _, _, err := p.Acquire(&keywayv1.Upstream{Name: "bad"}); err == nil {
		t.Error("Acquire of a failing upstream succeeded")
	}
}
