package kinds

import (
	"errors"
	"fmt"
)

// ErrTransformActiveKey is a transform with several keys and none named
// to encrypt new writes.
var ErrTransformActiveKey = errors.New("active_key is required with several keys (it says which one encrypts new writes)")

// TransformKeys checks a transform's key ids and its active_key, and
// returns the key in effect: with exactly one key and no active_key,
// that key. Ids are unique, since a stored value names the key that
// sealed it and must find exactly one.
func TransformKeys(ids []string, active string) (string, error) {
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return "", fmt.Errorf("keys: key id %q listed twice", id)
		}
		seen[id] = true
	}
	switch {
	case active == "" && len(ids) == 1:
		return ids[0], nil
	case active == "" && len(ids) > 1:
		return "", ErrTransformActiveKey
	case active != "" && !seen[active]:
		return "", fmt.Errorf("active_key %q is not one of keys", active)
	}
	return active, nil
}

// EncryptionKey checks one key of a transform: an id a stored value can
// carry (1 to 255 bytes, its length is one byte of the envelope) and
// exactly one place to read the key from.
func EncryptionKey(id string, hasEnv, hasFile bool) error {
	if len(id) == 0 || len(id) > 255 {
		return fmt.Errorf("key id %q must be 1 to 255 bytes", id)
	}
	if hasEnv == hasFile {
		return fmt.Errorf("key %q: give exactly one of env and file", id)
	}
	return nil
}
