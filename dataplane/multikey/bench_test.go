package multikey

import (
	"fmt"
	"testing"
)

func BenchmarkScatterGather(b *testing.B) {
	for _, keys := range []int{4, 64} {
		args := []string{"MGET"}
		replies := make([][]byte, 0, 2)
		a, c := "", ""
		for i := range keys {
			args = append(args, fmt.Sprintf("%c%d", 'a'+i%2, i))
		}
		a = fmt.Sprintf("*%d\r\n", keys/2)
		c = a
		for range keys / 2 {
			a += "$5\r\nvalue\r\n"
			c += "$-1\r\n"
		}
		replies = append(replies, []byte(a), []byte(c))
		cmd := command(true, args...)
		b.Run(fmt.Sprintf("mget-%d", keys), func(b *testing.B) {
			var p Plan
			var dst []byte
			b.ReportAllocs()
			for b.Loop() {
				if err := p.Build(cmd, byFirstByte); err != nil {
					b.Fatal(err)
				}
				var err error
				dst, err = p.AppendReply(dst[:0], replies)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
