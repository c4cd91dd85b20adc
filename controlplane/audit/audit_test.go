package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/grpc"

	"keyway.dev/controlplane/auth"
	"keyway.dev/controlplane/etcdtest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestListNewestFirst(t *testing.T) {
	e := etcdtest.Start(t)
	l := New(e.Client(), "")
	at := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	l.now = func() time.Time { at = at.Add(time.Second); return at }
	ctx := context.Background()
	for i := range 5 {
		if err := l.Record(ctx, Event{Who: "alice", Action: FlagSet, Target: fmt.Sprintf("a/f%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		limit int
		want  []string
	}{
		{2, []string{"a/f4", "a/f3"}},
		{0, []string{"a/f4", "a/f3", "a/f2", "a/f1", "a/f0"}},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint("limit ", c.limit), func(t *testing.T) {
			evs, err := l.List(ctx, c.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range evs {
				got = append(got, ev.GetTarget())
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

type memory struct{ evs []Event }

func (m *memory) Record(_ context.Context, e Event) error { m.evs = append(m.evs, e); return nil }

func TestInterceptorRecordsSuccessfulChanges(t *testing.T) {
	cases := []struct {
		name   string
		method string
		req    any
		resp   any
		err    error
		want   string
	}{
		{"push", keywayv1.PolicyService_Push_FullMethodName,
			&keywayv1.PushRequest{Author: "alice", Message: "split reads"},
			&keywayv1.PushResponse{Version: &keywayv1.PolicyVersionInfo{Version: 4, Parent: 3}}, nil,
			"alice policy.push v4: pushed and activated v4 on v3: split reads"},
		{"push without its tests", keywayv1.PolicyService_Push_FullMethodName,
			&keywayv1.PushRequest{Author: "alice", Message: "hotfix", SkipTests: true, NoActivate: true},
			&keywayv1.PushResponse{Version: &keywayv1.PolicyVersionInfo{Version: 5, Parent: 4}}, nil,
			"alice policy.push v5: pushed v5 on v4: hotfix [policy tests skipped]"},
		{"activate", keywayv1.PolicyService_Activate_FullMethodName,
			&keywayv1.ActivateRequest{Version: 2, Author: "bob", Reason: "bad v4"},
			&keywayv1.ActivateResponse{Previous: 4}, nil,
			"bob policy.activate v2: activated v2 (was v4): bad v4"},
		{"failed push", keywayv1.PolicyService_Push_FullMethodName,
			&keywayv1.PushRequest{Author: "alice"}, nil, fmt.Errorf("conflict"), ""},
		{"read", keywayv1.PolicyService_ListVersions_FullMethodName,
			&keywayv1.ListVersionsRequest{}, &keywayv1.ListVersionsResponse{}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &memory{}
			_, err := Interceptor(m, nil)(context.Background(), c.req, &grpc.UnaryServerInfo{FullMethod: c.method},
				func(context.Context, any) (any, error) { return c.resp, c.err })
			if err != c.err {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			got := ""
			for _, e := range m.evs {
				got += fmt.Sprintf("%s %s %s: %s", e.Who, e.Action, e.Target, e.Detail)
			}
			if got != c.want {
				t.Errorf("recorded %q, want %q", got, c.want)
			}
		})
	}
}

func TestRecordPrefersTheAuthenticatedIdentity(t *testing.T) {
	l := New(etcdtest.Start(t).Client(), "")
	ctx := context.Background()
	authed := auth.WithIdentity(ctx, "token:ops", auth.Operator)
	for _, ev := range []struct {
		ctx  context.Context
		who  string
		want string
	}{
		{ctx, "alice", "alice"},
		{ctx, "", "unknown"},
		{authed, "alice", "token:ops (as alice)"},
		{authed, "", "token:ops"},
		{authed, "token:ops", "token:ops"},
	} {
		if err := l.Record(ev.ctx, Event{Who: ev.who, Action: FlagSet, Target: ev.want}); err != nil {
			t.Fatal(err)
		}
	}
	evs, err := l.List(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.GetWho() != e.GetTarget() {
			t.Errorf("who = %q, want %q", e.GetWho(), e.GetTarget())
		}
	}
	if len(evs) != 5 {
		t.Fatalf("%d events, want 5", len(evs))
	}
}
