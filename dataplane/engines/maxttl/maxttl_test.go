package maxttl

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func registry() *engine.Registry {
	r := engine.NewRegistry()
	engine.Add(r, "max_ttl", Build)
	engine.Add(r, "upstream", upstream.Build)
	return r
}

var mainUpstream = []*keywayv1.Upstream{{Name: "main", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}}

func config(max *durationpb.Duration) *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_MaxTtl{MaxTtl: &keywayv1.MaxTTL{
		Max:  max,
		Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}},
	}}}
}

// build compiles a max_ttl of one hour over a recording upstream, its
// clock stopped at now.
func build(t *testing.T, now time.Time) (engine.Engine, *enginetest.Upstreams) {
	t.Helper()
	pools := enginetest.NewUpstreams()
	b := engine.NewBuilder(registry(), pools, "test", mainUpstream, nil)
	root, err := b.Build(config(durationpb.New(time.Hour)))
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(b.Release())
	root.(*engine.Labeled).Engine.(*MaxTTL).now = func() time.Time { return now }
	return root, pools
}

func TestServe(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	inHour, inTwo := now.Add(time.Hour).Unix(), now.Add(2*time.Hour).Unix()
	tests := []struct {
		line    string
		refused string // part of the refusal; empty when it passes
	}{
		{"GET k", ""},
		{"SET k v", ""},
		{"SET k v EX 3600", ""},
		{"SET k v EX 3601", "a TTL of 1h0m1s is above this domain's max_ttl of 1h0m0s"},
		{"set k v px 3600001", "a TTL of 1h0m0.001s"},
		{"SETEX k 7200 v", "a TTL of 2h0m0s"},
		{"PSETEX k 3600000 v", ""},
		{"EXPIRE k 86400", "a TTL of 24h0m0s"},
		{"PEXPIRE k 1000", ""},
		{"GETEX k EX 99999", "a TTL of 27h46m39s"},
		{"GETEX k PERSIST", ""},
		{"EXPIREAT k " + itoa(inHour), ""},
		{"EXPIREAT k " + itoa(inTwo), "an expiry 2h0m0s from now"},
		{"PEXPIREAT k " + itoa(inTwo*1000), "an expiry 2h0m0s from now"},
		{"SET k v EXAT " + itoa(inTwo), "an expiry 2h0m0s from now"},
		{"SET k v PXAT " + itoa(inHour*1000), ""},
		// Not a positive number: Redis refuses it with its own words.
		{"EXPIRE k soon", ""},
		{"SET k v EX -1", ""},
		// A TTL too long to be read as one is still over any cap.
		{"EXPIRE k 999999999999999", "is above this domain's max_ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			root, pools := build(t, now)
			b := enginetest.Lines(tt.line)
			root.Serve(context.Background(), b)
			got := enginetest.Reply(b[0])
			sent := pools.Get("main").Lines()
			if tt.refused == "" {
				if got != "+OK\r\n" || !slices.Equal(sent, []string{tt.line}) {
					t.Fatalf("reply %q, upstream saw %q; want it passed", got, sent)
				}
				return
			}
			if !strings.HasPrefix(got, "-ERR keyway: ") || !strings.Contains(got, tt.refused) || len(sent) != 0 {
				t.Fatalf("reply %q, upstream saw %q; want a refusal containing %q", got, sent, tt.refused)
			}
		})
	}
}

// A refusal in a pipeline leaves the other commands to next, in order.
func TestServePipeline(t *testing.T) {
	root, pools := build(t, time.Now())
	b := enginetest.Lines("SET a v EX 10", "SET b v EX 99999", "GET a")
	root.Serve(context.Background(), b)
	if got := pools.Get("main").Lines(); !slices.Equal(got, []string{"SET a v EX 10", "GET a"}) {
		t.Fatalf("upstream saw %q", got)
	}
	if r := enginetest.Reply(b[1]); !strings.HasPrefix(r, "-ERR keyway: a TTL of") {
		t.Fatalf("second reply %q", r)
	}
}

func TestExplain(t *testing.T) {
	root, _ := build(t, time.Now())
	for line, want := range map[string]string{
		"SET k v EX 10":    "within max_ttl",
		"SET k v EX 99999": "a TTL of 27h46m39s",
	} {
		x := engine.Explain(root, enginetest.Line(line))
		if s := x.String(); !strings.Contains(s, want) {
			t.Errorf("explain %q:\n%s\nwant %q", line, s, want)
		}
	}
}

func TestBuildRefuses(t *testing.T) {
	for _, tt := range []struct {
		max  *durationpb.Duration
		want string
	}{
		{nil, "max is required"},
		{durationpb.New(0), "at least 1ms"},
		{durationpb.New(time.Microsecond), "at least 1ms"},
	} {
		b := engine.NewBuilder(registry(), enginetest.NewUpstreams(), "test", mainUpstream, nil)
		_, err := b.Build(config(tt.max))
		b.Release()()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("max %v: Build error %v, want %q", tt.max, err, tt.want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
