package engine

import (
	"sync/atomic"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Env is what the proxy shares with every tree it builds: things that
// outlive a snapshot, so engines read them instead of capturing copies.
type Env struct {
	// NodeID names this proxy, for hashing and custom commands.
	NodeID string
	// InFlight counts the requests inside ratelimit engines' children,
	// proxy-wide; while it is above Saturation (0: the ratelimit
	// package's default, negative: never) ratelimit engines scale down
	// the rates of low-priority domains first.
	InFlight   atomic.Int64
	Saturation int64
	flags      atomic.Pointer[map[string]uint32]
}

// SetFlags installs the flag set distributed by the control plane, keyed
// by "domain/flag" with the percentage on.
func (e *Env) SetFlags(flags []*keywayv1.Flag) {
	m := make(map[string]uint32, len(flags))
	for _, f := range flags {
		m[f.GetDomain()+"/"+f.GetFlag()] = f.GetPercent()
	}
	e.flags.Store(&m)
}

// FlagPercent returns the share (0..100) of connections for which flag is
// on in domain; an unknown flag is off.
func (e *Env) FlagPercent(domain, flag string) uint32 {
	return e.FlagPercentKey(FlagKey(domain, flag))
}

// FlagKey joins domain and flag into the key FlagPercentKey takes.
// Engines build it once, at Build, so the request path does not
// concatenate (and allocate, for names past 32 bytes) per request.
func FlagKey(domain, flag string) string { return domain + "/" + flag }

// FlagPercentKey is FlagPercent for a key made by FlagKey.
func (e *Env) FlagPercentKey(key string) uint32 {
	if e == nil {
		return 0
	}
	m := e.flags.Load()
	if m == nil {
		return 0
	}
	return (*m)[key]
}
