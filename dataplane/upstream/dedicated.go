package upstream

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// Dedicated is a connection to one node that a single client has to
// itself, for commands that leave state on the connection: MULTI/EXEC and
// WATCH, blocking pops, SUBSCRIBE, CLIENT TRACKING, HELLO 3.
//
// Send and Next may run at the same time as each other (one goroutine
// reading pushes while another subscribes), but neither concurrently with
// itself. Release hands the connection back once both have returned.
type Dedicated struct {
	pool *dedicatedPool
	name string
	addr string
	nc   net.Conn

	wbuf  []byte
	buf   []byte
	from  int   // start of unread bytes in buf
	proto uint8 // RESP version, 0 for 2 (RESET returns to it)
	id    int64 // Redis's CLIENT ID of the connection

	mu     sync.Mutex
	broken error
}

// dedicatedPool bounds a node's dedicated connections and keeps a few
// idle ones for reuse.
type dedicatedPool struct {
	n *Node
	// order makes acquisitions run one at a time, a dial included, so a
	// client that asked first is not overtaken by one that found an idle
	// connection while the first was dialing: its blocking command
	// reaches Redis first, and Redis serves blocked clients first come
	// first served. Dials are rare; idle connections are reused.
	order  sync.Mutex
	mu     sync.Mutex
	idle   []*Dedicated
	open   int
	closed bool
}

func (p *dedicatedPool) init(n *Node) { p.n = n }

// Dedicated returns a connection for name's exclusive use, reusing an idle
// one or dialing a new one. When the node's limit is reached it fails at
// once rather than waiting for one to be released.
func (n *Node) Dedicated(ctx context.Context, name string) (*Dedicated, error) {
	p := &n.ded
	p.order.Lock()
	defer p.order.Unlock()
	p.mu.Lock()
	for len(p.idle) > 0 && !p.closed {
		d := p.idle[len(p.idle)-1]
		p.idle[len(p.idle)-1] = nil
		p.idle = p.idle[:len(p.idle)-1]
		if d.alive() {
			p.mu.Unlock()
			d.name = name
			return d, nil
		}
		// Redis closed it while idle (its timeout setting, a restart).
		p.open--
		_ = d.nc.Close()
	}
	switch {
	case p.closed:
		p.mu.Unlock()
		return nil, &Error{What: ErrClosed, Upstream: name, Addr: n.addr}
	case p.open >= n.opts.DedicatedMax:
		p.mu.Unlock()
		return nil, &Error{What: ErrNoDedicated, Upstream: name, Addr: n.addr, Limit: n.opts.DedicatedMax}
	}
	p.open++
	p.mu.Unlock()
	if open, cause := n.breaker.open(); open {
		p.forget()
		return nil, &Error{What: ErrUnavailable, Upstream: name, Addr: n.addr, Cause: cause}
	}
	nc, err := n.dialer.dial(ctx, n.addr, 2)
	if err != nil {
		p.forget()
		n.breaker.failure(time.Now(), err)
		return nil, &Error{What: ErrUnavailable, Upstream: name, Addr: n.addr, Cause: err}
	}
	d := &Dedicated{pool: p, name: name, addr: n.addr, nc: nc, buf: make([]byte, 0, 4096)}
	if err := d.learnID(ctx); err != nil {
		_ = d.fail(err)
		d.Release()
		return nil, &Error{What: ErrUnavailable, Upstream: name, Addr: n.addr, Cause: err}
	}
	return d, nil
}

// learnID asks Redis for the connection's CLIENT ID once, when it is
// dialled (RESET keeps it): CLIENT UNBLOCK and CLIENT TRACKING REDIRECT
// name the connection by it.
func (d *Dedicated) learnID(ctx context.Context) error {
	reply, err := d.roundTrip(ctx, clientIDArgs)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(string(reply), ":"), "\r\n"), 10, 64)
	if err != nil {
		return fmt.Errorf("CLIENT ID answered %q", reply)
	}
	d.id = id
	return nil
}

// ID is Redis's CLIENT ID of the connection.
func (d *Dedicated) ID() int64 { return d.id }

// roundTrip sends one command and returns its reply (an error reply
// included), within the node's timeout. It is for a connection nothing
// else reads yet: setting it up, before a relay or a caller takes it.
func (d *Dedicated) roundTrip(ctx context.Context, args [][]byte) ([]byte, error) {
	if d.pool != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.pool.n.opts.Timeout)
		defer cancel()
	}
	if err := d.Send(args); err != nil {
		return nil, err
	}
	reply, err := d.Next(ctx)
	if err != nil {
		return nil, d.fail(fmt.Errorf("%s: %w", strings.ToLower(string(args[0])), err))
	}
	_ = d.nc.SetReadDeadline(time.Time{})
	return reply, nil
}

