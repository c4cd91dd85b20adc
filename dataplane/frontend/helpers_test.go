package frontend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// leaf is a minimal upstream engine for tests: one pipelined connection
// to a real redis-server, batches written at once and replies read in
// order. The real upstream package does much more; the server only needs
// something that answers.
type leaf struct {
	name string
	mu   sync.Mutex
	conn net.Conn
	rd   *bufio.Reader
	wbuf []byte
	rbuf []byte
	// used is the length of the reply readReply returned last; the bytes
	// after it in rbuf are replies of the same pipeline, read already.
	used int
}

func newLeaf(t testing.TB, name, addr string) *leaf {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial redis: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &leaf{name: name, conn: c, rd: bufio.NewReaderSize(c, 64<<10)}
}

func (l *leaf) Name() string { return l.name }

func (l *leaf) Explain(r *engine.Request, x *engine.Explanation) engine.Engine {
	x.Reach(l.name)
	return nil
}

func (l *leaf) Serve(_ context.Context, b engine.Batch) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wbuf = l.wbuf[:0]
	for _, r := range b {
		l.wbuf = resp.AppendCommand(l.wbuf, r.Cmd.Args)
	}
	if _, err := l.conn.Write(l.wbuf); err != nil {
		for _, r := range b {
			r.Fail(engine.KindUpstream, fmt.Errorf("write: %w", err))
		}
		return
	}
	for _, r := range b {
		raw, err := l.readReply()
		if err != nil {
			r.Fail(engine.KindUpstream, err)
			continue
		}
		r.Upstream = l.name
		r.Reply(raw)
	}
}

func (l *leaf) readReply() ([]byte, error) {
	l.rbuf = l.rbuf[:copy(l.rbuf, l.rbuf[l.used:])]
	l.used = 0
	for {
		n, err := resp.ReplyLen(l.rbuf)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			l.used = n
			return l.rbuf[:n], nil
		}
		// Read what has arrived, not a line: ReplyLen scans from the
		// start each time, and COMMAND's 200 KB reply line by line made
		// this quadratic (16 s under -race).
		var chunk [64 << 10]byte
		n, err = l.rd.Read(chunk[:])
		if n == 0 && err != nil {
			return nil, err
		}
		l.rbuf = append(l.rbuf, chunk[:n]...)
	}
}

// install builds a State with one stable tree per domain and installs it.
func install(cur *engine.Current, version string, roots map[string]engine.Engine, proxy *keywayv1.ProxyConfig) {
	doms := map[string]*engine.Domain{}
	for name, root := range roots {
		tree := engine.NewTree(name, &keywayv1.DomainTree{Version: version}, root, nil)
		doms[name] = &engine.Domain{Name: name, Stable: tree}
	}
	if proxy == nil {
		proxy = &keywayv1.ProxyConfig{Name: "proxy", Identity: &keywayv1.Identity{DefaultDomain: "default"}}
	}
	cur.Install(engine.NewState(doms, proxy, version))
}

// harness is a Server on a loopback port.
type harness struct {
	srv  *Server
	cur  *engine.Current
	addr string
	done chan error
}

func startServer(t testing.TB, limits Limits) *harness {
	t.Helper()
	return startServerConfig(t, Config{Limits: limits})
}

// startServerConfig is startServer with more of the Config set.
func startServerConfig(t testing.TB, cfg Config) *harness {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{cur: &engine.Current{}, addr: ln.Addr().String(), done: make(chan error, 1)}
	cfg.NodeID, cfg.Current = "test", h.cur
	h.srv = New(cfg)
	go func() { h.done <- h.srv.Serve(ln, "main") }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = h.srv.Shutdown(ctx)
		if err := <-h.done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("serve returned %v", err)
		}
	})
	return h
}

// withRedis starts redis-server and installs a "default" domain whose
// tree is one leaf to it.
func withRedis(t testing.TB, limits Limits) (*harness, *redistest.Server) {
	t.Helper()
	r := redistest.Start(t)
	h := startServer(t, limits)
	install(h.cur, "v1", map[string]engine.Engine{"default": newLeaf(t, "main", r.Addr)}, nil)
	return h, r
}

// rawConn is a client that speaks bytes, for comparing replies exactly.
type rawConn struct {
	t  testing.TB
	c  net.Conn
	rd *bufio.Reader
	// rest holds bytes read past the last reply returned.
	rest []byte
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawConn{t: t, c: c, rd: bufio.NewReader(c)}
}

func (r *rawConn) send(s string) {
	r.t.Helper()
	if _, err := r.c.Write([]byte(s)); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// cmd sends one command as RESP and returns its raw reply.
func (r *rawConn) cmd(args ...string) string {
	r.t.Helper()
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	r.send(string(resp.AppendCommand(nil, bs)))
	return r.reply()
}

// reply reads one complete raw reply.
func (r *rawConn) reply() string {
	r.t.Helper()
	buf := r.rest
	r.rest = nil
	var chunk [64 << 10]byte
	for {
		n, err := resp.ReplyLen(buf)
		if err != nil {
			r.t.Fatalf("bad reply %q: %v", buf, err)
		}
		if n > 0 {
			r.rest = append([]byte(nil), buf[n:]...)
			return string(buf[:n])
		}
		// Read what is there, not a line at a time: ReplyLen rescans
		// from the start, and a long reply (COMMAND) has many lines.
		m, err := r.rd.Read(chunk[:])
		buf = append(buf, chunk[:m]...)
		if err != nil && m == 0 {
			r.t.Fatalf("read reply (have %d bytes, %.200q): %v", len(buf), buf, err)
		}
	}
}

// closed reports whether the server closed the connection, reading and
// discarding anything still queued.
func (r *rawConn) closed() bool {
	_, err := io.Copy(io.Discard, r.rd)
	return err == nil || strings.Contains(err.Error(), "reset")
}
