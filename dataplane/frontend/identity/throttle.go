package identity

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Failed AUTH attempts are counted per source address and slowed down, so
// a client guessing passwords gets a handful of tries at full speed and
// then one try per growing delay. The delays of one address queue behind
// each other, so opening many connections does not buy parallel guesses,
// and a try that would have to wait too long is refused at once instead
// of holding a connection. Only the connection that sent the AUTH waits;
// every other client is served as usual.

// Limits tune the slowing down of failed AUTH; zero values take the
// defaults of DefaultLimits.
type Limits struct {
	// Free is how many failures an address may have in a Window before
	// its attempts are delayed.
	Free int
	// Window is how long a failure is remembered, counted from the
	// address's last failure.
	Window time.Duration
	// Delay is the wait of the first attempt over Free; it doubles with
	// each further failure, up to MaxDelay.
	Delay    time.Duration
	MaxDelay time.Duration
	// MaxWait is the longest an attempt may wait behind the ones queued
	// before it from the same address; beyond it the attempt is refused.
	MaxWait time.Duration
	// MaxAddrs bounds the addresses remembered, so a spray of sources
	// cannot grow the table without bound.
	MaxAddrs int
}

// DefaultLimits: 5 free failures a minute, then 100 ms doubling to
// 5 s, at most 30 s of queue per address.
func DefaultLimits() Limits {
	return Limits{Free: 5, Window: time.Minute, Delay: 100 * time.Millisecond,
		MaxDelay: 5 * time.Second, MaxWait: 30 * time.Second, MaxAddrs: 1 << 16}
}

// Stats are the counters of failed authentication, for telemetry.
type Stats struct {
	// Failures counts failed AUTH and HELLO AUTH attempts.
	Failures uint64
	// Delayed counts attempts that waited before being checked.
	Delayed uint64
	// Refused counts attempts refused because their address had queued
	// too many already.
	Refused uint64
	// Throttled is the number of addresses whose attempts are delayed
	// now.
	Throttled int
}

// ErrThrottled is the answer to an attempt refused without a check.
const ErrThrottled = "ERR keyway: too many failed authentication attempts from this address, try again later"

// Throttle keeps the failure counts of the addresses that failed
// recently. It is safe for concurrent use.
type Throttle struct {
	lim      Limits
	failures atomic.Uint64
	delayed  atomic.Uint64
	refused  atomic.Uint64

	// after is time.After; tests hold attempts with their own clock.
	after func(time.Duration) <-chan time.Time

	mu    sync.Mutex
	addrs map[string]*entry
}

// entry is one address's recent failures.
type entry struct {
	fails int
	last  time.Time // last failure
	next  time.Time // when the last queued attempt is checked
}

// NewThrottle returns a Throttle with limits l.
func NewThrottle(l Limits) *Throttle {
	d := DefaultLimits()
	if l.Free <= 0 {
		l.Free = d.Free
	}
	if l.Window <= 0 {
		l.Window = d.Window
	}
	if l.Delay <= 0 {
		l.Delay = d.Delay
	}
	if l.MaxDelay <= 0 {
		l.MaxDelay = d.MaxDelay
	}
	if l.MaxWait <= 0 {
		l.MaxWait = d.MaxWait
	}
	if l.MaxAddrs <= 0 {
		l.MaxAddrs = d.MaxAddrs
	}
	return &Throttle{lim: l, after: time.After, addrs: map[string]*entry{}}
}

// delay is how long the next attempt of an address with fails recent
// failures waits.
func (a *Throttle) delay(fails int) time.Duration {
	over := fails - a.lim.Free
	if over < 0 {
		return 0
	}
	d := a.lim.Delay
	for range over {
		if d >= a.lim.MaxDelay {
			break
		}
		d *= 2
	}
	return min(d, a.lim.MaxDelay)
}

// reserve books the next attempt of addr and returns how long it must
// wait, or false when it must be refused.
func (a *Throttle) reserve(addr string, now time.Time) (time.Duration, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.addrs[addr]
	if e == nil || now.Sub(e.last) > a.lim.Window {
		return 0, true
	}
	d := a.delay(e.fails)
	if d == 0 {
		return 0, true
	}
	at := now
	if e.next.After(at) {
		at = e.next
	}
	at = at.Add(d)
	if at.Sub(now) > a.lim.MaxWait {
		return 0, false
	}
	e.next = at
	return at.Sub(now), true
}

// Wait holds an attempt from addr for its delay. It returns the refusal
// text when the attempt must not be checked, or "" to go on.
func (a *Throttle) Wait(ctx context.Context, addr string) string {
	d, ok := a.reserve(addr, time.Now())
	if !ok {
		a.refused.Add(1)
		return ErrThrottled
	}
	if d == 0 {
		return ""
	}
	a.delayed.Add(1)
	select {
	case <-a.after(d):
		return ""
	case <-ctx.Done():
		return ErrThrottled
	}
}

// Failed counts a failed attempt of addr.
func (a *Throttle) Failed(addr string, now time.Time) {
	a.failures.Add(1)
	a.mu.Lock()
	defer a.mu.Unlock()
	e := a.addrs[addr]
	if e == nil {
		if len(a.addrs) >= a.lim.MaxAddrs {
			a.prune(now)
		}
		e = &entry{}
		a.addrs[addr] = e
	} else if now.Sub(e.last) > a.lim.Window {
		*e = entry{}
	}
	e.fails++
	e.last = now
}

// prune forgets addresses whose failures are out of the window, and one
// more when none are, to make room.
func (a *Throttle) prune(now time.Time) {
	for k, e := range a.addrs {
		if now.Sub(e.last) > a.lim.Window && !e.next.After(now) {
			delete(a.addrs, k)
		}
	}
	for k := range a.addrs {
		if len(a.addrs) < a.lim.MaxAddrs {
			break
		}
		delete(a.addrs, k)
	}
}

// Stats returns the counters as of now.
func (a *Throttle) Stats(now time.Time) Stats {
	st := Stats{Failures: a.failures.Load(), Delayed: a.delayed.Load(), Refused: a.refused.Load()}
	a.mu.Lock()
	for _, e := range a.addrs {
		if now.Sub(e.last) <= a.lim.Window && e.fails >= a.lim.Free {
			st.Throttled++
		}
	}
	a.mu.Unlock()
	return st
}

// SourceKey is the address failures are counted under: the IP of a TCP
// peer, its /64 for IPv6, where one host usually holds the whole prefix.
func SourceKey(remote string) string {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return remote // a unix socket or an unparsable address: count it whole
	}
	ip := ap.Addr().Unmap()
	if ip.Is6() {
		p, err := ip.Prefix(64)
		if err == nil {
			return p.String()
		}
	}
	return ip.String()
}

// HoldWith replaces the clock attempts wait on (time.After), so a test
// decides when a delayed attempt goes on. Call it before any Wait.
func (a *Throttle) HoldWith(after func(time.Duration) <-chan time.Time) { a.after = after }
