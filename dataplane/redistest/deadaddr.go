package redistest

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// DeadAddr returns a 127.0.0.1 address where nothing listens, so a dial
// is refused at once, as when a server is down. The port is the kernel's
// choice and stays held by a socket bound without listening until the
// test ends: no other process can listen on it meanwhile, and the kernel
// does not hand it out as a connection's source port, which would let a
// dial to it connect to itself.
func DeadAddr(t testing.TB) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("redistest: socket: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("redistest: bind 127.0.0.1:0: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatalf("redistest: getsockname: %v", err)
	}
	in4, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("redistest: getsockname returned %T", sa)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(in4.Port))
}
