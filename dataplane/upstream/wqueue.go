package upstream

import (
	"net"
	"sync"

	"keyway.dev/dataplane/resp"
)

// chunkSize is the smallest write chunk. A batch bigger than that gets a
// chunk of at least bigChunk, which holds several 100 KB values, so that
// the chunks a connection keeps (keepChunks, at most keepBuffer each:
// about what the single buffer and its spare held before) serve a burst
// of big values without allocating.
const (
	chunkSize  = 64 << 10
	bigChunk   = 512 << 10
	keepChunks = 4
)

// wqueue holds encoded commands waiting to be written, as a list of
// chunks written with one writev. A batch that does not fit the current
// chunk starts a new one instead of growing it: growing a contiguous
// buffer copies everything queued so far, which with 100 KB values and
// fifty callers queueing behind a write costs more than the write.
type wqueue struct {
	full [][]byte // sealed chunks, oldest first
	cur  []byte   // the chunk being appended to
	free [][]byte // emptied chunks for reuse
	iov  net.Buffers
	// wv is the writer's copy of what it writes, which writev consumes;
	// only the holder of conn.writing touches it.
	wv net.Buffers
}

// empty reports whether nothing is queued.
func (q *wqueue) empty() bool { return len(q.cur) == 0 && len(q.full) == 0 }

// reserve makes room for n more bytes without moving queued ones.
func (q *wqueue) reserve(n int) {
	if cap(q.cur)-len(q.cur) >= n {
		return
	}
	if len(q.cur) > 0 {
		q.full = append(q.full, q.cur)
	}
	q.cur = q.chunk(n)
}

// chunk returns an empty chunk with room for n bytes.
func (q *wqueue) chunk(n int) []byte {
	for i := len(q.free) - 1; i >= 0; i-- {
		if c := q.free[i]; cap(c) >= n {
			q.free[i] = q.free[len(q.free)-1]
			q.free[len(q.free)-1] = nil
			q.free = q.free[:len(q.free)-1]
			return c[:0]
		}
	}
	size := chunkSize
	if n > chunkSize {
		size = max(n, bigChunk)
	}
	if p := poolOf(size); p != nil {
		if b, ok := p.Get().(*[]byte); ok {
			return (*b)[:0]
		}
	}
	return make([]byte, 0, size)
}

// Chunks beyond what a connection keeps go to a pool shared by every
// connection: with fifty clients writing 100 KB values, the queue of one
// connection holds megabytes at a time, and allocating the chunks anew
// was the proxy's whole allocation rate (400 MB in 3 s) and most of its
// page faults. The garbage collector still empties the pools when they
// go unused.
var chunkPool, bigChunkPool sync.Pool

func poolOf(size int) *sync.Pool {
	switch size {
	case chunkSize:
		return &chunkPool
	case bigChunk:
		return &bigChunkPool
	}
	return nil
}

// appendCommand encodes one command at the tail.
func (q *wqueue) appendCommand(args [][]byte) {
	q.cur = resp.AppendCommand(q.cur, args)
}

// take hands everything queued to a writer, which owns it until it gives
// it back with recycle.
func (q *wqueue) take() net.Buffers {
	bufs := append(q.iov[:0], q.full...)
	if len(q.cur) > 0 {
		bufs = append(bufs, q.cur)
	}
	clear(q.full)
	q.full = q.full[:0]
	q.cur = nil
	q.iov = nil
	return bufs
}

// recycle takes back the chunks of a finished write, keeping a few of
// them for reuse; bufs is the slice take returned.
func (q *wqueue) recycle(bufs net.Buffers) {
	for _, b := range bufs {
		switch {
		case b == nil:
		case len(q.free) < keepChunks && cap(b) <= keepBuffer:
			q.free = append(q.free, b[:0])
		case poolOf(cap(b)) != nil:
			b = b[:0]
			poolOf(cap(b)).Put(&b)
		}
	}
	clear(bufs)
	if q.iov == nil {
		q.iov = bufs[:0]
	}
}

// reset drops everything queued.
func (q *wqueue) reset() {
	q.recycle(q.take())
}

// write writes bufs, a slice take returned, with one writev where the
// connection supports it. The caller holds conn.writing.
func (q *wqueue) write(nc net.Conn, bufs net.Buffers) error {
	q.wv = append(q.wv[:0], bufs...)
	var err error
	if w, ok := nc.(interface{ Writev([][]byte) (int64, error) }); ok {
		_, err = w.Writev(q.wv) // rawio.Conn
	} else {
		_, err = q.wv.WriteTo(nc)
	}
	clear(q.wv[:cap(q.wv)])
	return err
}
