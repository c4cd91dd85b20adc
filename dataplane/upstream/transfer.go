package upstream

import (
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/engine"
)

// DefaultMinBandwidth is the slowest transfer rate, in bytes per second,
// that a request's deadline allows for (Options.MinBandwidth): a request gets its timeout plus the time
// its own bytes and its reply's take at this rate. Without it a 100 MB SET
// or GET, which needs a few seconds on the wire and in Redis, would time
// out under the default one-second budget meant for ordinary commands.
// 20 MB/s is far below loopback and LAN rates, and below what a proxy
// sharing a busy core with Redis moves (about 50-150 MB/s measured on the
// 2-core dev VM), so only the slowest links see big values time out.
const DefaultMinBandwidth = 20 << 20

// bigReply is the size from which a reply still arriving extends its
// request's deadline; below it the allowance is lost in the timeout.
const bigReply = 1 << 20

// transferTime is how long n bytes may take at bw bytes per second.
func transferTime(n, bw int64) time.Duration {
	return time.Duration(n * int64(time.Second) / bw)
}

// encodedSize bounds the size of b encoded as RESP commands, which is
// what the deadline allowance is based on and what the write buffer is
// grown by.
func encodedSize(b engine.Batch) int {
	n := 0
	for _, r := range b {
		n += 16 // "*<count>\r\n"
		for _, a := range r.Cmd.Args {
			n += len(a) + 16 // "$<len>\r\n" + a + "\r\n"
		}
	}
	return n
}

// bigMemory is how long a node remembers the biggest value it moved.
const bigMemory = time.Minute

// bigSeen remembers the biggest request or reply a node moved lately.
// Redis copies a big value into its reply buffers before it sends the
// first byte (about 0.3 s for 100 MB on the dev VM, over a second when the
// machine is busy), so a GET of a big value needs its allowance before
// any of it arrives; the size it is likely to be is that of the big
// values this node has seen. Small requests on such a node get the same
// allowance, so a node that holds big values fails slower: that is the
// price of not cutting its big replies off.
type bigSeen struct {
	size atomic.Int64
	at   atomic.Int64 // unix nanoseconds of the last update
}

// note records a request or reply of n bytes.
func (b *bigSeen) note(n int64, now time.Time) {
	if n < bigReply {
		return
	}
	if n >= b.size.Load() || now.UnixNano()-b.at.Load() > int64(bigMemory) {
		b.size.Store(n)
	}
	b.at.Store(now.UnixNano())
}

// recent is the biggest size noted within bigMemory, or 0.
func (b *bigSeen) recent(now time.Time) int64 {
	n := b.size.Load()
	if n == 0 || now.UnixNano()-b.at.Load() > int64(bigMemory) {
		return 0
	}
	return n
}
