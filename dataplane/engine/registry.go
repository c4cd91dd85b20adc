package engine

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	keywayv1 "keyway.dev/proto/keyway/v1"
)

// BuildFunc compiles one engine kind's message into an Engine.
type BuildFunc func(b *Builder, msg proto.Message) (Engine, error)

// Registry maps engine kind names (the oneof field names of
// keyway.v1.Engine) to builders. It is explicit rather than filled by
// init() so tests can register fakes.
type Registry struct {
	kinds map[string]BuildFunc
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{kinds: map[string]BuildFunc{}} }

// Add registers build for the kind named field. It panics on a name that is
// not a kind of keyway.v1.Engine or is registered twice: both are
// programming errors.
func Add[M proto.Message](r *Registry, field string, build func(*Builder, M) (Engine, error)) {
	if engineKinds().ByName(protoreflect.Name(field)) == nil {
		panic(fmt.Sprintf("engine: %q is not a kind of keyway.v1.Engine", field))
	}
	if _, dup := r.kinds[field]; dup {
		panic(fmt.Sprintf("engine: kind %q registered twice", field))
	}
	r.kinds[field] = func(b *Builder, m proto.Message) (Engine, error) { return build(b, m.(M)) }
}

// Kinds lists the registered kind names, sorted.
func (r *Registry) Kinds() []string {
	out := make([]string, 0, len(r.kinds))
	for k := range r.kinds {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func engineKinds() protoreflect.FieldDescriptors {
	return (&keywayv1.Engine{}).ProtoReflect().Descriptor().Oneofs().ByName("kind").Fields()
}

// Upstream is a compiled upstream: an Engine that sends to Redis. Pools
// share one Upstream between every tree that names the same identity.
type Upstream interface {
	Engine
	// Name is the upstream's name in the policy, for telemetry.
	Name() string
}

// Upstreams hands out shared upstream clients by identity.
type Upstreams interface {
	// Acquire returns the client for u, shared with every tree that uses
	// an upstream of the same identity, and a func that drops this
	// reference; the last drop closes the client.
	Acquire(u *keywayv1.Upstream) (Upstream, func(), error)
}

// Builder compiles one domain tree. It is not safe for concurrent use.
type Builder struct {
	reg       *Registry
	pools     Upstreams
	upstreams map[string]*keywayv1.Upstream
	acquired  map[string]Upstream
	releases  []func()
	path      []string
	// kids collects, per engine being built, the children it builds, so
	// every Labeled knows its subtree (stats.go walks it).
	kids [][]*Labeled
	// Domain is the domain whose tree is built.
	Domain string
	// Env gives builders access to proxy-wide services (flags, metrics,
	// clocks). It may be nil in unit tests.
	Env *Env
}

// NewBuilder returns a Builder for one tree whose upstreams are ups.
func NewBuilder(reg *Registry, pools Upstreams, domain string, ups []*keywayv1.Upstream, env *Env) *Builder {
	m := make(map[string]*keywayv1.Upstream, len(ups))
	for _, u := range ups {
		m[u.GetName()] = u
	}
	return &Builder{reg: reg, pools: pools, upstreams: m, acquired: map[string]Upstream{}, Domain: domain, Env: env}
}

// Build compiles the root engine.
func (b *Builder) Build(root *keywayv1.Engine) (Engine, error) {
	return b.Child("root", root)
}

// Child compiles a child engine; field names it in error messages, which
// read like "root.route.default: upstream: unknown upstream "x"".
func (b *Builder) Child(field string, cfg *keywayv1.Engine) (Engine, error) {
	b.path = append(b.path, field)
	defer func() { b.path = b.path[:len(b.path)-1] }()
	if cfg == nil {
		return nil, b.errorf(nil, "engine is missing")
	}
	m := cfg.ProtoReflect()
	fd := m.WhichOneof(m.Descriptor().Oneofs().ByName("kind"))
	if fd == nil {
		return nil, b.errorf(cfg, "engine has no kind")
	}
	kind := string(fd.Name())
	build, ok := b.reg.kinds[kind]
	if !ok {
		return nil, b.errorf(cfg, "engine kind %q is not supported by this proxy (it knows %s)", kind, strings.Join(b.reg.Kinds(), ", "))
	}
	b.path = append(b.path, kind)
	defer func() { b.path = b.path[:len(b.path)-1] }()
	b.kids = append(b.kids, nil)
	e, err := build(b, m.Get(fd).Message().Interface())
	kids := b.kids[len(b.kids)-1]
	b.kids = b.kids[:len(b.kids)-1]
	if err != nil {
		if _, nested := err.(*BuildError); nested {
			return nil, err
		}
		return nil, b.errorf(cfg, "%v", err)
	}
	l := &Labeled{Engine: e, Kind: kind, Label: cfg.GetLabel(), Source: cfg.GetSource(), children: kids}
	if a, ok := e.(Admitter); ok {
		l.admitted = a.Admitted()
	}
	if n := len(b.kids); n > 0 {
		b.kids[n-1] = append(b.kids[n-1], l)
	}
	return l, nil
}

// Upstream returns the shared client of the tree's upstream name.
func (b *Builder) Upstream(name string) (Upstream, error) {
	if u, ok := b.acquired[name]; ok {
		return u, nil
	}
	cfg, ok := b.upstreams[name]
	if !ok {
		known := make([]string, 0, len(b.upstreams))
		for n := range b.upstreams {
			known = append(known, n)
		}
		sort.Strings(known)
		return nil, fmt.Errorf("unknown upstream %q (the tree has %s)", name, strings.Join(known, ", "))
	}
	u, release, err := b.pools.Acquire(cfg)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", name, err)
	}
	b.acquired[name] = u
	b.releases = append(b.releases, release)
	return u, nil
}

// UpstreamConfig returns the declaration of the tree's upstream name.
func (b *Builder) UpstreamConfig(name string) (*keywayv1.Upstream, bool) {
	u, ok := b.upstreams[name]
	return u, ok
}

// OnRelease registers f to run when the tree is released (or its build
// failed), in registration order with the upstream references: engines
// that own goroutines (mirror's shadow worker) stop them here.
func (b *Builder) OnRelease(f func()) { b.releases = append(b.releases, f) }

// Path is the dotted position of the engine being built
// ("root.route.default.split"). It is the same on every proxy and across
// policy versions that keep the tree's shape, so engines use it to salt
// hashes that must be stable but independent of their siblings'.
func (b *Builder) Path() string { return strings.Join(b.path, ".") }

// Release drops every upstream reference the builder took. Call it when
// the built tree is retired, or when the build failed.
func (b *Builder) Release() func() {
	rs := b.releases
	b.releases = nil
	return func() {
		for _, r := range rs {
			r()
		}
	}
}

// BuildError is an error with the path of the engine that caused it.
type BuildError struct {
	Path   string
	Source string
	Err    error
}

func (e *BuildError) Error() string {
	if e.Source != "" {
		return fmt.Sprintf("%s (%s): %v", e.Path, e.Source, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

func (e *BuildError) Unwrap() error { return e.Err }

func (b *Builder) errorf(cfg *keywayv1.Engine, format string, args ...any) error {
	return &BuildError{Path: strings.Join(b.path, "."), Source: cfg.GetSource(), Err: fmt.Errorf(format, args...)}
}

// Labeled wraps every built engine with its kind and policy position, for
// explain and telemetry. It adds no work on the request path beyond one
// interface call and one nil check (replay.go).
type Labeled struct {
	Engine
	Kind   string
	Label  string
	Source string
	// children are the engines this one's builder built, in build order.
	children []*Labeled
	// admitted is where an Admitter passes a replayed request (replay.go).
	admitted Engine
}
