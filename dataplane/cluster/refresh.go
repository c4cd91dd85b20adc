package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// minRefreshGap spaces refreshes, so a burst of redirects or connection
// errors (every request to a dead node reports one) costs one refresh,
// not one per request.
const minRefreshGap = 50 * time.Millisecond

// refreshLoop refreshes the topology every refresh interval and whenever
// kicked, one refresh at a time: kicks that arrive during a refresh fold
// into the next one.
func (c *Client) refreshLoop() {
	every := DefaultRefreshInterval
	if d := c.cfg.GetRefreshInterval(); d != nil && d.AsDuration() > 0 {
		every = d.AsDuration()
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
		case <-c.kick:
		}
		if gap := minRefreshGap - time.Since(last); gap > 0 {
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(gap):
			}
		}
		c.rmu.Lock()
		done := c.next
		c.next = make(chan struct{})
		c.rmu.Unlock()
		err := c.refreshOnce()
		last = time.Now()
		c.rmu.Lock()
		c.lastErr = err
		c.rmu.Unlock()
		close(done)
	}
}

// kickRefresh asks for a refresh without waiting for it.
func (c *Client) kickRefresh() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// refreshNow asks for a refresh that starts after this call and waits
// until it completes or ctx ends.
func (c *Client) refreshNow(ctx context.Context) error {
	c.rmu.Lock()
	done := c.next
	c.rmu.Unlock()
	c.kickRefresh()
	select {
	case <-done:
		c.rmu.Lock()
		defer c.rmu.Unlock()
		return c.lastErr
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return errors.New("cluster client is closed")
	}
}

// topology returns the topology in use, discovering it first if there is
// none yet.
func (c *Client) topology(ctx context.Context) (*topology, error) {
	if t := c.top.Load(); t != nil {
		return t, nil
	}
	err := c.refreshNow(ctx)
	if t := c.top.Load(); t != nil {
		return t, nil
	}
	if err == nil {
		err = errors.New("no node answered")
	}
	return nil, fmt.Errorf("CLUSTERDOWN keyway: upstream %s: cluster topology unknown: %v", c.name, err)
}

// refreshOnce asks the known nodes, primaries first, then the seeds,
// until one describes the cluster, and installs its map.
func (c *Client) refreshOnce() error {
	var addrs []string
	if t := c.top.Load(); t != nil {
		addrs = t.m.Addrs()
	}
	addrs = append(addrs, c.seeds...)
	seen := map[string]bool{}
	var errs []error
	for _, addr := range addrs {
		if seen[addr] {
			continue
		}
		seen[addr] = true
		m, err := c.discover(addr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return c.install(m)
	}
	return errors.Join(errs...)
}

var errUnknownCommand = errors.New("unknown command")

// discover reads the slot map from the node at addr: CLUSTER SHARDS, or
// CLUSTER SLOTS from servers older than Redis 7.
func (c *Client) discover(addr string) (*Map, error) {
	n, err := c.anyNode(addr)
	if err != nil {
		return nil, err
	}
	raw, err := c.query(n, "CLUSTER", "SHARDS")
	if err == nil {
		return ParseShards(raw, addr, c.tls)
	}
	if !errors.Is(err, errUnknownCommand) {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	if raw, err = c.query(n, "CLUSTER", "SLOTS"); err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	return ParseSlots(raw, addr)
}

// query sends one command to n on its shared connections and returns the
// raw reply; an error reply is an error.
func (c *Client) query(n *upstream.Node, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.Timeout)
	defer cancel()
	r := &engine.Request{}
	for _, a := range args {
		r.Cmd.Args = append(r.Cmd.Args, []byte(a))
	}
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	engine.Do(ctx, engine.Func(func(ctx context.Context, b engine.Batch) { n.Serve(ctx, c.name, b) }), r)
	if r.Err() != nil {
		return nil, r.Err()
	}
	raw := r.Raw()
	if len(raw) > 0 && raw[0] == '-' {
		msg := string(bytes.TrimSpace(raw[1:]))
		if bytes.Contains(bytes.ToLower(raw), []byte("unknown")) {
			return nil, fmt.Errorf("%s: %w", msg, errUnknownCommand)
		}
		return nil, errors.New(msg)
	}
	return raw, nil
}
