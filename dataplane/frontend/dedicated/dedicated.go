// Package dedicated finds and opens the upstream connection a client
// needs for itself (a transaction, watched keys, a blocking command,
// subscriptions, tracking): which upstream the policy sends a command to
// (UpstreamFor), a connection there in the client's protocol and login,
// on the node of the command's key for a cluster (Open), and the
// refusal of a key another node of that cluster owns (CrossNode, for a
// reply resp.IsRedirect recognises).
package dedicated

import (
	"context"
	"errors"
	"fmt"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/upstream"
)

// dedicatedOpener is an upstream that can lend a connection to one
// client; upstream.Client is one.
type dedicatedOpener interface {
	Dedicated(ctx context.Context) (*upstream.Dedicated, error)
}

// Leaf is a leaf engine that says which upstream it sends to.
type Leaf interface {
	Upstream() engine.Upstream
}

// Open takes a connection of its own on up for cmd, speaking RESP
// version proto and logged in with auth when set: for a cluster, on the
// node owning cmd's first key.
func Open(ctx context.Context, up engine.Upstream, cmd *resp.Command, proto uint8, auth [][]byte) (*upstream.Dedicated, error) {
	d, err := openDedicatedTo(ctx, up, cmd)
	if err != nil {
		return nil, err
	}
	if err := d.Protocol(ctx, proto); err != nil {
		d.Close()
		return nil, err
	}
	if auth != nil {
		if err := d.Login(ctx, auth); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

func openDedicatedTo(ctx context.Context, up engine.Upstream, cmd *resp.Command) (*upstream.Dedicated, error) {
	if d, ok, err := openForKey(ctx, up, cmd); ok { // cluster.go
		return d, err
	}
	op, ok := up.(dedicatedOpener)
	if !ok {
		return nil, fmt.Errorf("keyway: %s needs a dedicated upstream connection, which upstream %q cannot give", cmd.Spec.Name, up.Name())
	}
	d, err := op.Dedicated(ctx)
	if err != nil {
		return nil, fmt.Errorf("keyway: dedicated connection to %s: %w", up.Name(), err)
	}
	return d, nil
}

// UpstreamFor walks root the way engine.Explain does and returns the
// upstream client of the leaf r reaches, or the refusal an engine on the
// way would answer.
func UpstreamFor(root engine.Engine, r *engine.Request) (engine.Upstream, error) {
	x := &engine.Explanation{}
	e := root
	for depth := 0; e != nil && depth < 64; depth++ {
		if l, ok := e.(*engine.Labeled); ok {
			e = l.Engine
		}
		ex, ok := e.(engine.Explainer)
		if !ok {
			return nil, errors.New("keyway: the policy cannot tell which upstream this command goes to")
		}
		next := ex.Explain(r, x)
		if next != nil {
			e = next
			continue
		}
		if x.Refusal != "" {
			return nil, errors.New(x.Refusal)
		}
		if leaf, ok := e.(Leaf); ok {
			return leaf.Upstream(), nil
		}
		break
	}
	return nil, errors.New("keyway: the policy sends this command to no upstream")
}
