package cluster

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/upstream"
	"keyway.dev/proto/backoff"
)

// maxRedirects bounds how often one batch follows MOVED and ASK, as
// cluster clients do, so that two nodes that disagree cannot bounce a
// request until its deadline. Waiting out a failover is bounded by the
// deadline alone.
const maxRedirects = 16

// outcome says what a reply means for the request it answers.
type outcome uint8

const (
	// final: the reply stands (data, or an error retrying cannot fix).
	final outcome = iota
	// moved: the slot has a new owner for good; update the map, resend.
	moved
	// ask: the slot is migrating and this key is already on addr; send it
	// there once, after ASKING.
	ask
	// busy: TRYAGAIN, CLUSTERDOWN, LOADING, MASTERDOWN: the cluster is
	// changing shape; wait a little and resend.
	busy
	// down: the node could not be reached and the request was never
	// sent; refresh, wait, resend (reads may go to a replica).
	down
	// lost: the connection broke after the request was sent, so whether
	// Redis ran it is unknown; only reads are resent.
	lost
)

// judge reads r's reply. For moved and ask it also returns the slot and
// address the redirect names.
func judge(r *engine.Request) (o outcome, slot int, addr string) {
	if err := r.Err(); err != nil {
		switch {
		case errors.Is(err, upstream.ErrUnavailable), errors.Is(err, upstream.ErrClosed):
			return down, 0, ""
		case errors.Is(err, upstream.ErrConnLost):
			return lost, 0, ""
		}
		return final, 0, ""
	}
	raw := r.Raw()
	if len(raw) < 2 || raw[0] != '-' {
		return final, 0, ""
	}
	switch {
	case bytes.HasPrefix(raw, []byte("-MOVED ")):
		if slot, addr, ok := redirect(raw[len("-MOVED "):]); ok {
			return moved, slot, addr
		}
	case bytes.HasPrefix(raw, []byte("-ASK ")):
		if slot, addr, ok := redirect(raw[len("-ASK "):]); ok {
			return ask, slot, addr
		}
	case bytes.HasPrefix(raw, []byte("-TRYAGAIN")),
		bytes.HasPrefix(raw, []byte("-CLUSTERDOWN")),
		bytes.HasPrefix(raw, []byte("-LOADING")),
		bytes.HasPrefix(raw, []byte("-MASTERDOWN")):
		return busy, 0, ""
	}
	return final, 0, ""
}

// redirect parses "3999 127.0.0.1:6381\r\n".
func redirect(b []byte) (int, string, bool) {
	b = bytes.TrimRight(b, "\r\n")
	sp := bytes.IndexByte(b, ' ')
	if sp < 0 {
		return 0, "", false
	}
	slot, err := strconv.Atoi(string(b[:sp]))
	if err != nil || slot < 0 || slot >= Slots {
		return 0, "", false
	}
	return slot, string(b[sp+1:]), true
}

// anyRetryable reports whether some reply of b asks for a retry; it is
// the fast path's check and reads only the first byte of good replies.
func anyRetryable(b engine.Batch) bool {
	for _, r := range b {
		if raw := r.Raw(); r.Err() != nil || (len(raw) > 0 && raw[0] == '-') {
			if o, _, _ := judge(r); o != final {
				return true
			}
		}
	}
	return false
}

// settle resends the leaves whose replies ask for it until every reply
// stands, the rounds run out or the request's deadline (the upstream's
// timeout from when the batch arrived, or ctx's if earlier) passes; then
// the last reply, an error, is the answer.
func (j *job) settle(ctx context.Context) {
	c := j.c
	deadline := j.start.Add(c.opts.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	type retry struct {
		i       int
		o       outcome
		askAddr string
	}
	var pending []retry
	redirects := 0
	for round := 0; ; round++ {
		pending = pending[:0]
		wait, redirected := false, false
		for i := range j.leaves {
			l := &j.leaves[i]
			o, slot, addr := judge(l.r)
			switch o {
			case final:
				continue
			case lost:
				if !readOnly(l.r) {
					continue // it may have run: resending could run it twice
				}
				c.kickRefresh()
			case moved:
				c.moved(slot, addr)
				redirected = true
			case ask:
				redirected = true
			case busy, down:
				wait = true
				c.kickRefresh()
			}
			pending = append(pending, retry{i: i, o: o, askAddr: addr})
		}
		if redirected {
			redirects++
		}
		if len(pending) == 0 || redirects > maxRedirects {
			return
		}
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		if wait {
			pause := min(pauseBefore(round), left)
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return
			}
		}
		t := c.top.Load()
		j.idx = j.idx[:0]
		for _, p := range pending {
			l := &j.leaves[p.i]
			switch {
			case p.o == ask:
				n, err := c.node(p.askAddr)
				if err != nil {
					continue
				}
				l.t = target{node: n, ask: true}
			case l.slot < 0:
				l.t = anyPrimary(t, l.r)
			default:
				tg, err := c.pick(t, l.slot, l.r, p.o == down || p.o == lost)
				if err != nil {
					continue
				}
				l.t = tg
			}
			j.idx = append(j.idx, p.i)
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		j.dispatch(rctx, j.idx)
		cancel()
	}
}

// pauseBefore is the pause before retry round n: short at first, since a
// TRYAGAIN during a migration clears in milliseconds, then longer for a
// failover, which takes the cluster's node timeout.
func pauseBefore(n int) time.Duration { return retryPause.Delay(n) }

var retryPause = backoff.Exponential{Min: 5 * time.Millisecond, Max: 100 * time.Millisecond}

// moved records that addr now serves slot and asks for a full refresh,
// since a slot seldom moves alone.
func (c *Client) moved(slot int, addr string) {
	defer c.kickRefresh()
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.top.Load()
	if t == nil {
		return
	}
	if i := t.m.Owner(slot); i >= 0 && t.m.Shards[i].Primary == addr {
		return // another request recorded it already
	}
	_ = c.installLocked(t.m.moved(slot, addr)) // fails only when closed
}
