package transform

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
)

// The envelope is how a transformed value is stored in Redis (version 1):
//
//	offset  size  field
//	0       3     magic 0xF0 'K' 'W'
//	3       1     version, 1
//	4       1     flags: bits 0-1 codec (0 none, 1 zstd, 2 lz4), bit 2 encrypted
//	5       1     n, length of the key id (0 when not encrypted)
//	6       n     key id
//	6+n     ...   body; when encrypted: 12-byte nonce, AES-256-GCM ciphertext, 16-byte tag
//
// The body, after decryption, is the value itself, or when compressed the
// value's length as a uvarint followed by the compressed bytes (so
// decompression can be bounded before it starts). The GCM additional data
// is bytes 0..6+n of the envelope followed by the Redis key, so neither
// the header nor the key a value belongs to can be changed without the
// read failing.
//
// 0xF0 followed by 'K' is never valid UTF-8, so no text value written
// before the policy can be mistaken for an envelope.
const (
	magic0, magic1, magic2 = 0xF0, 'K', 'W'
	version1               = 1
	headerLen              = 6
	flagCodec              = 0x03
	flagEncrypted          = 0x04
	// gcmOverhead is the nonce and tag NewGCMWithRandomNonce adds.
	gcmOverhead = 12 + 16
)

// Errors of open; the engine wraps them with the Redis key.
var (
	errAuth    = errors.New("failed authentication (wrong key, tampered, or copied from another key)")
	errVersion = errors.New("has an envelope version this proxy does not know")
	errShort   = errors.New("has a truncated envelope")
)

// unknownKeyError names a key id the policy does not list.
type unknownKeyError struct{ id string }

func (e unknownKeyError) Error() string {
	return fmt.Sprintf("is encrypted with key %q, which the policy does not list", e.id)
}

// sealer is one named AES-256-GCM key.
type sealer struct {
	id   string
	aead cipher.AEAD
}

// envelope seals and opens values; immutable after build.
type envelope struct {
	codec    codec
	minBytes int
	// active encrypts new writes; nil when the policy only compresses.
	active *sealer
	// keys open values by the key id in their envelope.
	keys map[string]cipher.AEAD
}

// work holds one batch's intermediate buffers, reused across values.
type work struct {
	tmp   []byte // compressed body before encryption; decrypted body
	aad   []byte
	plain []byte // decompressed value
}

// isEnvelope reports whether a stored value is an envelope rather than a
// value written before the policy.
func isEnvelope(v []byte) bool {
	return len(v) >= 4 && v[0] == magic0 && v[1] == magic1 && v[2] == magic2
}

// bound is at most how many bytes seal adds to an n-byte value, for
// sizing buffers up front.
func (e *envelope) bound(n int) int {
	extra := headerLen + binary.MaxVarintLen64 + 64 + n/128
	if e.active != nil {
		extra += len(e.active.id) + gcmOverhead
	}
	return n + extra
}

// seal appends to dst what is stored in Redis for value under key.
func (e *envelope) seal(dst []byte, w *work, key, value []byte) []byte {
	var flags byte
	body := value
	if e.codec != codecNone && len(value) >= e.minBytes && len(value) > 0 {
		w.tmp = binary.AppendUvarint(w.tmp[:0], uint64(len(value)))
		var ok bool
		// Kept only when it saves bytes: incompressible values (already
		// compressed images, ciphertext) are stored as they are.
		if w.tmp, ok = e.codec.compress(w.tmp, value); ok && len(w.tmp) < len(value) {
			body = w.tmp
			flags |= byte(e.codec)
		}
	}
	if e.active == nil && flags == 0 && !isEnvelope(value) {
		// Nothing to say about it: store it as the client sent it. A value
		// that looks like an envelope is wrapped below, so reads never
		// misread it.
		return append(dst, value...)
	}
	start := len(dst)
	dst = append(dst, magic0, magic1, magic2, version1, flags, 0)
	if e.active == nil {
		return append(dst, body...)
	}
	dst[start+4] |= flagEncrypted
	dst[start+5] = byte(len(e.active.id))
	dst = append(dst, e.active.id...)
	w.aad = append(append(w.aad[:0], dst[start:]...), key...)
	return e.active.aead.Seal(dst, nil, body, w.aad)
}

// open returns the value stored as v under key: v itself when it is not
// an envelope (written before the policy), else the value it holds. The
// result may alias v or w's buffers.
func (e *envelope) open(w *work, key, v []byte) ([]byte, error) {
	if !isEnvelope(v) {
		return v, nil
	}
	if v[3] != version1 {
		return nil, errVersion
	}
	if len(v) < headerLen || len(v) < headerLen+int(v[5]) {
		return nil, errShort
	}
	flags, idEnd := v[4], headerLen+int(v[5])
	body := v[idEnd:]
	if flags&flagEncrypted != 0 {
		aead, ok := e.keys[string(v[headerLen:idEnd])]
		if !ok {
			return nil, unknownKeyError{string(v[headerLen:idEnd])}
		}
		w.aad = append(append(w.aad[:0], v[:idEnd]...), key...)
		var err error
		if w.tmp, err = aead.Open(w.tmp[:0], nil, body, w.aad); err != nil {
			return nil, errAuth
		}
		body = w.tmp
	}
	c := codec(flags & flagCodec)
	if c == codecNone {
		return body, nil
	}
	n, k := binary.Uvarint(body)
	if k <= 0 || n > maxValue {
		return nil, errCorrupt
	}
	var err error
	if w.plain, err = c.decompress(w.plain[:0], body[k:], int(n)); err != nil {
		return nil, err
	}
	return w.plain, nil
}
