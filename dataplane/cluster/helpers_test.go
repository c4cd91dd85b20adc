package cluster

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// rawDo sends one command to addr and returns the raw reply.
func rawDo(t testing.TB, addr string, args ...string) []byte {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var a [][]byte
	for _, s := range args {
		a = append(a, []byte(s))
	}
	if _, err := c.Write(resp.AppendCommand(nil, a)); err != nil {
		t.Fatalf("write %s: %v", addr, err)
	}
	buf := make([]byte, 0, 64<<10)
	for {
		n, err := resp.ReplyLen(buf)
		if err != nil {
			t.Fatalf("reply from %s: %v", addr, err)
		}
		if n > 0 {
			return buf[:n]
		}
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		m, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil && m == 0 {
			t.Fatalf("read %s: %v", addr, err)
		}
	}
}

// clusterUpstream declares cl as a redis_cluster upstream.
func clusterUpstream(cl *redistest.Cluster, mod func(*keywayv1.Cluster)) *keywayv1.Upstream {
	cfg := &keywayv1.Cluster{Seeds: cl.Seeds()[:1]}
	if mod != nil {
		mod(cfg)
	}
	return &keywayv1.Upstream{Name: "cache", Kind: &keywayv1.Upstream_Cluster{Cluster: cfg}}
}

func newClient(t testing.TB, u *keywayv1.Upstream) *Client {
	t.Helper()
	c, err := New(u, upstream.Options{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatalf("new cluster client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// req builds a request from words.
func req(words ...string) *engine.Request {
	r := &engine.Request{Session: &engine.Session{ID: 1, Hash: 7}}
	for _, w := range words {
		r.Cmd.Args = append(r.Cmd.Args, []byte(w))
	}
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	return r
}

// do serves one command and returns the raw reply as a string.
func do(c engine.Engine, words ...string) string {
	r := req(words...)
	engine.Do(context.Background(), c, r)
	return string(r.Raw())
}

// pipeline serves cmds as one batch and returns the replies in order.
func pipeline(c engine.Engine, cmds ...[]string) []string {
	b := make(engine.Batch, len(cmds))
	for i, w := range cmds {
		b[i] = req(w...)
	}
	c.Serve(context.Background(), b)
	out := make([]string, len(b))
	for i, r := range b {
		out[i] = string(r.Raw())
	}
	return out
}

// bulks is the RESP array of bulk strings (nil for "(nil)" entries).
func bulks(vals ...string) string {
	var b strings.Builder
	b.WriteString("*" + strconv.Itoa(len(vals)) + "\r\n")
	for _, v := range vals {
		if v == "(nil)" {
			b.WriteString("$-1\r\n")
			continue
		}
		b.WriteString("$" + strconv.Itoa(len(v)) + "\r\n" + v + "\r\n")
	}
	return b.String()
}
