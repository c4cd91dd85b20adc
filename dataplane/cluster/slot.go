// Package cluster is the proxy's Redis Cluster client. It keeps the
// cluster's slot map, sends each request to the node owning the slot of
// its keys over the same multiplexed upstream.Node connections a
// standalone Redis gets, splits multi-key commands and pipelines that span
// nodes, follows MOVED and ASK, and retries the errors a cluster returns
// while it changes shape, so that clients of the proxy see one Redis.
package cluster

// Slots is the number of hash slots of a Redis Cluster.
const Slots = 16384

// crcTable is CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0),
// the checksum Redis Cluster hashes keys with.
var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

func crc16(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>8)^x]
	}
	return c
}

// Slot returns the hash slot of key. As in Redis, when key holds a
// non-empty hash tag ("{...}", the first '{' and the first '}' after it),
// only the tag is hashed, so keys sharing a tag share a slot.
func Slot(key []byte) int {
	for i, c := range key {
		if c != '{' {
			continue
		}
		for j := i + 1; j < len(key); j++ {
			if key[j] == '}' {
				if j > i+1 {
					key = key[i+1 : j]
				}
				return int(crc16(key) & (Slots - 1))
			}
		}
		break
	}
	return int(crc16(key) & (Slots - 1))
}
