package transform

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// secret is a compressible value with a marker that must never reach the
// store in the clear when values are encrypted.
var secret = strings.Repeat("PLAINTEXT-MARKER card=4111111111111111 ", 40)

// configs are the transforms every round trip runs under.
func configs(t *testing.T) map[string]*keywayv1.Transform {
	return map[string]*keywayv1.Transform{
		"zstd+aes": {KeyPrefixes: []string{"s:"}, Compression: keywayv1.Transform_COMPRESSION_ZSTD, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}},
		"lz4+aes":  {KeyPrefixes: []string{"s:"}, Compression: keywayv1.Transform_COMPRESSION_LZ4, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}},
		"aes":      {KeyPrefixes: []string{"s:"}, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}},
		"zstd":     {KeyPrefixes: []string{"s:"}, Compression: keywayv1.Transform_COMPRESSION_ZSTD},
		"lz4":      {KeyPrefixes: []string{"s:"}, Compression: keywayv1.Transform_COMPRESSION_LZ4},
	}
}

func TestRoundTrip(t *testing.T) {
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"SET", "s:a", secret}, enginetest.OK},
		{[]string{"GET", "s:a"}, bulk(secret, true)},
		{[]string{"SET", "s:a", "short", "GET"}, bulk(secret, true)},
		{[]string{"GETSET", "s:a", secret}, bulk("short", true)},
		{[]string{"SETEX", "s:b", "100", "b" + secret}, enginetest.OK},
		{[]string{"PSETEX", "s:c", "100000", ""}, enginetest.OK},
		{[]string{"MSET", "s:d", "d" + secret, "s:e", "e"}, enginetest.OK},
		{[]string{"MGET", "s:a", "s:nope", "s:b", "s:c", "s:d", "s:e"}, "*6\r\n" + bulk(secret, true) + "$-1\r\n" + bulk("b"+secret, true) + "$0\r\n\r\n" + bulk("d"+secret, true) + bulk("e", true)},
		{[]string{"GETEX", "s:e", "PERSIST"}, bulk("e", true)},
		{[]string{"GETDEL", "s:d"}, bulk("d"+secret, true)},
		{[]string{"GET", "s:d"}, "$-1\r\n"},
		{[]string{"SET", "plain", secret}, enginetest.OK},
		{[]string{"GET", "plain"}, bulk(secret, true)},
	}
	for name, cfg := range configs(t) {
		t.Run(name, func(t *testing.T) {
			st, rec := newStore()
			tr := mustBuild(t, cfg, rec)
			for _, s := range steps {
				if got := do(t, tr, s.args...); got != s.want {
					t.Fatalf("%q: got %.80q, want %.80q", s.args, got, s.want)
				}
			}
			encrypted := len(cfg.Keys) > 0
			for k, v := range st.m {
				switch {
				case k == "plain":
					if v != secret {
						t.Errorf("plain key stored as %.40q, want the value as sent", v)
					}
				case encrypted && strings.Contains(v, "PLAINTEXT"):
					t.Errorf("%s stored with plaintext: %.60q", k, v)
				case encrypted && !isEnvelope([]byte(v)):
					t.Errorf("%s stored without envelope: %.60q", k, v)
				case cfg.Compression != keywayv1.Transform_COMPRESSION_UNSPECIFIED && len(v) > len(secret)/2:
					t.Errorf("%s stored uncompressed (%d bytes)", k, len(v))
				}
			}
			if s := tr.Stats(); s.Sealed == 0 || s.Opened == 0 || s.Failed != 0 {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

func TestChildSeesEnvelopeAndClientKeepsArgs(t *testing.T) {
	_, rec := newStore()
	tr := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}}, rec)
	b := engine.Batch{enginetest.Req("MSET", "s:x", secret, "s:y", "tiny"), enginetest.Req("SET", "other", "visible")}
	tr.Serve(t.Context(), b)
	lines := rec.Lines()
	if len(lines) != 2 || strings.Contains(lines[0], "PLAINTEXT") || strings.Contains(lines[0], "tiny") || lines[1] != "SET other visible" {
		t.Errorf("child saw %.120q", lines)
	}
	if got := string(b[0].Cmd.Args[2]); got != secret {
		t.Errorf("client's value changed to %.40q", got)
	}
	if got := string(b[0].Cmd.Args[4]); got != "tiny" {
		t.Errorf("client's second value changed to %q", got)
	}
}

func TestRotation(t *testing.T) {
	st, rec := newStore()
	k1, k2 := keyFile(t, "k1"), keyFile(t, "k2")
	old := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Keys: []*keywayv1.EncryptionKey{k1}}, rec)
	both := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Keys: []*keywayv1.EncryptionKey{k1, k2}, ActiveKey: "k2"}, rec)
	onlyNew := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Keys: []*keywayv1.EncryptionKey{k2}}, rec)

	do(t, old, "SET", "s:a", "alpha")
	do(t, both, "SET", "s:b", "beta")
	if v, _ := st.get("s:b"); !bytes.Contains([]byte(v[:8]), []byte("k2")) {
		t.Errorf("new write not under k2: %q", v[:8])
	}
	tests := []struct {
		name string
		e    *Transform
		key  string
		want string
	}{
		{"old key still decrypts", both, "s:a", bulk("alpha", true)},
		{"active key decrypts", both, "s:b", bulk("beta", true)},
		{"old engine cannot read new key", old, "s:b", `-ERR keyway: value of "s:b" is encrypted with key "k2", which the policy does not list` + "\r\n"},
		{"retired key", onlyNew, "s:a", `-ERR keyway: value of "s:a" is encrypted with key "k1", which the policy does not list` + "\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := do(t, tt.e, "GET", tt.key); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTamperedValues(t *testing.T) {
	st, rec := newStore()
	tr := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Compression: keywayv1.Transform_COMPRESSION_ZSTD, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}}, rec)
	do(t, tr, "MSET", "s:a", secret, "s:b", "bee")
	sealed, _ := st.get("s:a")
	flip := func(i int) string { b := []byte(sealed); b[i] ^= 1; return string(b) }
	tests := []struct {
		name   string
		stored string
		want   string
	}{
		{"flipped ciphertext", flip(len(sealed) - 20), "failed authentication"},
		{"flipped tag", flip(len(sealed) - 1), "failed authentication"},
		{"flipped flags", flip(4), "failed authentication"},
		{"value of another key", func() string { v, _ := st.get("s:b"); return v }(), "failed authentication"},
		{"unknown version", sealed[:3] + "\x09" + sealed[4:], "envelope version"},
		{"truncated", sealed[:5], "truncated"},
		{"renamed key id", sealed[:6] + "k9" + sealed[8:], `key "k9"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st.put("s:a", tt.stored)
			for _, args := range [][]string{{"GET", "s:a"}, {"MGET", "s:b", "s:a"}, {"GETDEL", "s:a"}} {
				got := do(t, tr, args...)
				if !strings.HasPrefix(got, "-ERR keyway: value of \"s:a\"") || !strings.Contains(got, tt.want) {
					t.Errorf("%s: got %.100q, want an error with %q", args[0], got, tt.want)
				}
			}
		})
	}
	if tr.Stats().Failed == 0 {
		t.Error("failures not counted")
	}
}

func TestLegacyPlaintextPasses(t *testing.T) {
	st, rec := newStore()
	tr := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}}, rec)
	st.put("s:old", "written before the policy")
	do(t, tr, "SET", "s:new", "sealed")
	if got, want := do(t, tr, "GET", "s:old"), bulk("written before the policy", true); got != want {
		t.Errorf("GET legacy = %q, want %q", got, want)
	}
	want := "*2\r\n" + bulk("written before the policy", true) + bulk("sealed", true)
	if got := do(t, tr, "MGET", "s:old", "s:new"); got != want {
		t.Errorf("MGET = %q, want %q", got, want)
	}
	if s := tr.Stats(); s.Plain != 2 || s.Opened != 1 {
		t.Errorf("stats = %+v, want 2 plain and 1 opened", s)
	}
}

// TestCompressOnlyKeepsLookalikes checks a compress-only policy wraps a
// small value that happens to start like an envelope, so it reads back
// as written.
func TestCompressOnlyKeepsLookalikes(t *testing.T) {
	st, rec := newStore()
	tr := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Compression: keywayv1.Transform_COMPRESSION_LZ4, MinBytes: 1000}, rec)
	look := "\xf0KW\x01\x00\x00 not an envelope"
	do(t, tr, "SET", "s:a", look)
	do(t, tr, "SET", "s:b", "small")
	if v, _ := st.get("s:b"); v != "small" {
		t.Errorf("small value stored as %q, want it as sent", v)
	}
	if got := do(t, tr, "GET", "s:a"); got != bulk(look, true) {
		t.Errorf("GET = %q", got)
	}
}

func TestMinBytes(t *testing.T) {
	below, at := strings.Repeat("a", 99), strings.Repeat("a", 100)
	for _, c := range []keywayv1.Transform_Compression{keywayv1.Transform_COMPRESSION_ZSTD, keywayv1.Transform_COMPRESSION_LZ4} {
		t.Run(c.String(), func(t *testing.T) {
			st, rec := newStore()
			tr := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Compression: c, MinBytes: 100, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}}, rec)
			do(t, tr, "MSET", "s:below", below, "s:at", at)
			vb, _ := st.get("s:below")
			va, _ := st.get("s:at")
			if vb[4]&flagCodec != 0 || vb[4]&flagEncrypted == 0 {
				t.Errorf("value under min_bytes: flags %08b, want encrypted and not compressed", vb[4])
			}
			if va[4]&flagCodec == 0 || len(va) >= len(vb) {
				t.Errorf("value at min_bytes: flags %08b, %d bytes (below: %d), want compressed", va[4], len(va), len(vb))
			}
			if got := do(t, tr, "MGET", "s:below", "s:at"); got != "*2\r\n"+bulk(below, true)+bulk(at, true) {
				t.Errorf("MGET = %.60q", got)
			}
		})
	}
}

func TestRefusedNeverReachChild(t *testing.T) {
	const msg = `-ERR keyway: %s cannot work on transformed values under "s:" (values are compressed and encrypted by policy`
	tests := []struct {
		line string
		want string // prefix of the reply
	}{
		{"APPEND s:k x", "APPEND"},
		{"GETRANGE s:k 0 1", "GETRANGE"},
		{"SETRANGE s:k 0 x", "SETRANGE"},
		{"STRLEN s:k", "STRLEN"},
		{"INCR s:k", "INCR"},
		{"DECR s:k", "DECR"},
		{"INCRBY s:k 2", "INCRBY"},
		{"INCRBYFLOAT s:k 2", "INCRBYFLOAT"},
		{"DECRBY s:k 2", "DECRBY"},
		{"BITCOUNT s:k", "BITCOUNT"},
		{"BITPOS s:k 1", "BITPOS"},
		{"GETBIT s:k 1", "GETBIT"},
		{"SETBIT s:k 1 1", "SETBIT"},
		{"BITFIELD s:k GET u8 0", "BITFIELD"},
		{"LCS s:a s:b", "LCS"},
		{"HSET s:h f v", "HSET"},
		{"LPUSH s:l v", "LPUSH"},
		{"EVAL return 1 s:k", "EVAL"},
		{"RENAME s:a s:b", "RENAME"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, rec := newStore()
			tr := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:", "t:"}, Compression: keywayv1.Transform_COMPRESSION_ZSTD, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}}, rec)
			r := enginetest.Line(tt.line)
			if tt.line == "EVAL return 1 s:k" {
				r = enginetest.Req("EVAL", "return 1", "1", "s:k")
			}
			engine.Do(t.Context(), tr, r)
			want := strings.Replace(msg, "%s", tt.want, 1)
			if got := enginetest.Reply(r); !strings.HasPrefix(got, want) {
				t.Errorf("got %q, want %q...", got, want)
			}
			if r.Kind() != engine.KindRefused {
				t.Errorf("kind = %v, want refused", r.Kind())
			}
			if lines := rec.Lines(); lines != nil {
				t.Errorf("child saw %q", lines)
			}
		})
	}
}

func TestOtherRefusals(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"mixed keys", "MSET s:a 1 plain 2", `-ERR keyway: MSET mixes keys under "s:" (values encrypted by policy) with plain keys`},
		{"mixed read", "MGET plain s:a", `-ERR keyway: MGET mixes keys`},
		{"rename explains", "RENAMENX s:a s:b", `values are bound to their key name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rec := newStore()
			tr := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}}, rec)
			r := enginetest.Line(tt.line)
			engine.Do(t.Context(), tr, r)
			if got := enginetest.Reply(r); !strings.Contains(got, tt.want) || got[0] != '-' {
				t.Errorf("got %q, want it to contain %q", got, tt.want)
			}
			if rec.Lines() != nil {
				t.Errorf("child saw %q", rec.Lines())
			}
		})
	}
}

