package upstream

import (
	"context"

	"keyway.dev/dataplane/engine"
)

// Client sends a tree's batches to a standalone Redis. Pools hand out one
// Client per Acquire: clients of the same upstream identity share a Node
// and differ only in the name they report.
type Client struct {
	name string
	node *Node
}

var _ engine.Upstream = (*Client)(nil)

// NewClient returns a client that labels requests and errors with name
// and sends them to node.
func NewClient(name string, node *Node) *Client { return &Client{name: name, node: node} }

// Name is the upstream's name in the policy.
func (c *Client) Name() string { return c.name }

// Node is the node the client sends to.
func (c *Client) Node() *Node { return c.node }

// Serve sends b to Redis on one shared connection, in order, and answers
// every request before it returns.
func (c *Client) Serve(ctx context.Context, b engine.Batch) {
	for _, r := range b {
		r.Upstream = c.name
	}
	c.node.Serve(ctx, c.name, b)
}

// Dedicated returns a connection for one client's exclusive use; see
// Node.Dedicated.
func (c *Client) Dedicated(ctx context.Context) (*Dedicated, error) {
	return c.node.Dedicated(ctx, c.name)
}