var clientIDArgs = [][]byte{[]byte("CLIENT"), []byte("ID")}

// Blocked names d for CLIENT UNBLOCK while a blocking command waits on
// it; it copies what it needs, so it stays safe to use after d is
// released.
func (d *Dedicated) Blocked() *Blocked {
	if d.pool == nil {
		return nil
	}
	return &Blocked{n: d.pool.n, name: d.name, id: d.id}
}

// Blocked is a dedicated connection a blocking command waits on.
type Blocked struct {
	n    *Node
	name string
	id   int64
}

// Unblock ends the blocking command, as CLIENT UNBLOCK does (mode: nil,
// TIMEOUT or ERROR), by sending CLIENT UNBLOCK for the connection's id on
// one of the node's shared connections, and returns Redis's answer (:0
// once the command has ended by itself).
func (b *Blocked) Unblock(ctx context.Context, mode []byte) []byte {
	args := [][]byte{[]byte("CLIENT"), []byte("UNBLOCK"), []byte(strconv.FormatInt(b.id, 10))}
	if mode != nil {
		args = append(args, mode)
	}
	r := &engine.Request{}
	r.Cmd.Args = args
	r.Cmd.Spec = resp.Resolve(args)
	b.n.Serve(ctx, b.name, engine.Batch{r})
	return r.Raw()
}

// Addr is the node's address.
func (d *Dedicated) Addr() string { return d.addr }

// alive reports whether an idle connection is still open, by peeking at
// its socket without blocking: end of file or an error means Redis closed
// it. (A read with a past deadline would not do: Go fails it before
// asking the kernel.)
func (d *Dedicated) alive() bool {
	nc := d.nc
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := true
	err = rc.Read(func(fd uintptr) bool {
		var one [1]byte
		n, _, err := syscall.Recvfrom(int(fd), one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
		case err != nil || n == 0:
			alive = false
		}
		return true
	})
	return alive && err == nil
}

// forget drops a connection from the count.
func (p *dedicatedPool) forget() {
	p.mu.Lock()
	p.open--
	p.mu.Unlock()
}

// count returns the open and idle dedicated connections.
func (p *dedicatedPool) count() (open, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open, len(p.idle)
}

// close closes the idle connections; ones in use close on Release.
func (p *dedicatedPool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle = nil
	p.closed = true
	p.open -= len(idle)
	p.mu.Unlock()
	for _, d := range idle {
		_ = d.nc.Close()
	}
}

// Send writes commands, each an argument list, in one write.
func (d *Dedicated) Send(cmds ...[][]byte) error {
	if err := d.err(); err != nil {
		return &Error{What: ErrConnLost, Upstream: d.name, Addr: d.addr, Cause: err}
	}
	d.wbuf = d.wbuf[:0]
	for _, args := range cmds {
		d.wbuf = resp.AppendCommand(d.wbuf, args)
	}
	if _, err := d.nc.Write(d.wbuf); err != nil {
		return d.fail(fmt.Errorf("write: %w", err))
	}
	return nil
}

// Next returns the next reply or push frame, raw, valid until the next
// call of Next. It waits until ctx ends; a wait cut short by ctx leaves
// the connection usable.
func (d *Dedicated) Next(ctx context.Context) ([]byte, error) {
	if err := d.err(); err != nil {
		return nil, &Error{What: ErrConnLost, Upstream: d.name, Addr: d.addr, Cause: err}
	}
	if d.from > 0 {
		d.buf = d.buf[:copy(d.buf, d.buf[d.from:])]
		d.from = 0
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = d.nc.SetReadDeadline(dl)
	} else {
		_ = d.nc.SetReadDeadline(time.Time{})
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = d.nc.SetReadDeadline(time.Now()) })
		defer stop()
	}
	for {
		n, err := resp.ReplyLen(d.buf)
		if err != nil {
			return nil, d.fail(fmt.Errorf("bad reply from redis: %w", err))
		}
		if n > 0 {
			d.from = n
			return d.buf[:n], nil
		}
		if len(d.buf) == cap(d.buf) {
			d.buf = append(d.buf, make([]byte, cap(d.buf))...)[:len(d.buf)]
		}
		m, err := d.nc.Read(d.buf[len(d.buf):cap(d.buf)])
		d.buf = d.buf[:len(d.buf)+m]
		if err != nil && m == 0 {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// Only ctx sets deadlines here; the clock may pass the
				// deadline a moment before ctx notices.
				cause := ctx.Err()
				if cause == nil {
					cause = context.DeadlineExceeded
				}
				return nil, fmt.Errorf("waiting for redis: %w", cause)
			}
			return nil, d.fail(fmt.Errorf("read: %w", err))
		}
	}
}

