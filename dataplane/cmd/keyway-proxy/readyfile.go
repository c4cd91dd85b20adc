package main

import (
	"net"
	"strings"

	"keyway.dev/proto/readyfile"
)

// boundAddrs names the addresses the listeners were bound to, by the
// flag that asked for them, for --ready-file and the start log: with
// port 0 only the listener knows its port. lns is as run opens them:
// --listen first, then --tls-listen, then the --cluster-listen ones.
func boundAddrs(lns []respListener, admin net.Listener) map[string]string {
	out := map[string]string{"listen": lns[0].ln.Addr().String(), "admin": admin.Addr().String()}
	var cluster []string
	for _, l := range lns[1:] {
		if l.name == tlsListenerName {
			out["tls-listen"] = l.ln.Addr().String()
			continue
		}
		cluster = append(cluster, l.ln.Addr().String())
	}
	if len(cluster) > 0 {
		// Comma separated, as --cluster-listen takes them.
		out["cluster-listen"] = strings.Join(cluster, ",")
	}
	return out
}

// writeReady writes the ready file when --ready-file is set.
func writeReady(path string, addrs map[string]string) error {
	if path == "" {
		return nil
	}
	return readyfile.Write(path, addrs)
}
