package frontend

import (
	"net"

	"keyway.dev/dataplane/frontend/clusteremu"
)

// listenerAddrs returns every address the server accepts on for the
// listener named name, sorted (clusteremu.SortAddrs). A listener bound to
// a wildcard address is announced at local, the IP the asking client
// reached, which is an address of this host that the client can dial.
func (s *Server) listenerAddrs(name string, local net.IP) []clusteremu.Addr {
	s.mu.Lock()
	out := make([]clusteremu.Addr, 0, len(s.listeners))
	for _, l := range s.listeners {
		if l.Name != name {
			continue
		}
		a, ok := l.Addr().(*net.TCPAddr)
		if !ok {
			continue
		}
		ip := a.IP
		if ip == nil || ip.IsUnspecified() {
			ip = local
		}
		out = append(out, clusteremu.Addr{Host: ip.String(), Port: a.Port})
	}
	s.mu.Unlock()
	return clusteremu.SortAddrs(out)
}