func TestPassThrough(t *testing.T) {
	_, rec := newStore()
	tr := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}}, rec)
	rec.ReplyFunc = nil
	lines := []string{"DEL s:a plain", "EXPIRE s:a 10", "TTL s:a", "EXISTS s:a s:b plain", "TYPE s:a", "APPEND plain x", "INCR counter", "PING", "OBJECT ENCODING s:a"}
	b := enginetest.Lines(lines...)
	tr.Serve(t.Context(), b)
	if got := rec.Lines(); !reflect.DeepEqual(got, lines) {
		t.Errorf("child saw %q, want %q", got, lines)
	}
	for i, r := range b {
		if enginetest.Reply(r) != enginetest.OK {
			t.Errorf("%s: reply %q", lines[i], enginetest.Reply(r))
		}
	}
}

func TestPipelineKeepsOrder(t *testing.T) {
	_, rec := newStore()
	tr := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Compression: keywayv1.Transform_COMPRESSION_LZ4, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}}, rec)
	b := engine.Batch{
		enginetest.Req("SET", "s:a", secret),
		enginetest.Req("APPEND", "s:a", "x"),
		enginetest.Req("GET", "s:a"),
		enginetest.Req("SET", "plain", "p"),
		enginetest.Req("GET", "plain"),
	}
	tr.Serve(t.Context(), b)
	got := enginetest.Replies(b)
	want := []string{enginetest.OK, "-ERR keyway: APPEND", bulk(secret, true), enginetest.OK, bulk("p", true)}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("reply %d = %.60q, want %.60q", i, got[i], want[i])
		}
	}
	if n := len(rec.Batches()); n != 1 {
		t.Errorf("child served %d batches, want the rest as one", n)
	}
}

