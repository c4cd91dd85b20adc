package flags

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/audit"
	"keyway.dev/controlplane/etcdtest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

type recorder struct {
	mu  sync.Mutex
	evs []string
}

func (r *recorder) Record(_ context.Context, e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, fmt.Sprintf("%s %s %s: %s", e.Who, e.Action, e.Target, e.Detail))
	return nil
}

func TestService(t *testing.T) {
	e := etcdtest.Start(t)
	rec := &recorder{}
	svc := NewService(NewStore(e.Client(), ""), rec, func(context.Context) ([]string, error) { return []string{"a", "b"}, nil })
	ctx := context.Background()

	set := func(domain, flag string, p uint32) (*keywayv1.SetFlagResponse, error) {
		return svc.SetFlag(ctx, &keywayv1.SetFlagRequest{Domain: domain, Flag: flag, Percent: p, Author: "alice"})
	}
	refusals := []struct {
		name         string
		domain, flag string
		percent      uint32
		code         codes.Code
	}{
		{"unknown domain", "zz", "x", 10, codes.NotFound},
		{"over 100", "a", "x", 101, codes.InvalidArgument},
		{"slash in name", "a", "x/y", 10, codes.InvalidArgument},
		{"no name", "a", "", 10, codes.InvalidArgument},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			if _, err := set(c.domain, c.flag, c.percent); status.Code(err) != c.code {
				t.Fatalf("error %v, want %s", err, c.code)
			}
		})
	}

	if r, err := set("a", "new-cache", 30); err != nil || r.Previous != nil {
		t.Fatalf("set: %v previous %v", err, r.GetPrevious())
	}
	if r, err := set("a", "new-cache", 100); err != nil || r.GetPrevious() != 30 {
		t.Fatalf("change: %v previous %v", err, r.GetPrevious())
	}
	if _, err := set("b", "other", 0); err != nil {
		t.Fatal(err)
	}
	list, err := svc.ListFlags(ctx, &keywayv1.ListFlagsRequest{Domain: "a"})
	if err != nil || len(list.GetFlags()) != 1 || list.GetFlags()[0].GetFlag().GetName() != "a/new-cache" || list.GetFlags()[0].GetAuthor() != "alice" {
		t.Fatalf("list a: %v %v", list, err)
	}
	if _, err := svc.DeleteFlag(ctx, &keywayv1.DeleteFlagRequest{Domain: "a", Flag: "new-cache", Author: "bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeleteFlag(ctx, &keywayv1.DeleteFlagRequest{Domain: "a", Flag: "new-cache"}); status.Code(err) != codes.NotFound {
		t.Fatalf("second delete: %v", err)
	}
	want := []string{
		"alice flag.set a/new-cache: set to 30% (new flag)",
		"alice flag.set a/new-cache: set to on (was 30%)",
		"alice flag.set b/other: set to off (new flag)",
		"bob flag.delete a/new-cache: deleted (was on)",
	}
	if got := strings.Join(rec.evs, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestWatchSeesEveryChange(t *testing.T) {
	e := etcdtest.Start(t)
	st := NewStore(e.Client(), "")
	ctx, cancel := context.WithCancel(context.Background())
	var (
		mu   sync.Mutex
		last string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = st.Watch(ctx, func(fs []*keywayv1.Flag) {
			var parts []string
			for _, f := range fs {
				parts = append(parts, fmt.Sprintf("%s=%d", f.GetName(), f.GetPercent()))
			}
			mu.Lock()
			last = strings.Join(parts, ",")
			mu.Unlock()
		})
	}()
	defer func() { cancel(); <-done }()
	wait := func(want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			got := last
			mu.Unlock()
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("watched %q, want %q", got, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	steps := []struct {
		do   func() error
		want string
	}{
		{func() error { _, _, err := st.Set(ctx, "a", "f", 30, "x"); return err }, "a/f=30"},
		{func() error { _, _, err := st.Set(ctx, "b", "g", 100, "x"); return err }, "a/f=30,b/g=100"},
		{func() error { _, _, err := st.Set(ctx, "a", "f", 60, "x"); return err }, "a/f=60,b/g=100"},
		{func() error { _, err := st.Delete(ctx, "a", "f"); return err }, "b/g=100"},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		wait(s.want)
	}
}
