package integration

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"keyway.dev/dataplane/redistest"
)

// step is one action of a compatibility script. A script runs once
// against redis-server and once through keyway-proxy, each with its own
// redis-server behind it, and every reply it reads is recorded.
type step struct {
	conn    int        // client connection the step uses; opened on first use
	cmds    [][]string // written with one flush
	raw     string     // written as is after cmds (inline commands)
	read    int        // replies read after writing
	want    string     // when set, redis-server itself must reply this: checks the script
	between [2]int64   // when set, the reply is an integer in this range instead of byte-equal (clock-dependent TTLs)
	blocked int        // when > 0, wait until redis sees this many blocked clients; nothing is sent
	pause   time.Duration
	timeout time.Duration // per reply; 5s when zero
}

// on runs one command on connection c and reads its reply.
func on(c int, args ...string) step {
	return step{conn: c, cmds: [][]string{args}, read: 1}
}

// do runs one command on connection 0.
func do(args ...string) step { return on(0, args...) }

// want is do with the reply redis-server must give.
func want(reply string, args ...string) step {
	s := do(args...)
	s.want = reply
	return s
}

// sendOn writes a command on connection c without reading its reply,
// for blocking commands and subscriptions whose replies come later.
func sendOn(c int, args ...string) step {
	return step{conn: c, cmds: [][]string{args}}
}

// recvOn reads n replies (or pushed messages) on connection c.
func recvOn(c, n int) step { return step{conn: c, read: n} }

// pipeline writes cmds on connection c with one flush and reads every
// reply.
func pipeline(c int, cmds [][]string) step {
	return step{conn: c, cmds: cmds, read: len(cmds), timeout: 30 * time.Second}
}

// awaitBlocked waits until redis-server has n blocked clients, so that a
// wake-up really wakes a blocked client. c is the connection that should
// be blocked; a reply it got instead is reported.
func awaitBlocked(c, n int) step { return step{conn: c, blocked: n} }

// entry is one recorded reply. Replies over 64 KiB are kept as a digest.
type entry struct {
	label string
	reply []byte
	size  int
	sum   [32]byte
	step  *step
}

const keepWhole = 64 << 10

func newEntry(label string, reply []byte, s *step) entry {
	e := entry{label: label, size: len(reply), step: s}
	if len(reply) > keepWhole {
		e.sum = sha256.Sum256(reply)
		e.reply = append([]byte(nil), reply[:64]...)
	} else {
		e.reply = append([]byte(nil), reply...)
	}
	return e
}

// same reports whether b is the reply a recorded.
func (a entry) same(b entry) bool {
	if lo, hi := a.step.between[0], a.step.between[1]; lo != 0 || hi != 0 {
		return inRange(a.reply, lo, hi) && inRange(b.reply, lo, hi)
	}
	return a.size == b.size && a.sum == b.sum && bytes.Equal(a.reply, b.reply)
}

func inRange(reply []byte, lo, hi int64) bool {
	s, ok := strings.CutPrefix(string(reply), ":")
	if !ok {
		return false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(s, "\r\n"), 10, 64)
	return err == nil && n >= lo && n <= hi
}

func (a entry) String() string {
	if a.size > keepWhole {
		return fmt.Sprintf("%q... (%d bytes, sha256 %x)", a.reply, a.size, a.sum[:8])
	}
	if len(a.reply) > 300 {
		return fmt.Sprintf("%q... (%d bytes)", a.reply[:300], a.size)
	}
	return fmt.Sprintf("%q", a.reply)
}

// target is where a script's clients connect, and the redis-server that
// ends up holding the data.
type target struct {
	name    string
	addr    string
	backing *redistest.Server
	// proto is the RESP version every client connection asks for with
	// HELLO before the script starts; 2 sends no HELLO.
	proto int
}

// mismatch is the first reply through the proxy that differs from
// redis-server's.
type mismatch struct {
	index     int
	want, got entry
}

func (m *mismatch) Error() string {
	return fmt.Sprintf("reply %d, to %s:\n  redis-server: %s\n  keyway-proxy: %s", m.index, m.want.label, m.want, m.got)
}

