package push

import (
	"bytes"
	"context"
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// Keyspace notifications on a cluster. A Redis Cluster broadcasts every
// PUBLISH to every node, so a subscription on one node hears them all;
// but the messages a node makes itself, keyspace and keyevent
// notifications and tracking invalidations, stay on that node. A client
// of the proxy sees the cluster as one server, so its subscriptions to
// those channels also go to every other primary, on connections of their
// own (extra relays) that pass only messages to the client: the client's
// own connection still answers its commands and confirms its
// subscriptions, so what it reads has Redis's shape.

// nodeLocalPrefixes start the channels a cluster node publishes alone.
var nodeLocalPrefixes = [][]byte{[]byte("__keyspace@"), []byte("__keyevent@"), []byte("__redis__:")}

func nodeLocal(name []byte) bool {
	for _, p := range nodeLocalPrefixes {
		if bytes.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// primariesLister is a cluster upstream.
type primariesLister interface {
	Primaries(ctx context.Context) ([]*upstream.Node, error)
}

// Fanout is a subscribed client's extra relays, one per other primary.
type Fanout struct {
	up    engine.Upstream
	list  primariesLister
	home  string // address of the node the client's own connection is on
	extra map[string]*extraSub
}

type extraSub struct {
	d *upstream.Dedicated
	r *Relay
}

// NewFanout returns the fan-out of a subscription on up, nil when up is
// not a cluster.
func NewFanout(up engine.Upstream, home string) *Fanout {
	l, ok := up.(primariesLister)
	if !ok {
		return nil
	}
	return &Fanout{up: up, list: l, home: home, extra: map[string]*extraSub{}}
}

// fanArgs is what of cmd the other primaries must hear: the node-local
// channels it names, or all of an UNSUBSCRIBE or PUNSUBSCRIBE without
// arguments. nil when nothing.
func fanArgs(cmd *resp.Command) [][]byte {
	switch cmd.Spec.Name {
	case "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE":
	default:
		return nil
	}
	if len(cmd.Args) == 1 {
		if cmd.Spec.Name == "UNSUBSCRIBE" || cmd.Spec.Name == "PUNSUBSCRIBE" {
			return cmd.Args
		}
		return nil
	}
	// A pattern may match node-local channels whatever it starts with
	// ("*", "__key*"), so every pattern goes to every node; the extra
	// relays pass on only messages of node-local channels, so a broadcast
	// message still arrives once.
	patterns := cmd.Spec.Name == "PSUBSCRIBE" || cmd.Spec.Name == "PUNSUBSCRIBE"
	out := [][]byte{cmd.Args[0]}
	for _, a := range cmd.Args[1:] {
		if patterns || nodeLocal(a) {
			out = append(out, a)
		}
	}
	if len(out) == 1 {
		return nil
	}
	return out
}

// Apply sends the node-local part of cmd to every other primary and
// waits until each has answered, so a notification that follows the
// client's confirmation is heard whichever node makes it. Subscribing
// opens the extra relays on first use, speaking RESP version proto and
// relaying to out; a relay whose node has no subscription left is
// released.
func (f *Fanout) Apply(ctx context.Context, cmd *resp.Command, proto uint8, out *Outbox) error {
	args := fanArgs(cmd)
	if args == nil {
		return nil
	}
	subscribing := cmd.Spec.Name == "SUBSCRIBE" || cmd.Spec.Name == "PSUBSCRIBE"
	if subscribing {
		nodes, err := f.list.Primaries(ctx)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if n.Addr() == f.home || f.extra[n.Addr()] != nil {
				continue
			}
			d, err := n.Dedicated(ctx, f.up.Name())
			if err != nil {
				return err
			}
			if err := d.Protocol(ctx, proto); err != nil {
				d.Close()
				return err
			}
			r := NewRelay(ctx, d, out, proto == 3)
			r.extra = true
			r.Start()
			f.extra[n.Addr()] = &extraSub{d: d, r: r}
		}
	}
	for addr, x := range f.extra {
		if err := x.d.Send(args, x.r.mark); err != nil {
			return err
		}
		subscribed, ok := x.r.Await()
		if !ok {
			return fmt.Errorf("keyway: the subscription relay to %s ended", addr)
		}
		if !subscribed {
			x.r.Stop()
			x.d.Release()
			delete(f.extra, addr)
		}
	}
	return nil
}

// Stop ends every extra relay and releases its connection (RESET drops
// its subscriptions).
func (f *Fanout) Stop() {
	if f == nil {
		return
	}
	for addr, x := range f.extra {
		x.r.Stop()
		x.d.Release()
		delete(f.extra, addr)
	}
}
