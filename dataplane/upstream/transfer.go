package upstream

import (
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
