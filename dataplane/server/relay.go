package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"sync"

	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// relay carries one subscribed client's pushes from its dedicated
// upstream connection to its socket. Two goroutines run per relay: read
// takes frames from Redis as they arrive and queues them, write hands the
// queue to the socket in as few writes as it can. The queue is what the
// client has not taken yet; when it would pass the limit the client is
// dropped, as Redis drops a pub/sub client over its
// client-output-buffer-limit, so a client that stops reading cannot grow
// the proxy's memory.
//
// While a relay runs it is the only writer of replies to the client:
// every command of a subscribed client is answered by Redis on the
// dedicated connection, in order with the messages.
type relay struct {
	d     *upstream.Dedicated
	nc    net.Conn
	limit int64

	// mark is the PING the client goroutine sends after each command that
	// may change the subscriptions. Redis answers it in the pub/sub shape
	// while the connection is subscribed (markSub) and as a plain bulk
	// once it is not (markOff); the token is random, so a client cannot
	// forge it.
	mark    [][]byte
	markSub []byte
	markOff []byte
	marks   chan bool // read → client goroutine: still subscribed?

	// resp3 relays a RESP3 connection, where PING answers the same
	// whether subscribed or not; the read goroutine counts subscriptions
	// from Redis's confirmations instead (subs: channels and patterns,
	// shards: shard channels, as Redis counts them) and the marker only
	// says that every confirmation before it has been read.
	resp3  bool
	subs   int64
	shards int64

	ctx       context.Context
	cancel    context.CancelFunc
	readDone  chan struct{}
	writeDone chan struct{}
	stopWrite chan struct{} // closed to make write drain the queue and return
	wake      chan struct{}

	mu     sync.Mutex
	out    []byte // queued frames, not yet handed to write
	queued int64  // bytes in out plus bytes write is writing
	// lost is why the relay dropped the client (overflow, a dead
	// upstream or socket), nil while it is healthy.
	lost error
}

// errRelayOverflow is why a client that does not read its messages is
// dropped.
var errRelayOverflow = errors.New("pub/sub output over the limit")

// newRelay prepares a relay; start runs it.
func newRelay(ctx context.Context, d *upstream.Dedicated, nc net.Conn, limit int64, resp3 bool) *relay {
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
	token := []byte("keyway-mark-" + hex.EncodeToString(raw[:]))
	r := &relay{
		d:         d,
		nc:        nc,
		limit:     limit,
		resp3:     resp3,
		mark:      [][]byte{[]byte("PING"), token},
		marks:     make(chan bool, 1),
		readDone:  make(chan struct{}),
		writeDone: make(chan struct{}),
		stopWrite: make(chan struct{}),
		wake:      make(chan struct{}, 1),
	}
	bulk := append([]byte("$"+strconv.Itoa(len(token))+"\r\n"), token...)
	bulk = append(bulk, "\r\n"...)
	r.markOff = bulk
	r.markSub = append([]byte("*2\r\n$4\r\npong\r\n"), bulk...)
	r.ctx, r.cancel = context.WithCancel(ctx)
	return r
}

// start runs the two goroutines; stop ends them.
func (r *relay) start() {
	go r.read()
	go r.write()
}

// read relays frames until the connection leaves pub/sub mode, the
// context ends, or the relay fails.
func (r *relay) read() {
	defer close(r.readDone)
	for {
		frame, err := r.d.Next(r.ctx)
		if err != nil {
			if r.ctx.Err() == nil {
				r.fail(err)
			}
			return
		}
		switch {
		case r.resp3 && bytes.Equal(frame, r.markOff):
			subscribed := r.subs > 0 || r.shards > 0
			r.signal(subscribed)
			if !subscribed {
				return
			}
			continue
		case r.resp3 && len(frame) > 0 && frame[0] == '>':
			r.count(frame)
		case bytes.Equal(frame, r.markSub):
			r.signal(true)
			continue
		case bytes.Equal(frame, r.markOff):
			// Nothing is pushed to a connection that is not subscribed,
			// so reading stops here and the connection can be released.
			r.signal(false)
			return
		}
		if !r.enqueue(frame) {
			return
		}
	}
}

// count notes the subscription count of a RESP3 confirmation push:
// [kind, channel, count].
func (r *relay) count(frame []byte) {
	kind, rest, ok := pushKind(frame)
	if !ok {
		return
	}
	n, ok := lastInt(rest)
	if !ok {
		return
	}
	switch kind {
	case "subscribe", "psubscribe", "unsubscribe", "punsubscribe":
		r.subs = n
	case "ssubscribe", "sunsubscribe":
		r.shards = n
	}
}

