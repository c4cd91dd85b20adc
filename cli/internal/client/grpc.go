package client

import "google.golang.org/grpc"

// GRPC is the underlying connection, for commands built on a service
// client of their own (keyway top's TelemetryQueryService).
func (c *Conn) GRPC() *grpc.ClientConn { return c.cc }
