package telemetry

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"keyway.dev/dataplane/engine"
)

// Fold values replace labels past the cardinality caps.
const (
	// UnknownCommand replaces command names outside the command table.
	UnknownCommand = "UNKNOWN"
	// Other replaces domains, tracks and upstreams past their caps.
	Other = "other"
)

// Options bound a Recorder's memory and label cardinality. Zero values take
// the defaults.
type Options struct {
	// KnownCommand reports whether a canonical command name is in the
	// command table; others are counted as UNKNOWN. Nil accepts every
	// name, and MaxCommands still bounds them.
	KnownCommand func(name string) bool
	// MaxDomains, MaxUpstreams and MaxTracks cap distinct label values;
	// more fold into "other". Defaults 256, 256, 8.
	MaxDomains, MaxUpstreams, MaxTracks int
	// MaxCommands caps distinct command names; more fold into UNKNOWN.
	// Default 512 (the command table has about 240 plus subcommands).
	MaxCommands int
	// HotKeySample is how many requests ObserveKey skips per key it
	// counts, a power of two; default 64.
	HotKeySample int
	// HotKeyCapacity is the number of keys each domain's top-K tracks;
	// default 64.
	HotKeyCapacity int
	// PerCommandHistograms exports keyway_request_duration_seconds per
	// command as well as per domain, track and upstream. Off, the
	// histogram folds commands together (per-command counts stay in the
	// counters), which divides its series by the number of commands in
	// use: at 20 domains, 2 tracks, 40 commands and 4 upstreams, about
	// 4,300 histogram series instead of 173,000.
	PerCommandHistograms bool
}

func (o *Options) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.MaxDomains, 256)
	def(&o.MaxUpstreams, 256)
	def(&o.MaxTracks, 8)
	def(&o.MaxCommands, 512)
	def(&o.HotKeySample, 64)
	def(&o.HotKeyCapacity, 64)
	o.HotKeySample = 1 << (bitsLen(o.HotKeySample - 1))
}

func bitsLen(x int) int {
	n := 0
	for x > 0 {
		n++
		x >>= 1
	}
	return n
}

// NodeStats is one upstream Redis node's state, as the upstream layer
// reports it.
type NodeStats struct {
	Upstream    string
	Node        string // host:port
	Conns       int64
	Inflight    int64
	CircuitOpen bool
}

// Recorder counts a proxy's requests. The zero value is not usable; call
// New. All methods are safe for concurrent use.
type Recorder struct {
	opts   Options
	shards int

	// list is every distinct series, in creation order.
	list atomic.Pointer[[]*Series]
	// domains maps a domain name as given to its per-domain state, which
	// indexes the domain's series. Maps are replaced whole on insert, so
	// readers never lock.
	domains atomic.Pointer[map[string]*domainState]

	mu       sync.Mutex // serializes inserts; guards the fields below
	seen     map[string]map[string]struct{}
	canon    map[Labels]*Series
	aliases  int
	overflow atomic.Uint64

	domainVersions atomic.Pointer[[]DomainVersion]

	policyVersion atomic.Pointer[string]
	reloads       atomic.Uint64
	nacks         atomic.Uint64
	nodeStats     atomic.Pointer[func() []NodeStats]
	engineStats   atomic.Pointer[func() []engine.EngineStat]

	reportsSent    atomic.Uint64
	reportsFolded  atomic.Uint64
	reportsDropped atomic.Uint64
}

// domainState is what a Recorder keeps per domain besides series.
type domainState struct {
	name  string
	conns atomic.Int64
	hot   *hotKeys
	// commands maps a command name as given to the series seen with it.
	commands atomic.Pointer[map[string][]seriesEntry]
}

// New returns a Recorder with opts.
func New(opts Options) *Recorder {
	opts.defaults()
	shards := 1
	for shards < runtime.GOMAXPROCS(0) && shards < 16 {
		shards <<= 1
	}
	r := &Recorder{opts: opts, shards: shards, seen: map[string]map[string]struct{}{}, canon: map[Labels]*Series{}}
	r.list.Store(&[]*Series{})
	r.domains.Store(&map[string]*domainState{})
	return r
}

// Observe counts one answered request: its domain, rollout track, canonical
// command name (resp's Spec.Name or "UNKNOWN"), the upstream that answered
// ("" when none did), the error kind of the reply, the request and reply
// sizes in bytes and the time from reading the request to answering it.
// Once the series exists it does not allocate or lock.
func (r *Recorder) Observe(domain, track, command, upstream string, kind engine.ErrorKind, reqBytes, replyBytes int, latency time.Duration) {
	r.Series(domain, track, command, upstream).Observe(kind, reqBytes, replyBytes, latency)
}

// Series returns the series for the labels, creating it on first use.
// The lookup is two small string-keyed maps (domain, then command) and a
// scan of the few (track, upstream) pairs a command sees.
func (r *Recorder) Series(domain, track, command, upstream string) *Series {
	d := r.domain(domain)
	for _, e := range (*d.commands.Load())[command] {
		if e.track == track && e.upstream == upstream {
			return e.series
		}
	}
	return r.insert(d, domain, track, command, upstream)
}

