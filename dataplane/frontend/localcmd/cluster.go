package localcmd

import (
	"bytes"
	"net"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/frontend/clusteremu"
)

var (
	clusterCommand = &Command{Name: "cluster", Arity: -2, fn: cluster}
	askingCommand  = &Command{Name: "asking", Arity: 1, fn: ok}
)

// Emulated returns CLUSTER or ASKING when the listener of sess emulates
// a cluster (clusteremu), else nil and the command is forwarded.
func Emulated(st *engine.State, sess *engine.Session, name []byte) *Command {
	var l *Command
	switch {
	case bytes.EqualFold(name, []byte("CLUSTER")):
		l = clusterCommand
	case bytes.EqualFold(name, []byte("ASKING")):
		l = askingCommand
	default:
		return nil
	}
	if st == nil || clusteremu.Of(st.Proxy, sess.Listener) == nil {
		return nil
	}
	return l
}

// cluster answers the CLUSTER subcommands a cluster client needs.
func cluster(c Conn, st *engine.State, args [][]byte) bool {
	local := c.LocalAddr()
	var ip net.IP
	if a, ok := local.(*net.TCPAddr); ok {
		ip = a.IP
	}
	listener := c.Session().Listener
	emu := clusteremu.New(emulation(st, c), listener, local, c.ClusterAddrs(ip))
	b, refusal := emu.Answer(c.Scratch(), args, resp3(c))
	if !refused(c, refusal) {
		c.Reply(b)
	}
	return true
}