func TestEveryKeyWithoutPrefixes(t *testing.T) {
	st, rec := newStore()
	tr := mustBuild(t, &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}}, rec)
	do(t, tr, "SET", "anything", "value")
	if v, _ := st.get("anything"); !isEnvelope([]byte(v)) {
		t.Errorf("stored %q, want an envelope", v)
	}
	if got := do(t, tr, "INCR", "n"); !strings.HasPrefix(got, "-ERR keyway: INCR cannot work on transformed values under every key") {
		t.Errorf("INCR = %q", got)
	}
}

func TestExplain(t *testing.T) {
	tr := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Compression: keywayv1.Transform_COMPRESSION_ZSTD, MinBytes: 64, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}}, enginetest.NewRecorder("redis", ""))
	tests := []struct {
		line, note string
		refused    bool
	}{
		{"GET s:a", `values under "s:" are compressed with zstd from 64 bytes and encrypted with key "k1"`, false},
		{"GET plain", "no transformed keys", false},
		{"DEL s:a", "touches no values", false},
		{"INCR s:a", "INCR cannot work on transformed values", true},
		// Transactions go through the tree, so MULTI and WATCH are ordinary.
		{"MULTI", "no transformed keys", false},
		{"WATCH s:a", "touches no values", false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			x := engine.Explain(tr, enginetest.Line(tt.line))
			if !strings.Contains(x.String(), tt.note) || (x.Refusal != "") != tt.refused {
				t.Errorf("explain:\n%s refusal=%q", x, x.Refusal)
			}
		})
	}
}

// TestConcurrentUse shares one engine, its keys and coders between
// goroutines, as a proxy's connections do; run with -race.
func TestConcurrentUse(t *testing.T) {
	for _, c := range []keywayv1.Transform_Compression{keywayv1.Transform_COMPRESSION_ZSTD, keywayv1.Transform_COMPRESSION_LZ4} {
		t.Run(c.String(), func(t *testing.T) {
			_, rec := newStore()
			tr := mustBuild(t, &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Compression: c, Keys: []*keywayv1.EncryptionKey{keyFile(t, "k1")}}, rec)
			errs := make(chan string, 8)
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					key, val := "s:"+strconv.Itoa(g), strings.Repeat(strconv.Itoa(g), 300)
					for range 50 {
						b := engine.Batch{enginetest.Req("SET", key, val), enginetest.Req("GET", key)}
						tr.Serve(t.Context(), b)
						if got := enginetest.Reply(b[1]); got != bulk(val, true) {
							errs <- fmt.Sprintf("goroutine %d read %.40q", g, got)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Error(e)
			}
		})
	}
}