// maxAliases bounds the lookup maps when callers keep sending new label
// values past the caps; beyond it lookups of folded labels take the lock.
const maxAliases = 1 << 14

// seriesEntry maps a (track, upstream) as given to its series.
type seriesEntry struct {
	track, upstream string
	series          *Series
}

func (r *Recorder) insert(d *domainState, domain, track, command, upstream string) *Series {
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *d.commands.Load()
	for _, e := range old[command] {
		if e.track == track && e.upstream == upstream {
			return e.series
		}
	}
	given := Labels{Domain: domain, Track: track, Command: command, Upstream: upstream}
	l := Labels{Domain: d.name, Command: command}
	l.Track = r.fold("track", track, r.opts.MaxTracks, Other)
	l.Upstream = r.fold("upstream", upstream, r.opts.MaxUpstreams, Other)
	if r.opts.KnownCommand != nil && l.Command != UnknownCommand && !r.opts.KnownCommand(l.Command) {
		l.Command = UnknownCommand
	}
	l.Command = r.fold("command", l.Command, r.opts.MaxCommands, UnknownCommand)
	if l != given {
		r.overflow.Add(1)
	}
	s, ok := r.canon[l]
	if !ok {
		s = newSeries(l, r.shards)
		r.canon[l] = s
		list := append(append([]*Series(nil), *r.list.Load()...), s)
		r.list.Store(&list)
	}
	if r.aliases >= maxAliases && l != given {
		return s
	}
	r.aliases++
	next := make(map[string][]seriesEntry, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[command] = append(append([]seriesEntry(nil), old[command]...), seriesEntry{track, upstream, s})
	d.commands.Store(&next)
	return s
}

// fold returns v, or def when v is new and dimension dim already holds max
// distinct values. Callers hold r.mu.
func (r *Recorder) fold(dim, v string, limit int, def string) string {
	set := r.seen[dim]
	if set == nil {
		set = map[string]struct{}{}
		r.seen[dim] = set
	}
	if _, ok := set[v]; ok || v == def {
		return v
	}
	if len(set) >= limit {
		return def
	}
	set[v] = struct{}{}
	return v
}

// domain returns the per-domain state, creating it on first use; names
// past MaxDomains share the "other" state.
func (r *Recorder) domain(name string) *domainState {
	if d, ok := (*r.domains.Load())[name]; ok {
		return d
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *r.domains.Load()
	if d, ok := old[name]; ok {
		return d
	}
	folded := r.fold("domain", name, r.opts.MaxDomains, Other)
	d, ok := old[folded]
	if !ok {
		d = &domainState{name: folded, hot: newHotKeys(r.opts.HotKeyCapacity)}
		d.commands.Store(&map[string][]seriesEntry{})
	}
	if r.aliases >= maxAliases && folded != name {
		return d
	}
	r.aliases++
	next := make(map[string]*domainState, len(old)+2)
	for k, v := range old {
		next[k] = v
	}
	next[folded] = d
	next[name] = d
	r.domains.Store(&next)
	return d
}

// ConnOpened counts a client connection entering domain: on accept, and
// when AUTH or CLIENT SETNAME moves it (after ConnClosed on the old one).
func (r *Recorder) ConnOpened(domain string) { r.domain(domain).conns.Add(1) }

// ConnClosed counts a client connection leaving domain.
func (r *Recorder) ConnClosed(domain string) { r.domain(domain).conns.Add(-1) }

// SetPolicyVersion records the policy version the proxy applied.
func (r *Recorder) SetPolicyVersion(v string) { r.policyVersion.Store(&v) }

// PolicyVersion is the last version given to SetPolicyVersion, or "".
func (r *Recorder) PolicyVersion() string {
	if p := r.policyVersion.Load(); p != nil {
		return *p
	}
	return ""
}

// Reloaded counts a snapshot applied.
func (r *Recorder) Reloaded() { r.reloads.Add(1) }

// Nacked counts a snapshot refused.
func (r *Recorder) Nacked() { r.nacks.Add(1) }

// SetNodeStats sets the source of per-upstream-node gauges, read at each
// scrape (for example the upstream pools' Stats method).
func (r *Recorder) SetNodeStats(f func() []NodeStats) { r.nodeStats.Store(&f) }

// Snapshot is every series' cumulative counts, in creation order.
func (r *Recorder) Snapshot() []SeriesSnapshot {
	_, out := r.snapshot()
	return out
}

// snapshot also returns the series, index for index with their snapshots.
func (r *Recorder) snapshot() ([]*Series, []SeriesSnapshot) {
	list := *r.list.Load()
	out := make([]SeriesSnapshot, len(list))
	for i, s := range list {
		s.snapshot(&out[i])
	}
	return list, out
}

// DomainConns is the open connections per domain (after folding).
func (r *Recorder) DomainConns() map[string]int64 {
	out := map[string]int64{}
	for _, d := range *r.domains.Load() {
		out[d.name] = d.conns.Load()
	}
	return out
}
