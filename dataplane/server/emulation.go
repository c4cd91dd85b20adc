package server

import (
	"bytes"
	"net"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/server/clusteremu"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

var (
	clusterLocal = &local{name: "cluster", arity: -2, fn: (*client).cluster}
	askingLocal  = &local{name: "asking", arity: 1, fn: (*client).ok}
)

// emulated returns the handler of CLUSTER or ASKING when the client's
// listener emulates a cluster (clusteremu), else nil and the command is
// forwarded.
func (c *client) emulated(st *engine.State, name []byte) *local {
	var l *local
	switch {
	case bytes.EqualFold(name, []byte("CLUSTER")):
		l = clusterLocal
	case bytes.EqualFold(name, []byte("ASKING")):
		l = askingLocal
	default:
		return nil
	}
	if c.emulation(st) == nil {
		return nil
	}
	return l
}

// emulation is the cluster emulation of the client's listener, nil when
// it is off.
func (c *client) emulation(st *engine.State) *keywayv1.ClusterEmulation {
	if st == nil {
		return nil
	}
	return clusteremu.Of(st.Proxy, c.sess.Listener)
}

// cluster answers the CLUSTER subcommands a cluster client needs.
func (c *client) cluster(st *engine.State, args [][]byte) bool {
	local := c.rc.NetConn().LocalAddr()
	var ip net.IP
	if a, ok := local.(*net.TCPAddr); ok {
		ip = a.IP
	}
	emu := clusteremu.New(c.emulation(st), c.sess.Listener, local, c.srv.listenerAddrs(c.sess.Listener, ip))
	b, refusal := emu.Answer(c.out[:0], args, c.resp3())
	if refusal != "" {
		c.writeError(refusal)
		return true
	}
	c.out = b
	c.write(b)
	return true
}
