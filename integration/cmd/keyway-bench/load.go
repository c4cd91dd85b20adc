package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec is one closed-loop load: clients connections, each with up to
// pipeline requests in flight, until requests have been answered.
type loadSpec struct {
	cmd       string // GET, SET or MGET
	clients   int
	pipeline  int
	requests  int
	keys      int // keys are key:00000000 .. keys-1
	valueSize int
	mgetKeys  int
	timeout   time.Duration // bounds the whole load
	// resp3 makes every client connection say HELLO 3 before the load;
	// the workloads' replies (bulk strings, +OK, arrays of bulks) have the
	// same bytes in both protocols.
	resp3 bool
}

// loadResult is what a load measured.
type loadResult struct {
	requests int
	errors   int // error replies and replies of the wrong shape
	elapsed  time.Duration
	hist     hist
}

const keyWidth = 8

func appendKey(dst []byte, i int) []byte {
	dst = append(dst, "key:"...)
	var digits [keyWidth]byte
	for j := keyWidth - 1; j >= 0; j-- {
		digits[j] = byte('0' + i%10)
		i /= 10
	}
	return append(dst, digits[:]...)
}

// keyLen is len("key:") + keyWidth.
const keyLen = 4 + keyWidth

// appendRequest encodes one request of spec with random keys.
func appendRequest(dst []byte, spec *loadSpec, rng *rand.Rand, value []byte) []byte {
	switch spec.cmd {
	case "SET":
		dst = append(dst, "*3\r\n$3\r\nSET\r\n$"...)
		dst = strconv.AppendInt(dst, keyLen, 10)
		dst = append(dst, '\r', '\n')
		dst = appendKey(dst, rng.IntN(spec.keys))
		dst = append(dst, "\r\n$"...)
		dst = strconv.AppendInt(dst, int64(len(value)), 10)
		dst = append(dst, '\r', '\n')
		dst = append(dst, value...)
		return append(dst, '\r', '\n')
	case "MGET":
		dst = append(dst, '*')
		dst = strconv.AppendInt(dst, int64(spec.mgetKeys+1), 10)
		dst = append(dst, "\r\n$4\r\nMGET\r\n"...)
		for range spec.mgetKeys {
			dst = append(dst, '$')
			dst = strconv.AppendInt(dst, keyLen, 10)
			dst = append(dst, '\r', '\n')
			dst = appendKey(dst, rng.IntN(spec.keys))
			dst = append(dst, '\r', '\n')
		}
		return dst
	}
	dst = append(dst, "*2\r\n$3\r\nGET\r\n$"...)
	dst = strconv.AppendInt(dst, keyLen, 10)
	dst = append(dst, '\r', '\n')
	dst = appendKey(dst, rng.IntN(spec.keys))
	return append(dst, '\r', '\n')
}

var errShape = errors.New("reply of the wrong shape")

// readHeader reads a reply's type byte and length (or 0), leaving the
// reader after its first line.
func readHeader(r *bufio.Reader) (byte, int, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, 0, fmt.Errorf("read reply: %w", err)
	}
	if len(line) < 3 {
		return 0, 0, fmt.Errorf("%w: %q", errShape, line)
	}
	n := 0
	neg := false
	for _, c := range line[1 : len(line)-2] {
		switch {
		case c == '-':
			neg = true
		case c >= '0' && c <= '9':
			n = n*10 + int(c-'0')
		}
	}
	if neg {
		n = -n
	}
	return line[0], n, nil
}

// hello3 switches c to RESP3 and reads HELLO's map.
func hello3(c net.Conn) error {
	if _, err := c.Write([]byte("*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")); err != nil {
		return err
	}
	r := bufio.NewReaderSize(c, 512)
	if err := skipReply(r); err != nil {
		return err
	}
	if r.Buffered() > 0 {
		return fmt.Errorf("%w: bytes after HELLO's reply", errShape)
	}
	return nil
}

