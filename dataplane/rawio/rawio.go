//go:build linux

// Package rawio reads and writes the proxy's TCP sockets with raw system
// calls, still waiting on Go's network poller when a socket is not ready.
//
// Why: net.Conn's Read and Write tell the scheduler that a system call
// is starting and ending (entersyscall/exitsyscall). With GOMAXPROCS=1
// on a core shared with redis-server, the kernel often deschedules the
// proxy in the middle of one of those calls; the runtime's monitor
// thread then sees the P stuck in a "syscall", takes it away, starts
// another thread to run it, and from then on wakes every 20 µs to look
// again. Under 50 unpipelined clients that monitor alone was 9 % of the
// proxy's CPU, and the hand-offs most of its context switches. A read or
// write on a non-blocking socket never blocks, so it need not be
// announced: it is just a slow instruction.
package rawio

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"unsafe"
)

// Conn is a TCP connection whose Read, Write and Writev use raw system
// calls. Everything else (deadlines, Close, addresses) is the
// *net.TCPConn's, and a deadline still ends a wait for readiness.
type Conn struct {
	*net.TCPConn
	rc syscall.RawConn

	rmu     sync.Mutex
	rp      []byte
	rn      int
	rerr    syscall.Errno
	readFn  func(uintptr) bool
	wmu     sync.Mutex
	wbufs   [][]byte // what is left to write
	wn      int64
	werr    syscall.Errno
	iov     []syscall.Iovec
	writeFn func(uintptr) bool
	one     [1][]byte
}

// Wrap returns nc as a *Conn when it is a *net.TCPConn, and nc itself
// otherwise (a TLS connection, a pipe in a test).
func Wrap(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nc
	}
	c := &Conn{TCPConn: tc, rc: rc}
	// Built once: a closure made per call would escape to the heap.
	c.readFn = c.readOnce
	c.writeFn = c.writeSome
	return c
}

// Read implements net.Conn.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	c.rp, c.rn, c.rerr = p, 0, 0
	err := c.rc.Read(c.readFn)
	n, e := c.rn, c.rerr
	c.rp = nil
	c.rmu.Unlock()
	switch {
	case err != nil:
		return 0, err // a deadline or a closed connection, as net reports them
	case e != 0:
		return 0, c.opError("read", e)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readOnce is called by the poller with the socket's descriptor; false
// means the socket had nothing and the poller should wait for it.
func (c *Conn) readOnce(fd uintptr) bool {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&c.rp[0])), uintptr(len(c.rp)))
		switch e {
		case 0:
			c.rn = int(r)
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		c.rerr = e
		return true
	}
}

// Write implements net.Conn: all of p is written, or an error says why.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.one[0] = p
	n, err := c.writev(c.one[:])
	c.one[0] = nil
	return int(n), err
}

// Writev writes every buffer in order with as few writev(2) calls as the
// socket allows, like net.Buffers.WriteTo on a *net.TCPConn, and like it
// consumes bufs: its elements are resliced as they are written.
func (c *Conn) Writev(bufs [][]byte) (int64, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.writev(bufs)
}

func (c *Conn) writev(bufs [][]byte) (int64, error) {
	c.wbufs, c.wn, c.werr = bufs, 0, 0
	err := c.rc.Write(c.writeFn)
	n, e := c.wn, c.werr
	c.wbufs = nil
	clear(c.iov)
	switch {
	case err != nil:
		return n, err
	case e != 0:
		return n, c.opError("write", e)
	}
	return n, nil
}

// maxIovec is Linux's IOV_MAX.
const maxIovec = 1024

// writeSome writes until everything is out or the socket is full (false:
// the poller waits until it can take more and calls again).
func (c *Conn) writeSome(fd uintptr) bool {
	for {
		for len(c.wbufs) > 0 && len(c.wbufs[0]) == 0 {
			c.wbufs = c.wbufs[1:]
		}
		if len(c.wbufs) == 0 {
			return true
		}
		c.iov = c.iov[:0]
		for _, b := range c.wbufs {
			if len(b) == 0 {
				continue
			}
			if len(c.iov) == maxIovec {
				break
			}
			v := syscall.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			c.iov = append(c.iov, v)
		}
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&c.iov[0])), uintptr(len(c.iov)))
		switch e {
		case 0:
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			c.werr = e
			return true
		}
		c.wn += int64(r)
		c.consume(int(r))
	}
}

// consume drops n written bytes from the front of c.wbufs.
func (c *Conn) consume(n int) {
	for n > 0 && len(c.wbufs) > 0 {
		b := c.wbufs[0]
		if len(b) > n {
			c.wbufs[0] = b[n:]
			return
		}
		n -= len(b)
		c.wbufs = c.wbufs[1:]
	}
}

func (c *Conn) opError(op string, e syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, e)}
}
