package render

import (
	"go.starlark.net/starlark"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// builtinTransform compresses and/or encrypts values under key_prefixes:
// transform(next, key_prefixes=[], compression="none", min_bytes=0,
// keys=[], active_key=None, label=None). With one key, active_key
// defaults to it.
func builtinTransform(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	var next starlark.Value
	var prefixes starlark.Value = starlark.None
	var keys *starlark.List
	compression := "none"
	minBytes := 0
	t := &keywayv1.Transform{}
	var label string
	if err := unpack(fn.Name(), args, kwargs,
		"next", &next, "key_prefixes?", &prefixes, "compression?", &compression, "min_bytes?", &minBytes,
		"keys?", &keys, "active_key?", &t.ActiveKey, "label?", &label); err != nil {
		return nil, err
	}
	var err error
	if t.Next, err = c.required("next", next); err != nil {
		return nil, err
	}
	if t.KeyPrefixes, err = c.prefixes("key_prefixes", prefixes); err != nil {
		return nil, err
	}
	t.Compression = oneOf(c, "compression", compression, []string{"none", "zstd", "lz4"},
		[]keywayv1.Transform_Compression{keywayv1.Transform_COMPRESSION_NONE, keywayv1.Transform_COMPRESSION_ZSTD, keywayv1.Transform_COMPRESSION_LZ4})
	t.MinBytes = c.count("min_bytes", minBytes, 0)
	if err := c.encryptionKeys(t, keys); err != nil {
		return nil, err
	}
	if err := kinds.Transform(compression != "none", len(t.Keys)); err != nil {
		c.errorf("%v", err)
	}
	return c.engine("transform", label, &keywayv1.Engine{Kind: &keywayv1.Engine_Transform{Transform: t}}), nil
}

// encryptionKeys fills t's keys and active_key (kinds.TransformKeys).
func (c *call) encryptionKeys(t *keywayv1.Transform, keys *starlark.List) error {
	var ids []string
	if keys != nil {
		for i := range keys.Len() {
			k, ok := keys.Index(i).(*object[*keywayv1.EncryptionKey])
			if !ok {
				return c.typeErr("keys", "a list of encryption_key(...)", keys.Index(i))
			}
			ids = append(ids, k.msg.GetId())
			t.Keys = append(t.Keys, clone(k.msg))
		}
	}
	active, err := kinds.TransformKeys(ids, t.ActiveKey)
	if err != nil {
		c.errorf("%v", err)
		return nil
	}
	t.ActiveKey = active
	return nil
}

// builtinEncryptionKey names an AES-256 key on the proxy's host:
// encryption_key(id, env=None, file=None), exactly one of env and file.
func builtinEncryptionKey(thread *starlark.Thread, fn *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	c := newCall(thread, fn)
	k := &keywayv1.EncryptionKey{}
	if err := unpack(fn.Name(), args, kwargs, "id", &k.Id, "env?", &k.Env, "file?", &k.File); err != nil {
		return nil, err
	}
	if err := kinds.EncryptionKey(k.Id, k.Env != "", k.File != ""); err != nil {
		c.errorf("%v", err)
	}
	return &object[*keywayv1.EncryptionKey]{typ: "encryption_key", msg: k, pos: c.pos}, nil
}
