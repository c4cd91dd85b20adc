// Package rawrelay turns a client connection into a byte pipe to an
// upstream connection of its own, for the commands whose answer is a
// stream rather than replies (SYNC, PSYNC, MONITOR): replication and
// MONITOR are never parsed between the two ends, and the pipe ends when
// either side closes, taking both connections with it, as Redis ends
// such a connection.
package rawrelay

import (
	"context"
	"io"
	"net"
	"sync"
	"time"

	"keyway.dev/dataplane/frontend/wire"
)

// Run writes first to up (the command and whatever the client sent
// after it), then copies bytes both ways until either side closes or ctx
// ends: up's bytes to the client, after early (what up had sent before
// the relay began), and the client's to up. It closes client and
// closeUp on its way out and returns once both copies have stopped.
func Run(ctx context.Context, client *wire.Conn, up net.Conn, closeUp func(), first, early []byte) {
	var once sync.Once
	end := func() {
		once.Do(func() {
			_ = client.Close()
			closeUp()
		})
	}
	stop := context.AfterFunc(ctx, end)
	defer stop()
	// A replica or a MONITOR client may say nothing for as long as it
	// likes; Redis exempts both from its timeout.
	client.NoIdle.Store(true)
	_ = client.Conn.SetReadDeadline(time.Time{})
	if _, err := up.Write(first); err != nil {
		end()
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer end()
		if len(early) > 0 {
			if _, err := client.Write(early); err != nil {
				return
			}
		}
		_, _ = io.Copy(client, onlyReader{up})
	})
	_, _ = io.Copy(up, onlyReader{client.Conn})
	end()
	wg.Wait()
}

// onlyReader hides a connection's ReadFrom and WriteTo, so io.Copy writes
// through the destination's own Write (the client side's write deadline).
type onlyReader struct{ r net.Conn }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
