package dedicated

import (
	"context"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// upstreamStub is an upstream that can lend no connection.
type upstreamStub struct{ engine.Func }

func (upstreamStub) Name() string { return "plain" }

// leaf is a leaf engine that names its upstream.
type leaf struct {
	engine.Func
	up engine.Upstream
}

func (l leaf) Explain(*engine.Request, *engine.Explanation) engine.Engine { return nil }
func (l leaf) Upstream() engine.Upstream                                  { return l.up }

// refuser refuses everything on the way, as a guard would.
type refuser struct{ engine.Func }

func (refuser) Explain(_ *engine.Request, x *engine.Explanation) engine.Engine {
	x.Refusal = "ERR keyway: refused by the policy"
	return nil
}

// via passes on to next, as a route would.
type via struct {
	engine.Func
	next engine.Engine
}

func (v via) Explain(*engine.Request, *engine.Explanation) engine.Engine { return v.next }

func command(line string) *resp.Command {
	var args [][]byte
	for _, f := range strings.Fields(line) {
		args = append(args, []byte(f))
	}
	return &resp.Command{Args: args, Spec: resp.Resolve(args)}
}

func TestUpstreamFor(t *testing.T) {
	up := &upstreamStub{}
	r := &engine.Request{Cmd: *command("WATCH k")}
	got, err := UpstreamFor(via{next: leaf{up: up}}, r)
	if err != nil || got != engine.Upstream(up) {
		t.Fatalf("UpstreamFor = %v, %v; want the leaf's upstream", got, err)
	}
	tests := []struct {
		name string
		root engine.Engine
		want string
	}{
		{"refused on the way", via{next: refuser{}}, "ERR keyway: refused by the policy"},
		{"an engine that cannot explain", via{next: engine.Func(nil)}, "cannot tell which upstream"},
		{"no leaf", via{next: nil}, "sends this command to no upstream"},
	}
	for _, tt := range tests {
		if _, err := UpstreamFor(tt.root, r); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestOpenRefusesAnUpstreamThatLendsNothing(t *testing.T) {
	_, err := Open(context.Background(), upstreamStub{}, command("BLPOP k 0"), 2, nil)
	want := `keyway: BLPOP needs a dedicated upstream connection, which upstream "plain" cannot give`
	if err == nil || err.Error() != want {
		t.Fatalf("Open = %v, want %q", err, want)
	}
	if IsCluster(upstreamStub{}) {
		t.Fatal("a plain upstream counts as a cluster")
	}
}

func TestCrossNode(t *testing.T) {
	err := CrossNode(&engine.Request{Cmd: *command("GET k")}, "c")
	if !strings.HasPrefix(err.Error(), `CROSSSLOT keyway: GET touches a key of another node of upstream "c"`) {
		t.Fatalf("CrossNode = %v", err)
	}
}
