package transform

import (
	"crypto/cipher"
	"errors"
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
	for _, p := range t.prefixes {
		if p == "" {
			return nil, errors.New("key_prefixes: an empty prefix (leave key_prefixes empty to transform every key)")
		}
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

// loadKeys reads every key and picks the active one.
func (t *Transform) loadKeys(cfg *keywayv1.Transform) error {
	if len(cfg.GetKeys()) == 0 {
		if cfg.GetActiveKey() != "" {
			return fmt.Errorf("active_key %q names no key (keys is empty)", cfg.GetActiveKey())
		}
		return nil
	}
	t.env.keys = make(map[string]cipher.AEAD, len(cfg.GetKeys()))
	for _, k := range cfg.GetKeys() {
		if _, dup := t.env.keys[k.GetId()]; dup {
			return fmt.Errorf("keys: key id %q listed twice", k.GetId())
		}
		aead, err := loadKey(k)
		if err != nil {
			return err
		}
		t.env.keys[k.GetId()] = aead
	}
	active := cfg.GetActiveKey()
	if active == "" && len(cfg.GetKeys()) == 1 {
		active = cfg.GetKeys()[0].GetId()
	}
	aead, ok := t.env.keys[active]
	if !ok {
		if active == "" {
			return errors.New("active_key is required with several keys")
		}
		return fmt.Errorf("active_key %q is not one of keys", active)
	}
	t.env.active = &sealer{id: active, aead: aead}
	return nil
}
