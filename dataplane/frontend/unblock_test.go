package frontend

import (
	"strings"
	"testing"

	"keyway.dev/dataplane/redistest"
)

// TestClientUnblock unblocks a client of the proxy from another, with
// and without ERROR, and compares every answer with Redis's.
func TestClientUnblock(t *testing.T) {
	r := redistest.Start(t)
	h := withPolicy(t, forward("main"), standalone("main", r))
	for _, mode := range [][]string{nil, {"TIMEOUT"}, {"ERROR"}} {
		var got, want []string
		for _, addr := range []string{r.Addr, h.addr} {
			blocked, other := dialRaw(t, addr), dialRaw(t, addr)
			id := strings.TrimSuffix(strings.TrimPrefix(blocked.cmd("CLIENT", "ID"), ":"), "\r\n")
			blocked.send("*3\r\n$5\r\nBLPOP\r\n$8\r\nunblockq\r\n$1\r\n0\r\n")
			waitFor(t, "the client blocked", func() error {
				if info := r.Do("INFO", "clients"); !strings.Contains(info, "blocked_clients:1") {
					return errString(info)
				}
				return nil
			})
			args := append([]string{"CLIENT", "UNBLOCK", id}, mode...)
			answers := []string{other.cmd(args...), blocked.reply(), other.cmd(args...),
				other.cmd("CLIENT", "UNBLOCK", id, "BOGUS"), other.cmd("CLIENT", "UNBLOCK", "x")}
			if addr == r.Addr {
				want = answers
			} else {
				got = answers
			}
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("mode %v, answer %d: proxy %q, redis %q", mode, i, got[i], want[i])
			}
		}
	}
}
