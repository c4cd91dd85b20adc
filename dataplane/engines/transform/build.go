package transform

import (
	"crypto/cipher"
	"fmt"
	"math"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/internal/trie"
	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Build compiles a Transform. Keys are read here, on the proxy's host, so
// a missing or malformed key fails the build and the proxy NACKs the
// snapshot instead of serving without it.
func Build(b *engine.Builder, cfg *keywayv1.Transform) (engine.Engine, error) {
	t := &Transform{prefixes: cfg.GetKeyPrefixes()}
	if err := kinds.Prefixes("key_prefixes", t.prefixes); err != nil {
		return nil, err
	}
	if len(t.prefixes) > 0 {
		tr, err := trie.New(t.prefixes)
		if err != nil {
			return nil, fmt.Errorf("key_prefixes: %w", err)
		}
		t.trie = tr
	}
	switch cfg.GetCompression() {
	case keywayv1.Transform_COMPRESSION_UNSPECIFIED, keywayv1.Transform_COMPRESSION_NONE:
	case keywayv1.Transform_COMPRESSION_ZSTD:
		t.env.codec = codecZstd
	case keywayv1.Transform_COMPRESSION_LZ4:
		t.env.codec = codecLZ4
	default:
		return nil, fmt.Errorf("compression %v is not supported by this proxy", cfg.GetCompression())
	}
	if err := t.env.codec.ready(); err != nil {
		return nil, err
	}
	if cfg.GetMinBytes() > math.MaxInt32 {
		return nil, fmt.Errorf("min_bytes %d is too large", cfg.GetMinBytes())
	}
	t.env.minBytes = int(cfg.GetMinBytes())
	if err := t.loadKeys(cfg); err != nil {
		return nil, err
	}
	if err := kinds.Transform(t.env.codec != codecNone, len(cfg.GetKeys())); err != nil {
		return nil, err
	}
	switch {
	case t.env.codec != codecNone && t.env.active != nil:
		t.what = "compressed and encrypted"
	case t.env.active != nil:
		t.what = "encrypted"
	default:
		t.what = "compressed"
	}
	var err error
	if t.next, err = b.Child("next", cfg.GetNext()); err != nil {
		return nil, err
	}
	return t, nil
}

// loadKeys checks the key ids and active_key (the renderer's rule, so
// before any key is read from the host), reads every key and picks the
// active one.
func (t *Transform) loadKeys(cfg *keywayv1.Transform) error {
	ids := make([]string, 0, len(cfg.GetKeys()))
	for _, k := range cfg.GetKeys() {
		ids = append(ids, k.GetId())
	}
	active, err := kinds.TransformKeys(ids, cfg.GetActiveKey())
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	t.env.keys = make(map[string]cipher.AEAD, len(cfg.GetKeys()))
	for _, k := range cfg.GetKeys() {
		aead, err := loadKey(k)
		if err != nil {
			return err
		}
		t.env.keys[k.GetId()] = aead
	}
	t.env.active = &sealer{id: active, aead: t.env.keys[active]}
	return nil
}
