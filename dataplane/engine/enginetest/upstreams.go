package enginetest

import (
	"fmt"
	"sort"
	"sync"

	"keyway.dev/dataplane/engine"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Upstream is a recording upstream client: a Recorder with a name.
type Upstream struct {
	*Recorder
}

var (
	_ engine.Upstream  = (*Upstream)(nil)
	_ engine.Explainer = (*Upstream)(nil)
)

// Name is the upstream's policy name.
func (u *Upstream) Name() string { return u.Recorder.Name }

// Explain records that the request reaches this upstream.
func (u *Upstream) Explain(_ *engine.Request, x *engine.Explanation) engine.Engine {
	x.Reach(u.Recorder.Name)
	return nil
}

// Upstreams is a fake engine.Upstreams that hands out one recording
// Upstream per upstream name and counts references, so tests can assert
// which upstream a command reached and that trees release what they
// took.
type Upstreams struct {
	mu       sync.Mutex
	ups      map[string]*Upstream
	refs     map[string]int
	acquired map[string]int
	fail     map[string]error
	overrel  []string
}

var _ engine.Upstreams = (*Upstreams)(nil)

// NewUpstreams returns an empty fake pool.
func NewUpstreams() *Upstreams {
	return &Upstreams{
		ups:      map[string]*Upstream{},
		refs:     map[string]int{},
		acquired: map[string]int{},
		fail:     map[string]error{},
	}
}

// Get returns the upstream named name, creating it (answering OK) if
// needed; tests use it to set replies before building and to read what
// reached it after.
func (p *Upstreams) Get(name string) *Upstream {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.get(name)
}

func (p *Upstreams) get(name string) *Upstream {
	u, ok := p.ups[name]
	if !ok {
		u = &Upstream{Recorder: NewRecorder(name, OK)}
		p.ups[name] = u
	}
	return u
}

// Fail makes Acquire of the upstream named name fail with err; nil clears
// it.
func (p *Upstreams) Fail(name string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		delete(p.fail, name)
		return
	}
	p.fail[name] = err
}

// Acquire returns the upstream of cfg's name and takes a reference.
func (p *Upstreams) Acquire(cfg *keywayv1.Upstream) (engine.Upstream, func(), error) {
	name := cfg.GetName()
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.fail[name]; err != nil {
		return nil, nil, fmt.Errorf("fake upstream %q: %w", name, err)
	}
	p.refs[name]++
	p.acquired[name]++
	var once sync.Once
	release := func() {
		released := false
		once.Do(func() {
			released = true
			p.mu.Lock()
			p.refs[name]--
			p.mu.Unlock()
		})
		if !released {
			p.mu.Lock()
			p.overrel = append(p.overrel, name)
			p.mu.Unlock()
		}
	}
	return p.get(name), release, nil
}

// Refs returns the references to name held now.
func (p *Upstreams) Refs(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refs[name]
}

// Held returns the names with references held now, sorted.
func (p *Upstreams) Held() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for n, r := range p.refs {
		if r != 0 {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// Acquired returns how many times name was acquired in all.
func (p *Upstreams) Acquired(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.acquired[name]
}

// DoubleReleases lists names whose release func was called more than
// once for one Acquire: a bug in the caller.
func (p *Upstreams) DoubleReleases() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.overrel...)
}
