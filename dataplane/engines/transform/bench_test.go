package transform

import (
	"crypto/rand"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engine/enginetest"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// BenchmarkServe measures SET and GET of 1 KB and 100 KB values through
// the engine over a child that answers at once: the cost of sealing and
// opening alone.
func BenchmarkServe(b *testing.B) {
	text := func(n int) []byte { return []byte(strings.Repeat("user=ada plan=pro region=eu-west ", n/33+1)[:n]) }
	random := func(n int) []byte { v := make([]byte, n); _, _ = rand.Read(v); return v }
	for _, c := range []struct {
		name  string
		comp  keywayv1.Transform_Compression
		value []byte
	}{
		{"aes/1KB", keywayv1.Transform_COMPRESSION_NONE, text(1 << 10)},
		{"zstd+aes/1KB", keywayv1.Transform_COMPRESSION_ZSTD, text(1 << 10)},
		{"lz4+aes/1KB", keywayv1.Transform_COMPRESSION_LZ4, text(1 << 10)},
		{"aes/100KB", keywayv1.Transform_COMPRESSION_NONE, text(100 << 10)},
		{"zstd+aes/100KB", keywayv1.Transform_COMPRESSION_ZSTD, text(100 << 10)},
		{"lz4+aes/100KB", keywayv1.Transform_COMPRESSION_LZ4, text(100 << 10)},
		{"zstd+aes/100KB-random", keywayv1.Transform_COMPRESSION_ZSTD, random(100 << 10)},
	} {
		cfg := &keywayv1.Transform{KeyPrefixes: []string{"s:"}, Compression: c.comp, Keys: []*keywayv1.EncryptionKey{keyFile(b, "k1")}}
		tr := mustBuild(b, cfg, enginetest.NewStatic(enginetest.OK))
		set := engine.Batch{enginetest.Req("SET", "s:key", string(c.value))}
		b.Run(c.name+"/SET", func(b *testing.B) {
			b.SetBytes(int64(len(c.value)))
			b.ReportAllocs()
			for b.Loop() {
				tr.Serve(b.Context(), set)
			}
		})
		// GET is answered with what SET stored.
		var sealed []byte
		rec := enginetest.NewRecorder("redis", "")
		rec.ReplyFunc = func(r *engine.Request) string { sealed = append([]byte(nil), r.Cmd.Args[2]...); return enginetest.OK }
		tr.next = rec
		tr.Serve(b.Context(), set)
		tr.next = &enginetest.Static{Raw: resp.AppendBulk(nil, sealed)}
		get := engine.Batch{enginetest.Req("GET", "s:key")}
		b.Run(c.name+"/GET", func(b *testing.B) {
			b.SetBytes(int64(len(c.value)))
			b.ReportAllocs()
			for b.Loop() {
				tr.Serve(b.Context(), get)
			}
		})
	}
}
