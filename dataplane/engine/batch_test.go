package engine

import (
	"errors"
	"testing"
)

func TestUnanswered(t *testing.T) {
	mk := func() Batch {
		b := make(Batch, 4)
		for i := range b {
			b[i] = &Request{}
		}
		return b
	}
	b := mk()
	if got := b.Unanswered(0); &got[0] != &b[0] || len(got) != 4 {
		t.Errorf("none answered: got %d requests, want b itself", len(got))
	}
	for _, r := range b {
		r.Fail(KindRefused, errors.New("no"))
	}
	if got := b.Unanswered(4); got != nil {
		t.Errorf("all answered: got %d requests, want nil", len(got))
	}
	b = mk()
	b[0].Fail(KindRefused, errors.New("no"))
	b[2].Fail(KindRefused, errors.New("no"))
	got := b.Unanswered(2)
	if len(got) != 2 || got[0] != b[1] || got[1] != b[3] {
		t.Errorf("two of four answered: got %v, want b[1], b[3] in order", got)
	}
	if &got[0] == &b[0] {
		t.Error("the rest shares b's array: b's order would be changed")
	}
}
