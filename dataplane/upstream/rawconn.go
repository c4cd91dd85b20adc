package upstream

import (
	"net"
	"time"
)

// Raw gives the caller the connection's socket for a byte relay
// (replication, MONITOR), with the bytes already read from it and not yet
// returned by Next, which come first in the stream. Send and Next must not
// be used afterwards; Close ends the relay's use and counts the connection
// out of the pool, so a relay still holds one of the node's dedicated
// connections while it lives.
func (d *Dedicated) Raw() (net.Conn, []byte) {
	_ = d.nc.SetDeadline(time.Time{})
	return d.nc, d.buf[d.from:]
}
