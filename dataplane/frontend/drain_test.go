package frontend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keyway.dev/dataplane/resp"
)

// TestDrainAnswersEverythingRead drives 10 clients, each with a
// 5,000-command pipeline of INCRs, and a client blocked in BLPOP through
// Shutdown. Each client must get, in order, a correct reply for every
// command the proxy executed, then a clean end of stream (no reset): the
// replies a client received are exactly the commands Redis ran, so the
// proxy stopped reading at a command boundary and answered everything it
// read. The blocked BLPOP finishes during the drain and is answered.
func TestDrainAnswersEverythingRead(t *testing.T) {
	h, r := withRealUpstream(t)
	const clients, depth = 10, 5000

	type result struct {
		replies int
		err     error
	}
	var received [clients]atomic.Int64
	results := make(chan result, clients)
	var writers sync.WaitGroup
	for i := range clients {
		nc, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		key := fmt.Sprintf("drain:%d", i)
		var buf []byte
		for range depth {
			buf = resp.AppendCommand(buf, [][]byte{[]byte("INCR"), []byte(key)})
		}
		writers.Go(func() { _, _ = nc.Write(buf) }) // fails once the proxy closes: expected
		go func() {
			rd := bufio.NewReader(nc)
			n := 0
			for {
				line, err := rd.ReadString('\n')
				if errors.Is(err, io.EOF) && line == "" {
					results <- result{n, nil}
					return
				}
				if err != nil {
					results <- result{n, fmt.Errorf("after %d replies: %w", n, err)}
					return
				}
				if want := ":" + strconv.Itoa(n+1) + "\r\n"; line != want {
					results <- result{n, fmt.Errorf("reply %d = %q, want %q", n, line, want)}
					return
				}
				n++
				received[i].Store(int64(n))
			}
		}()
	}

	blocked, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer blocked.Close()
	if _, err := blocked.Write(resp.AppendCommand(nil, [][]byte{[]byte("BLPOP"), []byte("drain:list"), []byte("10")})); err != nil {
		t.Fatal(err)
	}

	// Start the drain mid-pipeline: every client has replies, and the
	// BLPOP waits in Redis.
	deadline := time.Now().Add(20 * time.Second)
	for {
		ready := strings.Contains(r.Do("CLIENT", "LIST"), "cmd=blpop")
		for i := range clients {
			ready = ready && received[i].Load() > 0
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("clients did not get going")
		}
		time.Sleep(time.Millisecond)
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		shut <- h.srv.Shutdown(ctx)
	}()
	for h.srv.Ready() {
		time.Sleep(time.Millisecond)
	}
	r.Do("RPUSH", "drain:list", "x") // the blocked command finishes during the drain

	total := 0
	for range clients {
		res := <-results
		if res.err != nil {
			t.Error(res.err)
		}
		total += res.replies
	}
	for i := range clients {
		got, _ := strconv.Atoi(r.Do("GET", fmt.Sprintf("drain:%d", i)))
		if int64(got) != received[i].Load() {
			t.Errorf("client %d: Redis ran %d INCRs, the client got %d replies", i, got, received[i].Load())
		}
	}
	_ = blocked.SetReadDeadline(time.Now().Add(15 * time.Second))
	all, err := io.ReadAll(blocked)
	if err != nil {
		t.Errorf("BLPOP client: %v (got %q)", err, all)
	}
	if want := "*2\r\n$10\r\ndrain:list\r\n$1\r\nx\r\n"; string(all) != want {
		t.Errorf("BLPOP client got %q, want %q then end of stream", all, want)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	writers.Wait()
	t.Logf("%d of %d pipelined commands answered before the close point, all of them executed", total, clients*depth)
}
