package resp

import (
	"testing"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/dataplane/resp/internal/probe"
)

// live starts a redis-server for the test and returns a connection to it.
func live(t *testing.T) *probe.Conn {
	t.Helper()
	srv := redistest.Start(t)
	c, err := probe.Dial(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// bs turns strings into the [][]byte form commands arrive in.
func bs(args ...string) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		out[i] = []byte(a)
	}
	return out
}

func cmd(args ...string) *Command {
	c := &Command{}
	c.Parse(bs(args...))
	return c
}
