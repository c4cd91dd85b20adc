package transform

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/engines/upstream"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// keyFile writes a fresh random key, hex encoded, and names it id.
func keyFile(t testing.TB, id string) *keywayv1.EncryptionKey {
	t.Helper()
	raw := make([]byte, keySize)
	_, _ = rand.Read(raw)
	path := filepath.Join(t.TempDir(), id+".key")
	if err := os.WriteFile(path, []byte(hex.EncodeToString(raw)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &keywayv1.EncryptionKey{Id: id, File: path}
}

func leaf() *keywayv1.Engine {
	return &keywayv1.Engine{Kind: &keywayv1.Engine_Upstream{Upstream: &keywayv1.Forward{Name: "main"}}}
}

func registry() *engine.Registry {
	reg := engine.NewRegistry()
	engine.Add(reg, "transform", Build)
	engine.Add(reg, "upstream", upstream.Build)
	return reg
}

var mainUpstream = []*keywayv1.Upstream{{Name: "main", Kind: &keywayv1.Upstream_Standalone{Standalone: &keywayv1.Standalone{Address: "127.0.0.1:1"}}}}

// build compiles cfg over a recording upstream and returns the engine
// with next replaced by child.
func build(t testing.TB, cfg *keywayv1.Transform, child engine.Engine) (*Transform, error) {
	t.Helper()
	cfg.Next = leaf()
	b := engine.NewBuilder(registry(), enginetest.NewUpstreams(), "test", mainUpstream, nil)
	t.Cleanup(b.Release())
	root, err := b.Build(&keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: cfg}})
	if err != nil {
		return nil, err
	}
	tr := root.(*engine.Labeled).Engine.(*Transform)
	tr.next = child
	return tr, nil
}

func mustBuild(t testing.TB, cfg *keywayv1.Transform, child engine.Engine) *Transform {
	t.Helper()
	tr, err := build(t, cfg, child)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return tr
}

// store is a tiny in-memory Redis for the string commands the engine
// rewrites, so unit tests see what would be stored.
type store struct {
	mu sync.Mutex
	m  map[string]string
}

func newStore() (*store, *enginetest.Recorder) {
	s := &store{m: map[string]string{}}
	rec := enginetest.NewRecorder("redis", "")
	rec.ReplyFunc = s.reply
	return s, rec
}

func (s *store) get(k string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	return v, ok
}

func (s *store) put(k, v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
}

func bulk(v string, ok bool) string {
	if !ok {
		return "$-1\r\n"
	}
	return string(resp.AppendBulkString(nil, v))
}

func (s *store) reply(r *engine.Request) string {
	a := make([]string, len(r.Cmd.Args))
	for i, x := range r.Cmd.Args {
		a[i] = string(x)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch strings.ToUpper(a[0]) {
	case "SET":
		old, had := s.m[a[1]]
		s.m[a[1]] = a[2]
		for _, o := range a[3:] {
			if strings.EqualFold(o, "GET") {
				return bulk(old, had)
			}
		}
		return enginetest.OK
	case "SETEX", "PSETEX":
		s.m[a[1]] = a[3]
		return enginetest.OK
	case "GETSET":
		old, had := s.m[a[1]]
		s.m[a[1]] = a[2]
		return bulk(old, had)
	case "MSET":
		for i := 1; i+1 < len(a); i += 2 {
			s.m[a[i]] = a[i+1]
		}
		return enginetest.OK
	case "GET", "GETEX":
		v, ok := s.m[a[1]]
		return bulk(v, ok)
	case "GETDEL":
		v, ok := s.m[a[1]]
		delete(s.m, a[1])
		return bulk(v, ok)
	case "MGET":
		out := resp.AppendArray(nil, len(a)-1)
		for _, k := range a[1:] {
			v, ok := s.m[k]
			out = append(out, bulk(v, ok)...)
		}
		return string(out)
	case "DEL":
		n := 0
		for _, k := range a[1:] {
			if _, ok := s.m[k]; ok {
				n++
				delete(s.m, k)
			}
		}
		return ":" + strconv.Itoa(n) + "\r\n"
	}
	return "-ERR store: unsupported " + a[0] + "\r\n"
}

func do(t testing.TB, e engine.Engine, args ...string) string {
	t.Helper()
	r := enginetest.Req(args...)
	engine.Do(t.Context(), e, r)
	return enginetest.Reply(r)
}
