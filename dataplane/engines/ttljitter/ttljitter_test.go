package ttljitter

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestRewrite(t *testing.T) {
	tests := []struct {
		line string
		// sent is what reaches the child with the largest jitter drawn.
		sent string
	}{
		{"SET k v EX 100", "SET k v PX 110000"},
		{"SET k v px 1000", "SET k v px 1100"},
		{"SET k v NX GET EX 10", "SET k v NX GET PX 11000"},
		{"SET k v EXAT 100 PX 50", "SET k v EXAT 100 PX 55"}, // Redis refuses it; we keep EXAT as is
		{"SET k v", "SET k v"},
		{"SET k v KEEPTTL", "SET k v KEEPTTL"},
		{"SET k v PXAT 99999999", "SET k v PXAT 99999999"},
		{"SETEX k 60 v", "PSETEX k 66000 v"},
		{"PSETEX k 60 v", "PSETEX k 66 v"},
		{"EXPIRE k 30 NX", "PEXPIRE k 33000 NX"},
		{"PEXPIRE k 5000", "PEXPIRE k 5500"},
		{"GETEX k EX 1", "GETEX k PX 1100"},
		{"GETEX k PERSIST", "GETEX k PERSIST"},
		{"EXPIREAT k 1700000000", "EXPIREAT k 1700000000"},
		{"PEXPIRE k 5", "PEXPIRE k 5"}, // 10% of 5ms rounds down to 0
		{"EXPIRE k -1", "EXPIRE k -1"},
		{"EXPIRE k ten", "EXPIRE k ten"},
		{"GET k", "GET k"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			rec := enginetest.NewRecorder("child", "")
			j := &TTLJitter{share: 0.1, next: rec, rnd: func(n int64) int64 { return n - 1 }}
			r := enginetest.Line(tt.line)
			spec := r.Cmd.Spec
			engine.Do(context.Background(), j, r)
			if got := rec.Lines(); !reflect.DeepEqual(got, []string{tt.sent}) {
				t.Errorf("child saw %q, want %q", got, tt.sent)
			}
			if got := strings.Join(lineOf(r), " "); got != tt.line || r.Cmd.Spec != spec {
				t.Errorf("request not restored: %q spec %v", got, r.Cmd.Spec.Name)
			}
		})
	}
}

func lineOf(r *engine.Request) []string {
	out := make([]string, len(r.Cmd.Args))
	for i, a := range r.Cmd.Args {
		out[i] = string(a)
	}
	return out
}

// TestBounds draws real random jitter and checks every TTL is within
// [ttl, ttl + share*ttl], and that the draws are not all the same.
func TestBounds(t *testing.T) {
	rec := enginetest.NewRecorder("child", "")
	j := &TTLJitter{share: 0.25, next: rec, rnd: randN}
	lines := make([]string, 200)
	for i := range lines {
		lines[i] = "SET k v EX 60"
	}
	j.Serve(context.Background(), enginetest.Lines(lines...))
	seen := map[int64]bool{}
	for _, l := range rec.Lines() {
		f := strings.Fields(l)
		ms, err := strconv.ParseInt(f[4], 10, 64)
		if f[3] != "PX" || err != nil || ms < 60000 || ms > 75000 {
			t.Fatalf("child saw %q, want SET k v PX 60000..75000", l)
		}
		seen[ms] = true
	}
	if len(seen) < 2 {
		t.Errorf("200 draws gave %d distinct TTLs", len(seen))
	}
}

func TestBuildAndExplain(t *testing.T) {
	reg := engine.NewRegistry()
	engine.Add(reg, "ttl_jitter", Build)
	engine.Add(reg, "upstream", upstream.Build)
	ups := []*keywayv1.Upstream{{Name: "main", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}}
	cfg := func(share float64) *keywayv1.Engine {
		return &keywayv1.Engine{Kind: &keywayv1.Engine_TtlJitter{TtlJitter: &keywayv1.TTLJitter{Share: share,
			Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}}}}}
	}
	for _, bad := range []float64{0, -0.5, 1.5} {
		b := engine.NewBuilder(reg, enginetest.NewUpstreams(), "d", ups, nil)
		if _, err := b.Build(cfg(bad)); err == nil || !strings.Contains(err.Error(), "share must be in (0, 1]") {
			t.Errorf("share %v: %v", bad, err)
		}
		b.Release()()
	}
	b := engine.NewBuilder(reg, enginetest.NewUpstreams(), "d", ups, nil)
	root, err := b.Build(cfg(0.5))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()()
	for _, tt := range []struct{ line, note string }{
		{"SET k v EX 10", "TTL 10000ms becomes 10000..15000ms"},
		{"GET k", "sets no relative TTL"},
		{"PEXPIRE k 1", "too short to jitter"},
	} {
		x := engine.Explain(root, enginetest.Line(tt.line))
		if x.Upstream != "main" || !strings.Contains(x.String(), tt.note) {
			t.Errorf("%s: explain:\n%s", tt.line, x)
		}
	}
}