// skipReply reads one reply of any RESP2 or RESP3 type.
func skipReply(r *bufio.Reader) error {
	t, n, err := readHeader(r)
	if err != nil {
		return err
	}
	switch t {
	case '-':
		return fmt.Errorf("error reply")
	case '$', '=', '!':
		if n >= 0 {
			_, err = r.Discard(n + 2)
		}
		return err
	case '*', '~', '>':
		for range max(n, 0) {
			if err := skipReply(r); err != nil {
				return err
			}
		}
	case '%', '|':
		for range 2 * n {
			if err := skipReply(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkReply reads one reply to spec's command and reports whether it
// has the shape a correct server gives (every key exists after the fill).
func checkReply(r *bufio.Reader, spec *loadSpec) (bool, error) {
	t, n, err := readHeader(r)
	if err != nil {
		return false, err
	}
	switch t {
	case '$':
		if n < 0 {
			return false, nil
		}
		if _, err := r.Discard(n + 2); err != nil {
			return false, fmt.Errorf("read bulk: %w", err)
		}
		return spec.cmd == "GET" && n == spec.valueSize, nil
	case '*':
		ok := spec.cmd == "MGET" && n == spec.mgetKeys
		for range max(n, 0) {
			t, m, err := readHeader(r)
			if err != nil {
				return false, err
			}
			if t != '$' {
				ok = false
				continue
			}
			if m >= 0 {
				if _, err := r.Discard(m + 2); err != nil {
					return false, fmt.Errorf("read bulk: %w", err)
				}
			}
			ok = ok && m == spec.valueSize
		}
		return ok, nil
	case '+':
		return spec.cmd == "SET", nil
	}
	return false, nil // '-' and anything else
}

// runLoad connects spec.clients connections to addr, then runs them all
// at once until spec.requests replies have been read.
func runLoad(ctx context.Context, addr string, spec loadSpec) (loadResult, error) {
	conns := make([]net.Conn, 0, spec.clients)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	deadline := time.Now().Add(spec.timeout)
	for range spec.clients {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return loadResult{}, fmt.Errorf("connect load client to %s: %w", addr, err)
		}
		_ = c.SetDeadline(deadline)
		conns = append(conns, c)
		if spec.resp3 {
			if err := hello3(c); err != nil {
				return loadResult{}, fmt.Errorf("HELLO 3 on %s: %w", addr, err)
			}
		}
	}
	// A cancelled run unblocks every worker at once.
	stop := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			_ = c.SetDeadline(time.Now())
		}
	})
	defer stop()

	value := make([]byte, spec.valueSize)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	var left atomic.Int64
	left.Store(int64(spec.requests))
	hists := make([]hist, len(conns))
	errs := make([]int, len(conns))
	done := make([]int, len(conns))
	fails := make([]error, len(conns))
	startGate := make(chan struct{})
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() {
			<-startGate
			done[i], errs[i], fails[i] = work(c, &spec, &left, &hists[i], value, uint64(i))
		})
	}
	t0 := time.Now()
	close(startGate)
	wg.Wait()
	res := loadResult{elapsed: time.Since(t0)}
	for i := range conns {
		res.hist.merge(&hists[i])
		res.requests += done[i]
		res.errors += errs[i]
	}
	if err := errors.Join(fails...); err != nil {
		return res, fmt.Errorf("load on %s: %w", addr, err)
	}
	return res, nil
}

// work is one client: it claims a batch of requests, writes it with one
// write, reads every reply and records the batch's latency for each.
func work(c net.Conn, spec *loadSpec, left *atomic.Int64, h *hist, value []byte, seed uint64) (done, bad int, err error) {
	rng := rand.New(rand.NewPCG(seed, 0x6b6579776179))
	r := bufio.NewReaderSize(c, 64<<10)
	var buf []byte
	for {
		n := int64(spec.pipeline)
		if got := left.Add(-n); got < 0 {
			n += got // the last batch takes what is left
			if n <= 0 {
				return done, bad, nil
			}
		}
		buf = buf[:0]
		for range n {
			buf = appendRequest(buf, spec, rng, value)
		}
		t0 := time.Now()
		if _, err := c.Write(buf); err != nil {
			return done, bad, fmt.Errorf("write: %w", err)
		}
		for range n {
			ok, err := checkReply(r, spec)
			if err != nil {
				return done, bad, err
			}
			if !ok {
				bad++
			}
		}
		h.record(time.Since(t0), int(n))
		done += int(n)
	}
}

// fill writes keys values of size bytes straight into redis.
func fill(addr string, keys, size int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return fmt.Errorf("connect to fill %s: %w", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Minute))
	if _, err := c.Write(appendCommand(nil, "FLUSHALL")); err != nil {
		return fmt.Errorf("flushall: %w", err)
	}
	r := bufio.NewReaderSize(c, 64<<10)
	if _, _, err := readHeader(r); err != nil {
		return fmt.Errorf("flushall: %w", err)
	}
	value := make([]byte, size)
	for i := range value {
		value[i] = 'a' + byte(i%26)
	}
	batch := max(1, min(512, (1<<20)/max(size, 1)))
	var buf []byte
	for i := 0; i < keys; i += batch {
		n := min(batch, keys-i)
		buf = buf[:0]
		for j := range n {
			buf = append(buf, "*3\r\n$3\r\nSET\r\n$"...)
			buf = strconv.AppendInt(buf, keyLen, 10)
			buf = append(buf, '\r', '\n')
			buf = appendKey(buf, i+j)
			buf = append(buf, "\r\n$"...)
			buf = strconv.AppendInt(buf, int64(size), 10)
			buf = append(buf, '\r', '\n')
			buf = append(buf, value...)
			buf = append(buf, '\r', '\n')
		}
		if _, err := c.Write(buf); err != nil {
			return fmt.Errorf("fill: %w", err)
		}
		for range n {
			t, _, err := readHeader(r)
			if err != nil {
				return fmt.Errorf("fill: %w", err)
			}
			if t != '+' {
				return fmt.Errorf("fill: SET answered with type %q", t)
			}
		}
	}
	return nil
}
