package upstream

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"keyway.dev/dataplane/resp"
)

// TestWqueueKeepsOrder queues commands of mixed sizes and checks that what
// is written is their encodings, in order, whatever the chunking.
func TestWqueueKeepsOrder(t *testing.T) {
	small := [][]byte{[]byte("GET"), []byte("k")}
	big := [][]byte{[]byte("SET"), []byte("k"), bytes.Repeat([]byte("v"), 100<<10)}
	huge := [][]byte{[]byte("SET"), []byte("k"), bytes.Repeat([]byte("w"), 3<<20)}
	for _, tc := range []struct {
		name string
		cmds [][][]byte
	}{
		{"small only", [][][]byte{small, small, small}},
		{"big behind small", [][][]byte{small, big, small, big, big, small}},
		{"over the kept size", [][][]byte{big, huge, small}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var q wqueue
			var want []byte
			for round := range 2 { // the second round reuses recycled chunks
				want = want[:0]
				for _, args := range tc.cmds {
					size := 16
					for _, a := range args {
						size += len(a) + 16
					}
					q.reserve(size)
					q.appendCommand(args)
					want = resp.AppendCommand(want, args)
				}
				got := writeAll(t, &q, q.take())
				if !bytes.Equal(got, want) {
					t.Fatalf("round %d: wrote %d bytes %.40q, want %d bytes %.40q", round, len(got), got, len(want), want)
				}
				if !q.empty() {
					t.Fatalf("round %d: queue not empty after take", round)
				}
			}
			if len(q.free) > keepChunks {
				t.Fatalf("kept %d chunks, at most %d", len(q.free), keepChunks)
			}
			for _, c := range q.free {
				if cap(c) > keepBuffer {
					t.Fatalf("kept a chunk of %d bytes", cap(c))
				}
			}
		})
	}
}

// writeAll writes bufs through q.write to a pipe and returns the bytes.
func writeAll(t *testing.T, q *wqueue, bufs net.Buffers) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer b.Close()
	got := make(chan []byte)
	go func() {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(b)
		got <- buf.Bytes()
	}()
	if err := q.write(a, bufs); err != nil {
		t.Fatalf("write: %v", err)
	}
	q.recycle(bufs)
	_ = a.Close()
	return <-got
}

// BenchmarkWqueue measures queueing and taking one small command, the
// per-request cost of the write path without the syscall.
func BenchmarkWqueue(b *testing.B) {
	for _, bc := range []struct {
		name string
		args [][]byte
	}{
		{"GET", [][]byte{[]byte("GET"), []byte("key:000001")}},
		{"SET-100KB", [][]byte{[]byte("SET"), []byte("key:000001"), []byte(strings.Repeat("v", 100<<10))}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var q wqueue
			size := 16
			for _, a := range bc.args {
				size += len(a) + 16
			}
			b.ReportAllocs()
			for b.Loop() {
				for range 16 {
					q.reserve(size)
					q.appendCommand(bc.args)
				}
				q.recycle(q.take())
			}
		})
	}
}
