// Package reload compiles the resources a proxy receives from the control
// plane into an engine.State and installs it: build everything off to the
// side, swap with one pointer store, keep the old State on any error. It
// also keeps the last applied resources on disk so that a proxy restarted
// while the control plane is down serves at once.
package reload

import (
	"fmt"
	"log/slog"
	"sync"

	"google.golang.org/protobuf/proto"

	"keyway.dev/dataplane/engine"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Applier builds States from resources and installs them in a Current.
// Apply calls are serialized; it is the only writer of its Current.
type Applier struct {
	reg   *engine.Registry
	pools engine.Upstreams
	env   *engine.Env
	cur   *engine.Current
	log   *slog.Logger

	mu sync.Mutex
	// observe, when set, hears the outcome of every Apply (telemetry).
	observe func(version string, err error)
}

// NewApplier returns an Applier that builds with reg and pools and
// installs into cur. env is shared with every tree; log may be nil.
func NewApplier(reg *engine.Registry, pools engine.Upstreams, env *engine.Env, cur *engine.Current, log *slog.Logger) *Applier {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Applier{reg: reg, pools: pools, env: env, cur: cur, log: log}
}

// Observe makes f hear the version and outcome of every Apply, under
// Apply's lock, so a proxy can count reloads and refusals whatever their
// source (control plane, policy file, saved snapshot). Call it before the
// first Apply; f must not call back into the Applier.
func (a *Applier) Observe(f func(version string, err error)) { a.observe = f }

// Current is the Current the applier installs into.
func (a *Applier) Current() *engine.Current { return a.cur }

// Apply builds a State from domains and proxy and installs it, if every
// domain proxy's identity rules can place a connection in has a tree. A domain
// tree equal to one the installed State runs is reused, not rebuilt, so
// its upstream references and any engine state survive the reload. On
// error nothing is installed, everything acquired is released, and the
// error names the domain and the engine path: it is the NACK reason.
func (a *Applier) Apply(domains []*keywayv1.Domain, proxy *keywayv1.ProxyConfig, version string) (err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.observe != nil {
		defer func() { a.observe(version, err) }()
	}

	old := a.cur.Acquire() // nil before the first install
	if old != nil {
		defer old.Release()
	}
	built := make(map[string]*engine.Domain, len(domains))
	for _, d := range domains {
		nd, err := a.domain(d, old)
		if err == nil && built[d.GetName()] != nil {
			unref(nd)
			err = fmt.Errorf("domain %q: sent twice", d.GetName())
		}
		if err != nil {
			for _, b := range built {
				unref(b)
			}
			return err
		}
		built[d.GetName()] = nd
	}
	if err := servable(built, proxy); err != nil {
		for _, b := range built {
			unref(b)
		}
		return err
	}
	a.cur.Install(engine.NewState(built, proxy, version))
	a.log.Info("policy applied", "version", version, "domains", len(built))
	return nil
}

// ApplyFlags installs flags for every tree at once; flags need no
// rebuild because flag engines read them from the Env per request.
func (a *Applier) ApplyFlags(flags []*keywayv1.Flag) {
	a.env.SetFlags(flags)
}

func (a *Applier) domain(d *keywayv1.Domain, old *engine.State) (*engine.Domain, error) {
	name := d.GetName()
	if name == "" {
		return nil, fmt.Errorf("domain without a name")
	}
	if d.GetStable() == nil {
		return nil, fmt.Errorf("domain %q: no stable tree", name)
	}
	if d.GetCanaryPercent() > 100 {
		return nil, fmt.Errorf("domain %q: canary_percent %d is over 100", name, d.GetCanaryPercent())
	}
	var prev *engine.Domain
	if old != nil {
		prev = old.Domains[name]
	}
	stable, err := a.tree(name, d.GetStable(), prev)
	if err != nil {
		return nil, fmt.Errorf("domain %q stable tree %s: %w", name, d.GetStable().GetVersion(), err)
	}
	nd := &engine.Domain{Name: name, Stable: stable, CanaryPercent: d.GetCanaryPercent(), RolloutID: d.GetRolloutId(), Config: d}
	if d.GetCanary() != nil {
		canary, err := a.tree(name, d.GetCanary(), prev)
		if err != nil {
			stable.Unref()
			return nil, fmt.Errorf("domain %q canary tree %s: %w", name, d.GetCanary().GetVersion(), err)
		}
		nd.Canary = canary
	}
	return nd, nil
}

// tree returns a reference to a compiled tree for cfg: the previous
// State's stable or canary tree of the domain when its config is equal
// (so promoting a canary reuses it), else a new build.
func (a *Applier) tree(domain string, cfg *keywayv1.DomainTree, prev *engine.Domain) (*engine.Tree, error) {
	if prev != nil {
		for _, t := range []*engine.Tree{prev.Stable, prev.Canary} {
			if t != nil && proto.Equal(t.Config, cfg) {
				return t.Ref(), nil
			}
		}
	}
	b := engine.NewBuilder(a.reg, a.pools, domain, cfg.GetUpstreams(), a.env)
	root, err := b.Build(cfg.GetRoot())
	release := b.Release()
	if err != nil {
		release()
		return nil, err
	}
	return engine.NewTree(domain, cfg, root, release), nil
}

func unref(d *engine.Domain) {
	if d.Stable != nil {
		d.Stable.Unref()
	}
	if d.Canary != nil {
		d.Canary.Unref()
	}
}

// servable returns an error naming a domain that proxy's identity rules
// can place connections in but that has no tree in built: installing
// such a State would fail every command of those connections.
func servable(built map[string]*engine.Domain, proxy *keywayv1.ProxyConfig) error {
	id := proxy.GetIdentity()
	check := func(what, d string) error {
		if built[d] == nil {
			return fmt.Errorf("identity: %s sends connections to domain %q, which has no tree in this version", what, d)
		}
		return nil
	}
	if err := check("default_domain", id.GetDefaultDomain()); err != nil {
		return err
	}
	for _, u := range id.GetUsers() {
		if d := u.GetDomain(); d != "" {
			if err := check(fmt.Sprintf("user %q", u.GetName()), d); err != nil {
				return err
			}
		}
	}
	for _, r := range id.GetClientNames() {
		if err := check(fmt.Sprintf("client name %q", r.GetMatch()), r.GetDomain()); err != nil {
			return err
		}
	}
	for _, r := range id.GetCertificates() {
		if err := check(fmt.Sprintf("certificate %q", r.GetMatch()), r.GetDomain()); err != nil {
			return err
		}
	}
	for _, l := range proxy.GetListeners() {
		if d := l.GetDomain(); d != "" {
			if err := check(fmt.Sprintf("listener %q", l.GetName()), d); err != nil {
				return err
			}
		}
	}
	return nil
}
