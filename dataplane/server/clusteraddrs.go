package server

import (
	"cmp"
	"net"
	"slices"
)

// vaddr is one address a listener serves, as a cluster client should
// dial it.
type vaddr struct {
	host string
	port int
}

// listenerAddrs returns every address the server accepts on for the
// listener named name, sorted so that every connection, whichever
// address it came in on, describes the same cluster. A listener bound to
// a wildcard address is announced at local, the IP the asking client
// reached, which is an address of this host that the client can dial.
func (s *Server) listenerAddrs(name string, local net.IP) []vaddr {
	s.mu.Lock()
	out := make([]vaddr, 0, len(s.listeners))
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
		out = append(out, vaddr{host: ip.String(), port: a.Port})
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b vaddr) int {
		return cmp.Or(cmp.Compare(a.host, b.host), cmp.Compare(a.port, b.port))
	})
	return slices.Compact(out)
}