// run plays steps against tg from an empty database. With expect (the
// transcript redis-server gave) it stops at the first reply that differs.
func run(tg target, steps []step, expect []entry) ([]entry, error) {
	side, err := dialWire(tg.backing.Addr)
	if err != nil {
		return nil, err
	}
	defer side.Close()
	for _, reset := range [][]string{{"FLUSHALL"}, {"SCRIPT", "FLUSH"}} {
		if _, err := call(side, reset...); err != nil {
			return nil, fmt.Errorf("reset %s: %w", tg.backing.Addr, err)
		}
	}
	conns := map[int]*wire{}
	defer func() {
		for _, w := range conns {
			_ = w.Close()
		}
	}()
	var got []entry
	for i := range steps {
		s := &steps[i]
		if s.pause > 0 {
			time.Sleep(s.pause)
			continue
		}
		w := conns[s.conn]
		if w == nil {
			if w, err = dialWire(tg.addr); err != nil {
				return got, fmt.Errorf("step %d: %w", i, err)
			}
			conns[s.conn] = w
			if err := hello(w, tg.proto); err != nil {
				return got, fmt.Errorf("step %d on conn %d: %w", i, s.conn, err)
			}
		}
		if s.blocked > 0 {
			if err := waitBlocked(side, w, s.blocked); err != nil {
				return got, fmt.Errorf("step %d on conn %d: %w", i, s.conn, err)
			}
			continue
		}
		n, err := exchange(w, s, func(j int, r []byte) error {
			e := newEntry(labelOf(s, j), r, s)
			if expect != nil {
				if len(got) >= len(expect) {
					return fmt.Errorf("%s: one more reply than redis-server gave: %s", e.label, e)
				}
				if want := expect[len(got)]; !want.same(e) {
					return &mismatch{index: len(got), want: want, got: e}
				}
			} else if s.want != "" && tg.proto != 3 && string(r) != s.want {
				// want is written in RESP2; the RESP2 run checks the script.
				return fmt.Errorf("script: %s: redis-server replied %q, the script expects %q", e.label, r, s.want)
			}
			got = append(got, e)
			return nil
		})
		if err != nil {
			if _, ok := errors.AsType[*mismatch](err); ok || expect == nil {
				return got, err
			}
			next := "(none)"
			if len(got) < len(expect) {
				next = expect[len(got)].String()
			}
			return got, fmt.Errorf("step %d (%s): %w; redis-server's reply was %s", i, labelOf(s, n), err, next)
		}
	}
	if expect != nil && len(got) != len(expect) {
		return got, fmt.Errorf("%d replies, redis-server gave %d", len(got), len(expect))
	}
	return got, nil
}

// exchange writes the step's commands while reading its replies, so a
// long pipeline cannot deadlock on full socket buffers. Each reply goes to
// check as it arrives; the first error stops the step. It returns how many
// replies were checked.
func exchange(w *wire, s *step, check func(j int, reply []byte) error) (int, error) {
	wrote := make(chan error, 1)
	go func() { wrote <- w.send(s.cmds, s.raw) }()
	timeout := s.timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	var err error
	n := 0
	for ; n < s.read; n++ {
		var r []byte
		if r, err = w.readReply(nil, timeout); err != nil {
			break
		}
		if err = check(n, r); err != nil {
			break
		}
	}
	if err != nil {
		_ = w.conn.SetWriteDeadline(time.Now()) // unblock a writer stuck on a peer that stopped reading
	}
	if werr := <-wrote; werr != nil && err == nil {
		err = werr
	}
	return n, err
}

// hello switches w to RESP3 when proto is 3 and checks the answer has
// the shape Redis gives: a map of seven fields saying proto 3.
func hello(w *wire, proto int) error {
	if proto != 3 {
		return nil
	}
	r, err := call(w, "HELLO", "3")
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(r, []byte("%7\r\n")) || !bytes.Contains(r, []byte("$5\r\nproto\r\n:3\r\n")) {
		return fmt.Errorf("HELLO 3 answered %q", r)
	}
	return nil
}

// call sends one command on w and returns its reply.
func call(w *wire, args ...string) ([]byte, error) {
	if err := w.send([][]string{args}, ""); err != nil {
		return nil, err
	}
	r, err := w.readReply(nil, 10*time.Second)
	if err == nil && len(r) > 0 && r[0] == '-' {
		err = fmt.Errorf("%s: %s", args[0], bytes.TrimSpace(r))
	}
	return r, err
}

var errNotBlocked = errors.New("redis-server saw no blocked client")

// waitBlocked polls redis for n blocked clients. When they do not appear,
// the blocking command most likely got an immediate reply; that reply is
// reported.
func waitBlocked(side, client *wire, n int) error {
	needle := fmt.Sprintf("blocked_clients:%d\r\n", n)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		info, err := call(side, "INFO", "clients")
		if err != nil {
			return fmt.Errorf("info clients: %w", err)
		}
		if bytes.Contains(info, []byte(needle)) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	early, err := client.readReply(nil, 100*time.Millisecond)
	if err == nil {
		return fmt.Errorf("%w within 5s; the blocking command was answered at once with %q", errNotBlocked, early)
	}
	return fmt.Errorf("%w within 5s, and the blocking command got no reply either", errNotBlocked)
}

// labelOf names the j-th reply of s for messages: the command it answers,
// or the connection it was read from.
func labelOf(s *step, j int) string {
	if j >= len(s.cmds) {
		return fmt.Sprintf("a read on conn %d", s.conn)
	}
	parts := make([]string, 0, len(s.cmds[j]))
	for _, a := range s.cmds[j] {
		switch {
		case len(a) > 40:
			parts = append(parts, fmt.Sprintf("<%d bytes>", len(a)))
		case strings.IndexFunc(a, func(r rune) bool { return r < ' ' || r > '~' }) >= 0:
			parts = append(parts, strconv.Quote(a))
		default:
			parts = append(parts, a)
		}
	}
	return fmt.Sprintf("%s on conn %d", strings.Join(parts, " "), s.conn)
}
