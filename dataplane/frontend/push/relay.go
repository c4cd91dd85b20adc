// Package push carries what Redis sends a client without being asked:
// the messages of a subscribed connection (Relay, and on a cluster the
// Fanout of node-local channels to the other primaries), written to the
// client's socket by an Outbox, in order with the proxy's own replies.
package push

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"

	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// Relay carries one subscribed client's frames from its dedicated
// upstream connection to the client's Outbox, which writes
// them to the socket: its read goroutine takes frames from Redis as they
// arrive. Every command of a RESP2 subscribed client is answered by Redis
// on the dedicated connection, in order with the messages.
type Relay struct {
	d   *upstream.Dedicated
	out *Outbox

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
	// extra relays one of a cluster's other nodes, for the channels each
	// node publishes alone (Fanout): only messages pass.
	extra bool

	ctx      context.Context
	cancel   context.CancelFunc
	readDone chan struct{}
}

// NewRelay prepares a relay of d to out for a client that speaks RESP3
// when resp3 is set; Start runs it.
func NewRelay(ctx context.Context, d *upstream.Dedicated, out *Outbox, resp3 bool) *Relay {
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
	token := []byte("keyway-mark-" + hex.EncodeToString(raw[:]))
	r := &Relay{
		d:        d,
		out:      out,
		resp3:    resp3,
		mark:     [][]byte{[]byte("PING"), token},
		marks:    make(chan bool, 1),
		readDone: make(chan struct{}),
	}
	bulk := append([]byte("$"+strconv.Itoa(len(token))+"\r\n"), token...)
	bulk = append(bulk, "\r\n"...)
	r.markOff = bulk
	r.markSub = append([]byte("*2\r\n$4\r\npong\r\n"), bulk...)
	r.ctx, r.cancel = context.WithCancel(ctx)
	return r
}

// Start runs the read goroutine; Stop ends it.
func (r *Relay) Start() { go r.read() }

// Marker is the command to send after one that may change the
// subscriptions; Await then says whether the connection is still
// subscribed, once every frame before the marker's answer is queued.
func (r *Relay) Marker() [][]byte { return r.mark }

// RESP3 reports whether the relay serves a RESP3 client.
func (r *Relay) RESP3() bool { return r.resp3 }

// read relays frames until the connection leaves pub/sub mode, the
// context ends, or the relay fails.
func (r *Relay) read() {
	defer close(r.readDone)
	for {
		frame, err := r.d.Next(r.ctx)
		if err != nil {
			if r.ctx.Err() == nil {
				r.out.fail(err)
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
		if r.extra && !isNodeLocalMessage(frame) {
			// The client's own connection confirms and replies, and
			// carries the messages every node hears.
			continue
		}
		if !r.out.Enqueue(frame) {
			return
		}
	}
}

// count notes the subscription count of a RESP3 confirmation push:
// [kind, channel, count].
func (r *Relay) count(frame []byte) {
	kind, rest, ok := PushKind(frame)
	if !ok {
		return
	}
	n, ok := lastInt(rest)
	if !ok {
		return
	}
	switch string(kind) {
	case "subscribe", "psubscribe", "unsubscribe", "punsubscribe":
		r.subs = n
	case "ssubscribe", "sunsubscribe":
		r.shards = n
	}
}

// PushKind reads the first element of a push frame, a bulk string, and
// returns it with the bytes after it. It runs on every message a RESP3
// relay passes, so it allocates nothing.
func PushKind(frame []byte) ([]byte, []byte, bool) {
	i := bytes.Index(frame, crlf)
	if i < 0 {
		return nil, nil, false
	}
	kind, rest, ok := bulkAt(frame[i+2:])
	if !ok || len(kind) > 16 {
		return nil, nil, false
	}
	return kind, rest, true
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

// isNodeLocalMessage reports a message of a channel only one node of a
// cluster publishes (Fanout): [message, channel, payload] or
// [pmessage, pattern, channel, payload].
func isNodeLocalMessage(frame []byte) bool {
	kind, rest, ok := PushKind(frame)
	if !ok || (string(kind) != "message" && string(kind) != "pmessage") {
		return false
	}
	if string(kind) == "pmessage" {
		n, err := resp.ReplyLen(rest)
		if err != nil || n == 0 {
			return false
		}
		rest = rest[n:]
	}
	ch, _, ok := bulkAt(rest)
	return ok && nodeLocal(ch)
}

// bulkAt returns the bulk string at the start of b and the bytes after
// it.
func bulkAt(b []byte) (value, rest []byte, ok bool) {
	if len(b) == 0 || b[0] != '$' {
		return nil, nil, false
	}
	i := bytes.Index(b, crlf)
	if i < 2 {
		return nil, nil, false
	}
	n := 0
	for _, c := range b[1:i] {
		if c < '0' || c > '9' || n > 1<<30 {
			return nil, nil, false
		}
		n = n*10 + int(c-'0')
	}
	if i+2+n+2 > len(b) {
		return nil, nil, false
	}
	return b[i+2 : i+2+n], b[i+2+n+2:], true
}

// signal hands a marker's answer to the client goroutine, which sends at
// most one marker at a time and waits for it.
func (r *Relay) signal(subscribed bool) {
	select {
	case r.marks <- subscribed:
	default:
	}
}

// Await waits for the answer to the marker just sent: whether the
// connection is still subscribed. ok is false when the relay ended
// without one (the upstream or the client went away).
func (r *Relay) Await() (subscribed, ok bool) {
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

// Stop ends the relay: reading stops at once (a frame half read stays in
// the connection's buffer, so the connection can still be reset).
func (r *Relay) Stop() {
	r.cancel()
	<-r.readDone
}

// IsSubscriptionChange reports the commands that add or remove
// subscriptions, after which the client goroutine asks Redis whether the
// connection is still in pub/sub mode.
func IsSubscriptionChange(s *resp.Spec) bool {
	if s == nil || !s.Has(resp.FlagPubSub|resp.FlagConnState) {
		return false
	}
	switch s.Name {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE":
		return true
	}
	return false
}

// IsSubscribe reports the commands that enter pub/sub mode.
func IsSubscribe(s *resp.Spec) bool {
	if s == nil {
		return false
	}
	switch s.Name {
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE":
		return true
	}
	return false
}
