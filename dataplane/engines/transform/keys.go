package transform

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"keyway.dev/policy/kinds"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// keySize is AES-256's.
const keySize = 32

// loadKey reads the key k names from the proxy's environment or disk and
// returns its cipher. Errors name the key id and where it was looked for,
// never the key material.
func loadKey(k *keywayv1.EncryptionKey) (cipher.AEAD, error) {
	if err := kinds.EncryptionKey(k.GetId(), k.GetEnv() != "", k.GetFile() != ""); err != nil {
		return nil, err
	}
	var text []byte
	if k.GetEnv() != "" {
		v, ok := os.LookupEnv(k.GetEnv())
		if !ok || v == "" {
			return nil, fmt.Errorf("key %q: environment variable %s is not set", k.GetId(), k.GetEnv())
		}
		text = []byte(v)
	} else {
		b, err := os.ReadFile(k.GetFile())
		if err != nil {
			// The *PathError names the file and the cause, not the content.
			return nil, fmt.Errorf("key %q: %w", k.GetId(), err)
		}
		text = b
	}
	raw, err := decodeKey(bytes.TrimSpace(text))
	clear(text)
	if err != nil {
		return nil, fmt.Errorf("key %q (%s): %w", k.GetId(), where(k), err)
	}
	block, err := aes.NewCipher(raw)
	clear(raw) // the cipher keeps its own expanded key
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", k.GetId(), err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", k.GetId(), err)
	}
	return aead, nil
}

func where(k *keywayv1.EncryptionKey) string {
	if k.GetEnv() != "" {
		return "env " + k.GetEnv()
	}
	return "file " + k.GetFile()
}

var errKeyFormat = errors.New("must be 32 bytes (AES-256) written as 64 hex digits or base64")

// decodeKey accepts 64 hex digits or standard, URL-safe, padded or
// unpadded base64 of 32 bytes.
func decodeKey(text []byte) ([]byte, error) {
	if len(text) == 2*keySize {
		raw := make([]byte, keySize)
		if _, err := hex.Decode(raw, text); err == nil {
			return raw, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		raw := make([]byte, enc.DecodedLen(len(text)))
		n, err := enc.Decode(raw, text)
		if err == nil && n == keySize {
			return raw[:n], nil
		}
		clear(raw)
	}
	return nil, errKeyFormat
}
