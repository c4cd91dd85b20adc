package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"keyway.dev/controlplane/etcdtest"
	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func policy(domain string) *keywayv1.Policy {
	return &keywayv1.Policy{Domains: []*keywayv1.DomainPolicy{{Name: domain}}}
}

func bundle(src string) *keywayv1.Bundle {
	return &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(store.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func push(t *testing.T, s *store.Store, parent uint64, domain string) *keywayv1.PolicyVersion {
	t.Helper()
	rec, err := s.Push(context.Background(), store.Push{Bundle: bundle(domain), Rendered: policy(domain), Author: "ann", Message: domain, Parent: parent})
	if err != nil {
		t.Fatalf("push on v%d: %v", parent, err)
	}
	return rec
}

func TestPushSequence(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	tests := []struct {
		name       string
		push       store.Push
		wantErr    string
		wantVer    uint64
		wantActive uint64
	}{
		{name: "first", push: store.Push{Parent: 0}, wantVer: 1, wantActive: 1},
		{name: "second", push: store.Push{Parent: 1}, wantVer: 2, wantActive: 2},
		{name: "stale parent", push: store.Push{Parent: 1}, wantErr: "conflict: the head is v2, the push was based on v1; pull, re-check and push again", wantActive: 2},
		{name: "no activate", push: store.Push{Parent: 2, NoActivate: true}, wantVer: 3, wantActive: 2},
		{name: "empty-fleet parent on a non-empty fleet", push: store.Push{Parent: 0}, wantErr: "conflict: the head is v3, the push was based on an empty fleet", wantActive: 2},
		{name: "force ignores parent", push: store.Push{Parent: 1, Force: true}, wantVer: 4, wantActive: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.push
			p.Bundle, p.Rendered, p.Author, p.Message = bundle(tt.name), policy(tt.name), "ann", tt.name
			rec, err := s.Push(ctx, p)
			if tt.wantErr != "" {
				var ce *store.ConflictError
				if !errors.As(err, &ce) {
					t.Fatalf("err = %v, want a conflict", err)
				}
				if got := err.Error(); len(got) < len(tt.wantErr) || got[:len(tt.wantErr)] != tt.wantErr {
					t.Fatalf("err = %q, want prefix %q", got, tt.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("push: %v", err)
				}
				if rec.GetVersion() != tt.wantVer || rec.GetParent() != tt.wantVer-1 {
					t.Fatalf("pushed v%d (parent v%d), want v%d", rec.GetVersion(), rec.GetParent(), tt.wantVer)
				}
				if len(rec.GetDigest()) != 64 {
					t.Fatalf("digest %q is not hex sha256", rec.GetDigest())
				}
			}
			ptr, err := s.Pointers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if ptr.Active != tt.wantActive {
				t.Fatalf("active = v%d, want v%d", ptr.Active, tt.wantActive)
			}
		})
	}
}

func TestConcurrentPushesOnSameParent(t *testing.T) {
	s := openStore(t)
	push(t, s, 0, "base")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Push(context.Background(), store.Push{Bundle: bundle("x"), Rendered: policy("x"), Parent: 1})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		var ce *store.ConflictError
		switch {
		case err == nil:
			wins++
		case errors.As(err, &ce):
			if ce.Head != 2 || ce.Parent != 1 {
				t.Errorf("conflict names head v%d parent v%d, want v2 and v1", ce.Head, ce.Parent)
			}
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d pushes won, want exactly 1", wins)
	}
	vs, ptr, err := s.List(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || ptr.Head != 2 {
		t.Fatalf("stored %d versions, head v%d; want 2 and v2", len(vs), ptr.Head)
	}
}

func TestActivateGetList(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	for i := range uint64(3) {
		push(t, s, i, "d"+string(rune('a'+i)))
	}
	prev, err := s.Activate(ctx, 1)
	if err != nil || prev != 3 {
		t.Fatalf("activate v1: previous v%d, err %v; want v3", prev, err)
	}
	if _, err := s.Activate(ctx, 9); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("activate v9: err %v, want not found", err)
	}

	tests := []struct {
		name    string
		get     uint64
		want    uint64
		wantErr error
	}{
		{name: "active", get: 0, want: 1},
		{name: "explicit", get: 2, want: 2},
		{name: "unknown", get: 7, wantErr: store.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := s.Get(ctx, tt.get)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rec.GetVersion() != tt.want || rec.GetAuthor() != "ann" {
				t.Fatalf("got v%d by %q, want v%d by ann", rec.GetVersion(), rec.GetAuthor(), tt.want)
			}
			if !proto.Equal(rec.GetRendered(), policy(rec.GetMessage())) {
				t.Fatalf("rendered policy did not round-trip: %v", rec.GetRendered())
			}
		})
	}

	vs, ptr, err := s.List(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].GetVersion() != 3 || vs[1].GetVersion() != 2 {
		t.Fatalf("list(2) = %d versions starting v%d, want v3, v2", len(vs), vs[0].GetVersion())
	}
	if ptr != (store.Pointers{Head: 3, Active: 1}) {
		t.Fatalf("pointers = %+v, want head v3 active v1", ptr)
	}
}

func TestWatchActive(t *testing.T) {
	s := openStore(t)
	push(t, s, 0, "one")
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan uint64, 16)
	done := make(chan error, 1)
	go func() {
		done <- s.WatchActive(ctx, func(v *keywayv1.PolicyVersion) { got <- v.GetVersion() })
	}()
	defer func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("watch returned %v", err)
		}
	}()

	next := func() uint64 {
		select {
		case v := <-got:
			return v
		case <-time.After(10 * time.Second):
			t.Fatal("no activation seen")
			return 0
		}
	}
	if v := next(); v != 1 {
		t.Fatalf("initial active v%d, want v1", v)
	}
	push(t, s, 1, "two")
	if v := next(); v != 2 {
		t.Fatalf("after push: v%d, want v2", v)
	}
	if _, err := s.Activate(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if v := next(); v != 1 {
		t.Fatalf("after rollback: v%d, want v1", v)
	}
	// A push without activation must not reach the watcher.
	if _, err := s.Push(context.Background(), store.Push{Rendered: policy("three"), Parent: 2, NoActivate: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Activate(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	if v := next(); v != 3 {
		t.Fatalf("after activating v3: v%d, want v3", v)
	}
}

func TestExternalEtcdAndStatus(t *testing.T) {
	e := etcdtest.Start(t)
	a, err := store.Open(store.Config{Endpoints: e.Endpoints(), Fleet: "blue", StatusTTL: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := store.New(e.Client(), store.Config{Fleet: "green"})
	defer b.Close()
	ctx := context.Background()

	push(t, a, 0, "blue")
	if _, _, err := b.List(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if ptr, _ := b.Pointers(ctx); ptr.Head != 0 {
		t.Fatalf("fleet green sees head v%d of fleet blue", ptr.Head)
	}

	a.RecordStatus(&keywayv1.Node{Id: "proxy-a", Connected: true, Applied: map[string]string{"Domain": "v1-0123abcd"}})
	var got []*keywayv1.Node
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got, err = a.Statuses(ctx); err == nil && len(got) == 1 {
			break
		}
	}
	if len(got) != 1 || got[0].GetApplied()["Domain"] != "v1-0123abcd" {
		t.Fatalf("statuses = %v, want proxy-a at v1-0123abcd", got)
	}
	// Closing the writer revokes its lease: the record is gone.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	c := store.New(e.Client(), store.Config{Fleet: "blue"})
	defer c.Close()
	if got, err := c.Statuses(ctx); err != nil || len(got) != 0 {
		t.Fatalf("statuses after close = %v, %v; want none", got, err)
	}
}

func TestUnavailable(t *testing.T) {
	e, err := store.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	endpoints := e.Endpoints()
	s, err := store.Open(store.Config{Endpoints: endpoints, OpTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	push(t, s, 0, "one")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() error
	}{
		{"push", func() error {
			_, err := s.Push(context.Background(), store.Push{Rendered: policy("x"), Parent: 1})
			return err
		}},
		{"activate", func() error { _, err := s.Activate(context.Background(), 1); return err }},
		{"get", func() error { _, err := s.Get(context.Background(), 1); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("err = %v, want etcd unavailable", err)
			}
			if got := err.Error(); got[:len("etcd unavailable: ")] != "etcd unavailable: " {
				t.Fatalf("message %q does not start with 'etcd unavailable: '", got)
			}
		})
	}
}