// pushKind reads the first element of a push frame, a bulk string, and
// returns it with the bytes after it.
func pushKind(frame []byte) (string, []byte, bool) {
	i := bytes.Index(frame, crlf)
	if i < 0 || i+2 >= len(frame) || frame[i+2] != '$' {
		return "", nil, false
	}
	b := frame[i+2:]
	j := bytes.Index(b, crlf)
	if j < 0 {
		return "", nil, false
	}
	n, err := strconv.Atoi(string(b[1:j]))
	if err != nil || n < 0 || j+2+n+2 > len(b) || n > 16 {
		return "", nil, false
	}
	return string(b[j+2 : j+2+n]), b[j+2+n+2:], true
}

// lastInt reads the integer that ends a confirmation, after the channel.
func lastInt(rest []byte) (int64, bool) {
	n, err := resp.ReplyLen(rest)
	if err != nil || n == 0 || n >= len(rest) || rest[n] != ':' {
		return 0, false
	}
	v, err := strconv.ParseInt(string(bytes.TrimRight(rest[n+1:], "\r\n")), 10, 64)
	return v, err == nil
}

var crlf = []byte("\r\n")

// signal hands a marker's answer to the client goroutine, which sends at
// most one marker at a time and waits for it.
func (r *relay) signal(subscribed bool) {
	select {
	case r.marks <- subscribed:
	default:
	}
}

// enqueue adds frame to the queue, or fails the relay when the client
// has left too much unread.
func (r *relay) enqueue(frame []byte) bool {
	r.mu.Lock()
	if r.lost != nil {
		r.mu.Unlock()
		return false
	}
	if r.limit > 0 && r.queued+int64(len(frame)) > r.limit {
		r.mu.Unlock()
		r.fail(errRelayOverflow)
		return false
	}
	r.out = append(r.out, frame...)
	r.queued += int64(len(frame))
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return true
}

// write hands queued frames to the socket until stopWrite, then writes
// what is left and returns.
func (r *relay) write() {
	defer close(r.writeDone)
	var buf []byte
	for {
		stopping := false
		select {
		case <-r.wake:
		case <-r.stopWrite:
			stopping = true
		}
		r.mu.Lock()
		buf, r.out = r.out, buf[:0]
		r.mu.Unlock()
		if len(buf) > 0 {
			_, err := r.nc.Write(buf)
			r.mu.Lock()
			r.queued -= int64(len(buf))
			r.mu.Unlock()
			if err != nil {
				r.fail(err)
				return
			}
		}
		if cap(buf) > maxRelayBuffer {
			buf = nil // a burst passed; do not hold its memory
		}
		if stopping {
			return
		}
	}
}

// maxRelayBuffer is the largest write buffer a relay keeps between
// bursts.
const maxRelayBuffer = 1 << 20

// fail records why the relay gave up and closes the client's socket, so
// the client's own goroutine sees the end and releases the connection.
func (r *relay) fail(err error) {
	r.mu.Lock()
	first := r.lost == nil
	if first {
		r.lost = err
	}
	r.mu.Unlock()
	if first {
		_ = r.nc.Close()
	}
}

// err returns why the relay failed, or nil.
func (r *relay) err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost
}

// await waits for the answer to the marker just sent: whether the
// connection is still subscribed. ok is false when the relay ended
// without one (the upstream or the client went away).
func (r *relay) await() (subscribed, ok bool) {
	select {
	case s := <-r.marks:
		return s, true
	case <-r.readDone:
		select {
		case s := <-r.marks:
			return s, true
		default:
			return false, false
		}
	}
}

// stop ends the relay: reading stops at once (a frame half read stays in
// the connection's buffer, so the connection can still be reset), and
// everything already queued is written before stop returns.
func (r *relay) stop() {
	r.cancel()
	<-r.readDone
	close(r.stopWrite)
	<-r.writeDone
}

// isSubscriptionChange reports the commands that add or remove
// subscriptions, after which the client goroutine asks Redis whether the
// connection is still in pub/sub mode.
func isSubscriptionChange(s *resp.Spec) bool {
	if s == nil || !s.Has(resp.FlagPubSub|resp.FlagConnState) {
		return false
	}
	switch s.Name {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE":
		return true
	}
	return false
}

// isSubscribe reports the commands that enter pub/sub mode.
func isSubscribe(s *resp.Spec) bool {
	if s == nil {
		return false
	}
	switch s.Name {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE":
		return true
	}
	return false
}