// Close discards the connection instead of returning it to the pool, for
// a caller that cannot tell what state it is in.
func (d *Dedicated) Close() {
	_ = d.fail(errors.New("closed by its user"))
	d.Release()
}

// Release resets the connection (RESET drops transactions, watches,
// subscriptions, tracking, the selected database and the protocol
// version) and returns it to the pool, or closes it when it is broken, the
// reset fails, or enough connections are idle already.
func (d *Dedicated) Release() {
	p := d.pool
	if p == nil {
		return // released twice
	}
	d.pool = nil
	if d.err() == nil {
		if err := d.reset(p.n); err != nil {
			_ = d.fail(err)
		}
	}
	p.mu.Lock()
	if d.err() != nil || p.closed || len(p.idle) >= p.n.opts.DedicatedIdle {
		p.open--
		p.mu.Unlock()
		_ = d.nc.Close()
		return
	}
	d.pool = p
	d.name = ""
	p.idle = append(p.idle, d)
	p.mu.Unlock()
}

var resetReply = []byte("+RESET\r\n")

// reset sends RESET and skips every frame before its reply (late replies,
// pub/sub messages). RESET also logs the connection out, so AUTH follows,
// and then the on-connect commands.
func (d *Dedicated) reset(n *Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), n.opts.Timeout)
	defer cancel()
	user, pass, err := n.dialer.secrets()
	if err != nil {
		return err
	}
	d.wbuf = resp.AppendCommand(d.wbuf[:0], [][]byte{[]byte("RESET")})
	if pass != "" {
		d.wbuf = appendAuth(d.wbuf, user, pass)
	}
	// RESET undoes the on-connect commands too (READONLY among them).
	d.wbuf = append(d.wbuf, n.dialer.setup...)
	if _, err := d.nc.Write(d.wbuf); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	for {
		frame, err := d.Next(ctx)
		if err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		if bytes.Equal(frame, resetReply) {
			break
		}
	}
	if pass != "" {
		frame, err := d.Next(ctx)
		if err != nil {
			return fmt.Errorf("reset: auth: %w", err)
		}
		if err := replyError(frame); err != nil {
			return fmt.Errorf("reset: auth: %w", err)
		}
	}
	for range n.dialer.nsetup {
		frame, err := d.Next(ctx)
		if err != nil {
			return fmt.Errorf("reset: on-connect: %w", err)
		}
		if err := replyError(frame); err != nil {
			return fmt.Errorf("reset: on-connect: %w", err)
		}
	}
	_ = d.nc.SetReadDeadline(time.Time{})
	d.proto = 0
	return nil
}

// Login sends auth (an AUTH command) and fails with Redis's refusal; the
// release's RESET logs the connection out again.
func (d *Dedicated) Login(ctx context.Context, auth [][]byte) error {
	reply, err := d.roundTrip(ctx, auth)
	if err != nil {
		return err
	}
	return replyError(reply)
}

// Protocol makes the connection speak RESP version proto (2 or 3), with
// HELLO when it speaks the other, so a client's dedicated connection
// answers in the client's protocol. Call it before Send and Next are in
// use.
func (d *Dedicated) Protocol(ctx context.Context, proto uint8) error {
	if proto != 3 {
		proto = 0
	}
	if d.proto == proto {
		return nil
	}
	reply, err := d.roundTrip(ctx, helloArgs[max(proto, 2)])
	if err != nil {
		return err
	}
	if err := replyError(reply); err != nil {
		return fmt.Errorf("keyway: upstream %s (%s) refused HELLO %d: %w", d.name, d.addr, max(proto, 2), err)
	}
	d.proto = proto
	return nil
}

func (d *Dedicated) err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.broken
}

// fail marks the connection broken and returns err labeled with the
// upstream.
func (d *Dedicated) fail(err error) error {
	d.mu.Lock()
	if d.broken == nil {
		d.broken = err
	}
	d.mu.Unlock()
	return &Error{What: ErrConnLost, Upstream: d.name, Addr: d.addr, Cause: err}
}
