package cluster

import (
	"fmt"
	"sync"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// shape is what a request's keys say about where it goes.
type shape uint8

const (
	// keyed: every key hashes to one slot.
	keyed shape = iota
	// keyless: the command names no key.
	keyless
	// spanning: keys hash to several slots.
	spanning
)

// keyBufs recycles key index buffers: Command.Keys may call through a
// function value, which would move a stack buffer to the heap on every
// request.
var keyBufs = sync.Pool{New: func() any { b := make([]int, 0, 16); return &b }}

// classify returns the slot of r's keys and how they are spread.
func classify(r *engine.Request) (slot int, s shape) {
	buf := keyBufs.Get().(*[]int)
	keys := r.Cmd.Keys((*buf)[:0])
	s = keyless
	if len(keys) > 0 {
		s = keyed
		slot = Slot(r.Cmd.Args[keys[0]])
		for _, k := range keys[1:] {
			if Slot(r.Cmd.Args[k]) != slot {
				s = spanning
				break
			}
		}
	}
	*buf = keys[:0]
	keyBufs.Put(buf)
	return slot, s
}

// target is where one request is sent.
type target struct {
	// node is a primary, or a replica whose connections are READONLY.
	node *upstream.Node
	// ask: the slot is being imported by node, so ASKING goes first.
	ask bool
}

// readOnly reports whether r only reads, so it may go to a replica and
// be retried after a connection broke under it.
func readOnly(r *engine.Request) bool {
	return r.Cmd.Spec != nil && r.Cmd.Spec.Flags&(resp.FlagReadOnly|resp.FlagWrite) == resp.FlagReadOnly
}

// pick returns the node serving slot for r: its primary, or a replica when
// the policy allows replica reads (or asks for one, preferReplica, after
// the primary failed) and r only reads.
func (c *Client) pick(t *topology, slot int, r *engine.Request, preferReplica bool) (target, error) {
	i := t.m.Owner(slot)
	if i < 0 {
		return target{}, fmt.Errorf("CLUSTERDOWN Hash slot not served (keyway: no node of the cluster serves slot %d)", slot)
	}
	if reps := t.replicas[i]; len(reps) > 0 && (c.cfg.GetReadFromReplicas() || preferReplica) && readOnly(r) {
		return target{node: reps[int(c.rr.Add(1))%len(reps)]}, nil
	}
	return target{node: t.primaries[i]}, nil
}

// anyPrimary is the node of a keyless command: a primary chosen by the
// client connection, so one client's keyless commands (PUBLISH) stay in
// order while clients spread over the cluster.
func anyPrimary(t *topology, r *engine.Request) target {
	var h uint64
	if r.Session != nil {
		h = r.Session.Hash
	}
	return target{node: t.primaries[h%uint64(len(t.primaries))]}
}

// crossSlot is the refusal of a command whose keys span slots and which
// cannot be split without changing what it means; it starts as Redis's
// own error so clients recognise it, and says why.
func crossSlot(r *engine.Request) error {
	name := r.Cmd.Name()
	switch name {
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
		return fmt.Errorf("CROSSSLOT Keys in request don't hash to the same slot (keyway: %s runs on one cluster node, so every key it declares must be in one slot; give them a common hash tag such as {user1})", name)
	}
	return fmt.Errorf("CROSSSLOT Keys in request don't hash to the same slot (keyway: %s cannot be split across cluster nodes without losing atomicity; give its keys a common hash tag such as {user1})", name)
}
