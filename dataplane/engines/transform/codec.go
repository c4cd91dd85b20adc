package transform

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// codec is a compression algorithm; its value is what the envelope's
// flags carry, so the numbers must never change.
type codec uint8

const (
	codecNone codec = 0
	codecZstd codec = 1
	codecLZ4  codec = 2
)

// String names c as the policy does.
func (c codec) String() string {
	switch c {
	case codecZstd:
		return "zstd"
	case codecLZ4:
		return "lz4"
	}
	return "none"
}

// maxValue bounds what a stored value may claim to decompress to: Redis's
// own proto-max-bulk-len default, so nothing legitimate is refused while
// a planted decompression bomb cannot make the proxy allocate gigabytes.
const maxValue = 512 << 20

// The zstd coder is shared by every tree: it keeps per-goroutine state in
// pools, and EncodeAll and DecodeAll are safe for concurrent use, so one
// of each bounds the memory however many trees and domains there are.
var (
	zstdEncoder = sync.OnceValues(func() (*zstd.Encoder, error) {
		// SpeedFastest: this runs on the request path; the size win of
		// slower levels is small for cache values.
		return zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	})
	zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
		return zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(maxValue))
	})
)

// lz4 compressors hold a 64 KiB hash table each, so they are pooled
// rather than made per value.
var lz4Compressors = sync.Pool{New: func() any { return new(lz4.Compressor) }}

// ready makes sure c's coders exist, so a broken one fails the build
// rather than a request.
func (c codec) ready() error {
	if c != codecZstd {
		return nil
	}
	if _, err := zstdEncoder(); err != nil {
		return fmt.Errorf("zstd encoder: %w", err)
	}
	if _, err := zstdDecoder(); err != nil {
		return fmt.Errorf("zstd decoder: %w", err)
	}
	return nil
}

// compress appends src compressed to dst. ok is false when src does not
// compress (the caller then stores it as it is).
func (c codec) compress(dst, src []byte) ([]byte, bool) {
	switch c {
	case codecZstd:
		enc, _ := zstdEncoder() // checked by ready at build
		return enc.EncodeAll(src, dst), true
	case codecLZ4:
		start := len(dst)
		dst = grow(dst, lz4.CompressBlockBound(len(src)))
		lc := lz4Compressors.Get().(*lz4.Compressor)
		n, err := lc.CompressBlock(src, dst[start:cap(dst)])
		lz4Compressors.Put(lc)
		if err != nil || n == 0 {
			return dst[:start], false
		}
		return dst[:start+n], true
	}
	return dst, false
}

var errCorrupt = errors.New("compressed data is corrupt")

// decompress appends to dst the n bytes src decompresses to.
func (c codec) decompress(dst, src []byte, n int) ([]byte, error) {
	start := len(dst)
	dst = grow(dst, n)
	switch c {
	case codecZstd:
		dec, _ := zstdDecoder()
		out, err := dec.DecodeAll(src, dst)
		if err != nil || len(out)-start != n {
			return dst[:start], errCorrupt
		}
		return out, nil
	case codecLZ4:
		got, err := lz4.UncompressBlock(src, dst[start:start+n])
		if err != nil || got != n {
			return dst[:start], errCorrupt
		}
		return dst[:start+n], nil
	}
	return dst[:start], fmt.Errorf("unknown compression %d", c)
}

// grow makes room for n more bytes in b without changing its length.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n+len(b)/2)
	copy(nb, b)
	return nb
}
