package transform

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keyway.dev/dataplane/engine/enginetest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

func TestBuildKeys(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	dir := t.TempDir()
	file := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Setenv("KW_TEST_HEX", hex.EncodeToString(raw))
	t.Setenv("KW_TEST_B64", base64.StdEncoding.EncodeToString(raw))
	t.Setenv("KW_TEST_SHORT", hex.EncodeToString(raw[:16]))
	t.Setenv("KW_TEST_JUNK", "not-a-key-at-all-but-secret-text")
	hexFile := file("hex", hex.EncodeToString(raw)+"\n")
	urlFile := file("url", base64.RawURLEncoding.EncodeToString(raw)+"\n")
	shortFile := file("short", base64.StdEncoding.EncodeToString(raw[:31]))

	key := func(id, env, path string) *keywayv1.EncryptionKey {
		return &keywayv1.EncryptionKey{Id: id, Env: env, File: path}
	}
	zstd := keywayv1.Transform_COMPRESSION_ZSTD
	tests := []struct {
		name string
		cfg  *keywayv1.Transform
		want string // error substring; "" for success
	}{
		{"hex env", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("a", "KW_TEST_HEX", "")}}, ""},
		{"base64 env", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("a", "KW_TEST_B64", "")}}, ""},
		{"hex file", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("a", "", hexFile)}}, ""},
		{"url base64 file", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("a", "", urlFile)}}, ""},
		{"compression only", &keywayv1.Transform{Compression: zstd}, ""},
		{"two keys", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("a", "KW_TEST_HEX", ""), key("b", "", hexFile)}, ActiveKey: "b"}, ""},
		{"env unset", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("k-2025", "KW_TEST_UNSET", "")}}, `key "k-2025": environment variable KW_TEST_UNSET is not set`},
		{"file missing", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("k-2025", "", filepath.Join(dir, "nope"))}}, `key "k-2025": open `},
		{"short hex", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("k-2025", "KW_TEST_SHORT", "")}}, `key "k-2025" (env KW_TEST_SHORT): must be 32 bytes`},
		{"short base64 file", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("k-2025", "", shortFile)}}, `key "k-2025" (file ` + shortFile + `): must be 32 bytes`},
		{"junk", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("k-2025", "KW_TEST_JUNK", "")}}, `key "k-2025" (env KW_TEST_JUNK): must be 32 bytes`},
		{"both sources", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("k", "KW_TEST_HEX", hexFile)}}, "exactly one of env and file"},
		{"duplicate id", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("a", "KW_TEST_HEX", ""), key("a", "", hexFile)}, ActiveKey: "a"}, `key id "a" listed twice`},
		{"no active key", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("a", "KW_TEST_HEX", ""), key("b", "", hexFile)}}, "active_key is required"},
		{"unknown active key", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key("a", "KW_TEST_HEX", "")}, ActiveKey: "z"}, `active_key "z" is not one of keys`},
		{"active without keys", &keywayv1.Transform{Compression: zstd, ActiveKey: "z"}, `active_key "z" is not one of keys`},
		{"nothing to do", &keywayv1.Transform{}, "give compression or keys"},
		{"empty prefix", &keywayv1.Transform{Compression: zstd, KeyPrefixes: []string{""}}, "empty prefix"},
		{"duplicate prefix", &keywayv1.Transform{Compression: zstd, KeyPrefixes: []string{"a:", "a:"}}, `"a:" listed twice`},
		{"long id", &keywayv1.Transform{Keys: []*keywayv1.EncryptionKey{key(strings.Repeat("x", 256), "KW_TEST_HEX", "")}}, "1 to 255 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := build(t, tt.cfg, enginetest.NewRecorder("r", ""))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("build: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("build error %v, want it to contain %q", err, tt.want)
			case err != nil:
				for _, secret := range []string{string(raw), hex.EncodeToString(raw), hex.EncodeToString(raw[:16]), "secret-text"} {
					if strings.Contains(err.Error(), secret) {
						t.Errorf("error shows key material: %v", err)
					}
				}
				if !strings.HasPrefix(err.Error(), "root.transform: ") {
					t.Errorf("error %q lacks the engine path", err)
				}
			}
		})
	}
}
