package telemetry

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
)

func find(t *testing.T, snap []SeriesSnapshot, l Labels) SeriesSnapshot {
	t.Helper()
	for _, s := range snap {
		if s.Labels == l {
			return s
		}
	}
	t.Fatalf("no series %+v in %d series", l, len(snap))
	return SeriesSnapshot{}
}

func TestRecorderCountsConcurrently(t *testing.T) {
	r := New(Options{})
	const workers, each = 8, 5000
	type call struct {
		l    Labels
		kind engine.ErrorKind
	}
	calls := []call{
		{Labels{"payments", "stable", "GET", "cache"}, engine.KindNone},
		{Labels{"payments", "stable", "SET", "cache"}, engine.KindUpstream},
		{Labels{"search", "canary", "GET", "main"}, engine.KindTimeout},
		{Labels{"search", "canary", "GET", ""}, engine.KindRefused},
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				c := calls[(w+i)%len(calls)]
				r.Observe(c.l.Domain, c.l.Track, c.l.Command, c.l.Upstream, c.kind, 10, 20, time.Duration(i)*time.Microsecond)
			}
		})
	}
	wg.Wait()
	snap := r.Snapshot()
	if len(snap) != len(calls) {
		t.Fatalf("%d series, want %d", len(snap), len(calls))
	}
	per := uint64(workers * each / len(calls))
	for _, c := range calls {
		t.Run(fmt.Sprintf("%v", c.l), func(t *testing.T) {
			s := find(t, snap, c.l)
			if s.Requests() != per {
				t.Errorf("requests = %d, want %d", s.Requests(), per)
			}
			if s.RequestBytes != per*10 || s.ReplyBytes != per*20 {
				t.Errorf("bytes = %d/%d, want %d/%d", s.RequestBytes, s.ReplyBytes, per*10, per*20)
			}
			for k, n := range s.Errors {
				want := uint64(0)
				if Kinds[k] == c.kind {
					want = per
				}
				if n != want {
					t.Errorf("errors[%s] = %d, want %d", Kinds[k], n, want)
				}
			}
		})
	}
}

func TestRecorderFoldsCardinality(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		given []Labels
		want  []Labels // the series each given label lands in
	}{
		{
			name:  "unknown command",
			opts:  Options{KnownCommand: func(n string) bool { return n == "GET" }},
			given: []Labels{{"d", "stable", "GET", "u"}, {"d", "stable", "NOSUCH", "u"}},
			want:  []Labels{{"d", "stable", "GET", "u"}, {"d", "stable", UnknownCommand, "u"}},
		},
		{
			name:  "domain cap",
			opts:  Options{MaxDomains: 2},
			given: []Labels{{"a", "", "GET", ""}, {"b", "", "GET", ""}, {"c", "", "GET", ""}, {"a", "", "GET", ""}},
			want:  []Labels{{"a", "", "GET", ""}, {"b", "", "GET", ""}, {Other, "", "GET", ""}, {"a", "", "GET", ""}},
		},
		{
			name:  "upstream cap",
			opts:  Options{MaxUpstreams: 1},
			given: []Labels{{"d", "", "GET", "u1"}, {"d", "", "GET", "u2"}},
			want:  []Labels{{"d", "", "GET", "u1"}, {"d", "", "GET", Other}},
		},
		{
			name:  "command cap",
			opts:  Options{MaxCommands: 1},
			given: []Labels{{"d", "", "GET", ""}, {"d", "", "SET", ""}},
			want:  []Labels{{"d", "", "GET", ""}, {"d", "", UnknownCommand, ""}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(tt.opts)
			for i, l := range tt.given {
				// Twice: the second lookup takes the lock-free path.
				for range 2 {
					if got := r.Series(l.Domain, l.Track, l.Command, l.Upstream).Labels(); got != tt.want[i] {
						t.Fatalf("%+v landed in %+v, want %+v", l, got, tt.want[i])
					}
				}
			}
		})
	}
}

func TestRecorderConnections(t *testing.T) {
	r := New(Options{MaxDomains: 1})
	r.ConnOpened("a")
	r.ConnOpened("a")
	r.ConnOpened("b") // past the cap: counted under "other"
	r.ConnClosed("a")
	got := r.DomainConns()
	want := map[string]int64{"a": 1, Other: 1}
	if len(got) != len(want) || got["a"] != 1 || got[Other] != 1 {
		t.Fatalf("DomainConns = %v, want %v", got, want)
	}
}
