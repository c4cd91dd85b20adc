package prefix

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/upstream"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func bulks(keys ...string) string {
	b := resp.AppendArray(nil, len(keys))
	for _, k := range keys {
		b = resp.AppendBulkString(b, k)
	}
	return string(b)
}

func TestServe(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		reply  string // what the child answers
		sent   string // what reached the child
		keys   []string
		client string // what the client gets
	}{
		{"get", "GET user:1", "$1\r\nv\r\n", "GET a:user:1", []string{"a:user:1"}, "$1\r\nv\r\n"},
		{"value is not a key", "SET k a:v", enginetest.OK, "SET a:k a:v", []string{"a:k"}, enginetest.OK},
		{"every key", "MSET k1 v1 k2 v2", enginetest.OK, "MSET a:k1 v1 a:k2 v2", []string{"a:k1", "a:k2"}, enginetest.OK},
		{"movable keys", "ZUNION 2 k1 k2 WITHSCORES", "*0\r\n", "ZUNION 2 a:k1 a:k2 WITHSCORES", []string{"a:k1", "a:k2"}, "*0\r\n"},
		{"keyless", "TIME", ":3\r\n", "TIME", nil, ":3\r\n"},
		{"keys pattern and reply", "KEYS user:*", bulks("a:user:1", "a:user:2"), "KEYS a:user:*", nil, bulks("user:1", "user:2")},
		{"keys empty", "KEYS *", "*0\r\n", "KEYS a:*", nil, "*0\r\n"},
		{"scan adds match", "SCAN 0", "*2\r\n$2\r\n17\r\n" + bulks("a:x", "a:yy"), "SCAN 0 MATCH a:*", nil, "*2\r\n$2\r\n17\r\n" + bulks("x", "yy")},
		{"scan prefixes match", "SCAN 5 count 10 match u*", "*2\r\n$1\r\n0\r\n*0\r\n", "SCAN 5 count 10 match a:u*", nil, "*2\r\n$1\r\n0\r\n*0\r\n"},
		{"scan with type", "SCAN 0 TYPE string", "*2\r\n$1\r\n0\r\n" + bulks("a:k"), "SCAN 0 TYPE string MATCH a:*", nil, "*2\r\n$1\r\n0\r\n" + bulks("k")},
		{"randomkey own", "RANDOMKEY", "$5\r\na:key\r\n", "RANDOMKEY", nil, "$3\r\nkey\r\n"},
		{"randomkey foreign is hidden", "RANDOMKEY", "$5\r\nb:key\r\n", "RANDOMKEY", nil, "$-1\r\n"},
		{"randomkey empty", "RANDOMKEY", "$-1\r\n", "RANDOMKEY", nil, "$-1\r\n"},
		{"blpop", "BLPOP l1 l2 0", bulks("a:l2", "v"), "BLPOP a:l1 a:l2 0", []string{"a:l1", "a:l2"}, bulks("l2", "v")},
		{"lmpop", "LMPOP 1 l LEFT", "*2\r\n$3\r\na:l\r\n" + bulks("v"), "LMPOP 1 a:l LEFT", []string{"a:l"}, "*2\r\n$1\r\nl\r\n" + bulks("v")},
		{"error replies untouched", "KEYS *", "-ERR boom\r\n", "KEYS a:*", nil, "-ERR boom\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := enginetest.NewRecorder("child", tt.reply)
			p := &Prefix{prefix: []byte("a:"), pattern: escapeGlob("a:"), next: rec}
			r := enginetest.Line(tt.line)
			before := strings.Join(lineOf(r), " ")
			engine.Do(context.Background(), p, r)
			calls := rec.Calls()
			if len(calls) != 1 || calls[0].Line != tt.sent || !reflect.DeepEqual(calls[0].Keys, tt.keys) {
				t.Fatalf("child saw %+v, want %q keys %q", calls, tt.sent, tt.keys)
			}
			if got := enginetest.Reply(r); got != tt.client {
				t.Errorf("client got %q, want %q", got, tt.client)
			}
			if after := strings.Join(lineOf(r), " "); after != before {
				t.Errorf("client's arguments changed: %q -> %q", before, after)
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

func TestPipelineKeepsClientBuffers(t *testing.T) {
	rec := enginetest.NewRecorder("child", "")
	p := &Prefix{prefix: []byte("tenant:"), pattern: escapeGlob("tenant:"), next: rec}
	b := enginetest.Lines("SET k v", "SCAN 0", "MGET x y", "GET k")
	// The client's argument bytes live in one buffer, as redcon's do.
	shared := []byte("kxy")
	b[0].Cmd.Args[1] = shared[0:1]
	b[2].Cmd.Args[1], b[2].Cmd.Args[2] = shared[1:2], shared[2:3]
	p.Serve(context.Background(), b)
	want := []string{"SET tenant:k v", "SCAN 0 MATCH tenant:*", "MGET tenant:x tenant:y", "GET tenant:k"}
	if got := rec.Lines(); !reflect.DeepEqual(got, want) {
		t.Errorf("child saw %q, want %q", got, want)
	}
	if string(shared) != "kxy" {
		t.Errorf("client buffer written: %q", shared)
	}
}

func TestGlobEscape(t *testing.T) {
	rec := enginetest.NewRecorder("child", "*0\r\n")
	p := &Prefix{prefix: []byte("t[1]*:"), pattern: escapeGlob("t[1]*:"), next: rec}
	engine.Do(context.Background(), p, enginetest.Line("KEYS *"))
	if got, want := rec.Lines(), []string{`KEYS t\[1\]\*:*`}; !reflect.DeepEqual(got, want) {
		t.Errorf("child saw %q, want %q", got, want)
	}
}

func TestBuildAndExplain(t *testing.T) {
	reg := engine.NewRegistry()
	engine.Add(reg, "prefix", Build)
	engine.Add(reg, "upstream", upstream.Build)
	ups := []*keywayv1.Upstream{{Name: "shared", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}}
	cfg := func(p string) *keywayv1.Engine {
		return &keywayv1.Engine{Kind: &keywayv1.Engine_Prefix{Prefix: &keywayv1.Prefix{Prefix: p,
			Next: &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "shared"}}}}}}
	}
	b := engine.NewBuilder(reg, enginetest.NewUpstreams(), "alpha", ups, nil)
	if _, err := b.Build(cfg("")); err == nil || !strings.Contains(err.Error(), "prefix is required") {
		t.Errorf("empty prefix: %v", err)
	}
	b.Release()()
	b = engine.NewBuilder(reg, enginetest.NewUpstreams(), "alpha", ups, nil)
	root, err := b.Build(cfg("alpha:"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Release()()
	x := engine.Explain(root, enginetest.Line("MGET u:1 u:2"))
	if x.Upstream != "shared" || !strings.Contains(x.String(), `sent as "MGET alpha:u:1 alpha:u:2"`) {
		t.Errorf("explain:\n%s", x)
	}
}
