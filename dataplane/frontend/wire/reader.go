// Package wire is the client side of the socket: it frames a client's
// bytes into commands (Reader), and bounds what one socket may cost the
// proxy below redcon (Listener, Conn: write deadlines, the hand-off of
// each connection to the proxy's own read loop, the drain's hold on
// Accept).
package wire

import (
	"net"

	"github.com/tidwall/redcon"

	"keyway.dev/dataplane/resp"
)

// Reader frames a client's requests. It replaces redcon's reader on the
// hot path for three reasons measured under load: redcon restarts its
// buffer at 4 KiB after every read and doubles it (six reads and five
// allocations for one 100 KB SET), copies every command into a fresh Raw,
// and sits behind a bufio.Reader that copies again; and the limits need a
// scanner of their own in front of it, so every byte was parsed twice.
//
// Here the scanner is the only pass over the bytes that arrive, a command
// is split into arguments once it is complete, and the buffer is reused:
// the commands Next returns are slices of it, valid until the next call,
// which is the engine contract (Request bytes belong to the server once
// Serve returns; an engine that keeps them copies them). The buffer is
// sized for the whole command when the scanner knows it (a big bulk), so
// a 100 KB value is read in one or two reads into memory that the next
// value reuses.
type Reader struct {
	nc   net.Conn
	scan *resp.Scanner
	lim  resp.Limits

	buf     []byte // buf[:start] holds the commands of the last Next
	start   int    // first byte of the command being read
	scanned int    // bytes fed to the scanner
	end     int    // bytes read

	args  [][]byte // argument slices of the commands of the last Next
	split [][]byte // scratch for resp.ReadCommand
	// filled is set when the last read filled all the room it had.
	filled bool
	// err is a scanner error found after complete commands that must be
	// served first, as Redis serves them; Next returns it afterwards.
	err error
}

// Buffer sizes: a connection starts small so that thousands of idle
// ones cost little, and moves to bigger buffers when a read fills most
// of the one it has, which is what pipelines do.
const (
	readMin  = 2 << 10
	readMax  = 64 << 10
	argChunk = 256
	aheadMax = 256 << 10
	keepMax  = 1 << 20
)

// NewReader returns a Reader of nc that refuses requests over lim.
func NewReader(nc net.Conn, lim resp.Limits) *Reader {
	return &Reader{nc: nc, scan: resp.NewScanner(lim), lim: lim}
}

// Next appends to cmds every complete command that has arrived, reading
// from the connection until there is at least one. A malformed or
// oversized request returns the commands before it with no error; the
// next call returns the error (a *resp.QueryError) without reading.
// Commands returned by an earlier call are invalid from this call on.
func (r *Reader) Next(cmds []redcon.Command) ([]redcon.Command, error) {
	r.recycle()
	if r.err != nil {
		return cmds, r.err
	}
	for {
		cmds = r.frame(cmds)
		if len(cmds) > 0 {
			return cmds, nil
		}
		if r.err != nil {
			return cmds, r.err
		}
		if err := r.fill(); err != nil {
			return cmds, err
		}
	}
}

// Take appends to dst the bytes read after the commands of the last Next,
// which are not framed yet, and forgets them: a connection that becomes
// a raw relay (MONITOR, SYNC) hands them to its upstream.
func (r *Reader) Take(dst []byte) []byte {
	if r.start < r.end {
		dst = append(dst, r.buf[r.start:r.end]...)
		r.start = r.end
	}
	return dst
}

// recycle makes the room taken by commands already served free again.
func (r *Reader) recycle() {
	r.args = r.args[:0]
	if r.start < r.end {
		return // part of the next command is in; fill moves it when needed
	}
	r.start, r.scanned, r.end = 0, 0, 0
	if len(r.buf) > keepMax {
		r.buf = nil // a huge command is over; do not hold its buffer idle
	}
}

// frame feeds what was read since the last call to the scanner and
// appends the commands it completes.
func (r *Reader) frame(cmds []redcon.Command) []redcon.Command {
	for r.scanned < r.end {
		n, done, err := r.scan.Next(r.buf[r.scanned:r.end])
		r.scanned += n
		if err != nil {
			r.err = err
			return cmds
		}
		if !done {
			if r.scan.Pending() == 0 {
				r.start = r.scanned // an empty command Redis skips
			}
			continue
		}
		raw := r.buf[r.start:r.scanned:r.scanned]
		r.start = r.scanned
		// The scanner passes over empty commands Redis skips ("*0", blank
		// lines) without stopping, so raw may begin with some.
		var split [][]byte
		for len(raw) > 0 {
			var m int
			var err error
			m, split, err = resp.ReadCommand(raw, r.lim, r.split[:0])
			if err != nil || m == 0 {
				split = split[:0] // the scanner accepted it: cannot happen
				break
			}
			if len(split) > 0 {
				raw = raw[:m:m]
				break
			}
			raw = raw[m:]
		}
		r.split = split[:0]
		if len(split) == 0 {
			continue // an inline line of only spaces
		}
		if len(r.args)+len(split) > cap(r.args) {
			// Commands before this one still point into the old slice.
			r.args = make([][]byte, 0, max(min(2*cap(r.args), argChunk), len(split), 8))
		}
		at := len(r.args)
		r.args = append(r.args, split...)
		clear(split)
		cmds = append(cmds, redcon.Command{Raw: raw, Args: r.args[at:len(r.args):len(r.args)]})
	}
	return cmds
}

// fill reads once, into the free end of the buffer, after making room.
func (r *Reader) fill() error {
	if free := len(r.buf) - r.end; free <= len(r.buf)/8 || free < r.owed() {
		r.room()
	}
	n, err := r.nc.Read(r.buf[r.end:])
	r.filled = n == len(r.buf)-r.end
	r.end += n
	if n > 0 {
		return nil
	}
	return err
}

// owed is how many more bytes the command being read needs at least,
// when the scanner knows (inside a bulk), plus room for what follows.
// It is never more than what has arrived of the command or aheadMax,
// whichever is larger: a header may announce 512 MB and send nothing,
// and memory must follow the bytes that did arrive, not the promise.
func (r *Reader) owed() int {
	if need := r.scan.Owed(); need > 0 {
		return int(min(need, int64(max(r.end-r.start, aheadMax)))) + readMin
	}
	return 0
}

// room moves the incomplete command to the front of the buffer, or to a
// bigger one when it does not fit with what it still needs. Only called
// with every complete command served, so nothing else lives in it. A
// client whose last read filled the buffer sends faster than one read
// takes, and gets a bigger one, up to readMax.
func (r *Reader) room() {
	partial := r.end - r.start
	need := partial + max(r.owed(), readMin)
	size := len(r.buf)
	if r.filled && size < readMax {
		size = min(2*size, readMax)
	}
	if size = max(size, need, readMin); size > len(r.buf) {
		nb := make([]byte, size)
		copy(nb, r.buf[r.start:r.end])
		r.buf = nb
	} else {
		copy(r.buf, r.buf[r.start:r.end])
	}
	r.scanned -= r.start
	r.end = partial
	r.start = 0
}
