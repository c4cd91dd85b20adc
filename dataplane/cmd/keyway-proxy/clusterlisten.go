package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"

	"keyway.dev/dataplane/frontend/tlsconf"
)

// clusterListenUsage is the help of --cluster-listen.
const clusterListenUsage = "more addresses for the default listener, comma separated; HOST:FIRST-LAST is a port range. " +
	"With the policy's cluster_emulation, each address of the listener (--listen included) is one virtual node of the " +
	"emulated cluster and the slots are split evenly over them, so cluster clients open parallel connections. " +
	"They speak TLS when --listen does. HOST:0 is a port the kernel picks (see --ready-file). Repeatable"

// clusterListenFlag registers --cluster-listen, which adds to addrs.
func clusterListenFlag(fs *flag.FlagSet, addrs *[]string) {
	fs.Func("cluster-listen", clusterListenUsage, func(v string) error {
		more, err := parseClusterListen(v)
		if err != nil {
			return err
		}
		*addrs = append(*addrs, more...)
		return nil
	})
}

// maxClusterListen bounds a port range, so a typo cannot open thousands
// of sockets.
const maxClusterListen = 64

// parseClusterListen expands "127.0.0.1:7001-7003,127.0.0.1:7010" into
// one address per port. Port 0 (the kernel picks) may be repeated but not
// start a range.
func parseClusterListen(v string) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		host, ports, err := net.SplitHostPort(item)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		lo, hi, isRange := strings.Cut(ports, "-")
		first, err := strconv.Atoi(lo)
		if err != nil || first < 0 || first > 65535 {
			return nil, fmt.Errorf("%q: bad port %q", item, lo)
		}
		if first == 0 && isRange {
			return nil, fmt.Errorf("%q: port 0 (the kernel picks) cannot start a range", item)
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil || last < first || last > 65535 {
				return nil, fmt.Errorf("%q: bad port range %s", item, ports)
			}
		}
		if len(out)+last-first+1 > maxClusterListen {
			return nil, fmt.Errorf("%q: more than %d addresses", v, maxClusterListen)
		}
		for p := first; p <= last; p++ {
			out = append(out, net.JoinHostPort(host, strconv.Itoa(p)))
		}
	}
	return out, nil
}

// openClusterListeners opens the --cluster-listen addresses as more
// listeners named like --listen, in TLS when --listen is (client TLS on
// and no separate --tls-listen).
func openClusterListeners(addrs []string, c clientTLSConfig, files *tlsconf.Files) ([]respListener, error) {
	var out []respListener
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			for _, l := range out {
				_ = l.ln.Close()
			}
			return nil, fmt.Errorf("listen for cluster clients: %w", err)
		}
		if files != nil && c.listen == "" {
			ln = tls.NewListener(ln, files.Config())
		}
		out = append(out, respListener{listenerName, ln})
	}
	return out, nil
}
