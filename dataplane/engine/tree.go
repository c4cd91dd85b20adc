package engine

import (
	"hash/maphash"
	"sync/atomic"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Tree is one domain's compiled engine tree from one policy version. A
// tree may be shared by several States (a reload that leaves a domain
// unchanged keeps its tree), so it is reference counted; the last release
// drops its upstream references.
type Tree struct {
	Domain  string
	Version string
	Root    Engine
	// Config is the DomainTree the tree was built from, to detect
	// unchanged domains on reload.
	Config *keywayv1.DomainTree

	refs    atomic.Int64
	release func()
}

// NewTree returns a tree holding one reference; release runs when the
// last reference is dropped.
func NewTree(domain string, cfg *keywayv1.DomainTree, root Engine, release func()) *Tree {
	t := &Tree{Domain: domain, Version: cfg.GetVersion(), Root: root, Config: cfg, release: release}
	t.refs.Store(1)
	return t
}

// Ref takes another reference.
func (t *Tree) Ref() *Tree { t.refs.Add(1); return t }

// Unref drops a reference.
func (t *Tree) Unref() {
	if t.refs.Add(-1) == 0 && t.release != nil {
		t.release()
	}
}

// Domain is a workload domain's trees in one State.
type Domain struct {
	Name   string
	Stable *Tree
	// Canary is set while a rollout runs; CanaryPercent of the domain's
	// connections use it.
	Canary        *Tree
	CanaryPercent uint32
	RolloutID     string
	// Config is the resource the domain was built from.
	Config *keywayv1.Domain
}

var canarySeed = maphash.MakeSeed()

// TreeFor returns the tree s runs on and whether it is the canary. The
// choice is a stable hash of the session and the rollout id, so a session
// keeps its tree for a rollout's whole life and raising the percentage
// only moves sessions from stable to canary.
func (d *Domain) TreeFor(s *Session) (*Tree, bool) {
	if d.Canary == nil || d.CanaryPercent == 0 {
		return d.Stable, false
	}
	if d.CanaryPercent >= 100 {
		return d.Canary, true
	}
	if Bucket(s.Hash, d.RolloutID) < d.CanaryPercent {
		return d.Canary, true
	}
	return d.Stable, false
}

// Bucket maps a session hash and a salt to 0..99, uniformly and stably.
func Bucket(hash uint64, salt string) uint32 {
	var h maphash.Hash
	h.SetSeed(canarySeed)
	var b [8]byte
	for i := range b {
		b[i] = byte(hash >> (8 * i))
	}
	h.Write(b[:])
	h.WriteString(salt)
	return uint32(h.Sum64() % 100)
}

// State is everything a snapshot compiles to. It is immutable once
// installed; requests acquire it for the length of one batch so that a
// pipeline never straddles two versions.
type State struct {
	Domains map[string]*Domain
	Proxy   *keywayv1.ProxyConfig
	// Version describes the snapshot for logs and INFO.
	Version string

	refs    atomic.Int64
	retired chan struct{}
}

// NewState returns a state holding one reference (the installer's). It
// takes over one reference of every tree in domains.
func NewState(domains map[string]*Domain, proxy *keywayv1.ProxyConfig, version string) *State {
	s := &State{Domains: domains, Proxy: proxy, Version: version, retired: make(chan struct{})}
	s.refs.Store(1)
	return s
}

// Release drops a reference; the last one releases the trees.
func (s *State) Release() {
	if s.refs.Add(-1) != 0 {
		return
	}
	for _, d := range s.Domains {
		if d.Stable != nil {
			d.Stable.Unref()
		}
		if d.Canary != nil {
			d.Canary.Unref()
		}
	}
	close(s.retired)
}

// Retired is closed once the state is replaced and its last batch ended.
func (s *State) Retired() <-chan struct{} { return s.retired }

// Current holds the installed State.
type Current struct {
	p atomic.Pointer[State]
}

// Acquire returns the installed state with a reference the caller must
// Release, or nil before the first install.
func (c *Current) Acquire() *State {
	for {
		s := c.p.Load()
		if s == nil {
			return nil
		}
		n := s.refs.Load()
		if n == 0 {
			continue // retired between Load and here; the pointer has moved on
		}
		if s.refs.CompareAndSwap(n, n+1) {
			return s
		}
	}
}

// Load returns the installed state without a reference, for reading
// metadata only.
func (c *Current) Load() *State { return c.p.Load() }

// Install swaps s in; the previous state is released once its in-flight
// batches finish.
func (c *Current) Install(s *State) {
	if old := c.p.Swap(s); old != nil {
		old.Release()
	}
}
