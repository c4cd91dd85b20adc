package answer

import (
	"os"
	"strconv"
	"strings"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/infotext"
)

// INFO through the proxy is the upstream's INFO (a cluster upstream
// merges its primaries', cluster/merge.go), corrected where the proxy
// knows better: the clients are the proxy's, and whether this listener
// is a cluster is the listener's business; then a "# Keyway" section of
// the proxy's own. The upstream's INFO goes through the domain's tree,
// so the policy applies to it as to any command; if the tree refuses it
// or the upstream is down, the proxy answers its own sections: INFO
// never fails, since clients and tools read it on connect.

// Proxy is what INFO says of the proxy and the connection asking.
type Proxy struct {
	RedisVersion string // the version the proxy claims
	Version      string // the proxy's own build
	NodeID       string
	Start        time.Time
	// Clients and Blocked count the proxy's clients, and those waiting
	// in a blocking command; MaxClients is their limit.
	Clients, Blocked int64
	MaxClients       int
	// Emulated says the listener shows itself as a Redis Cluster.
	Emulated bool
	// RESP3 says the client speaks RESP3, which Redis answers with a
	// verbatim string unless the upstream's reply shows otherwise.
	RESP3 bool
	// Domain is the connection's workload domain under the State.
	Domain func(*engine.State) string
}

// Info appends the reply to INFO [section ...] (args) under st. upstream
// sends the client's INFO through its domain's tree and returns the
// reply, or nil when there is none to use; it is called only when a
// section the proxy does not write alone is wanted.
func Info(b []byte, p Proxy, st *engine.State, args [][]byte, upstream func() []byte) []byte {
	want := map[string]bool{}
	every := len(args) == 1
	for _, a := range args[1:] {
		switch s := strings.ToLower(string(a)); s {
		case "all", "everything", "default":
			every = true
		default:
			want[s] = true
		}
	}
	wants := func(sec string) bool { return every || want[sec] }

	var info *infotext.Info
	verbatim := p.RESP3
	if every || len(want) > 1 || !want["keyway"] {
		if raw := upstream(); raw != nil {
			text, isVerbatim, ok := InfoText(raw)
			if ok {
				info, verbatim = infotext.Parse(text), isVerbatim
			}
		}
	}
	if info == nil {
		info = &infotext.Info{}
		for _, sec := range OwnSections[:3] {
			if wants(sec) {
				info.Ensure(SectionTitle(sec), "")
			}
		}
		if s := info.Section("Server"); s != nil {
			p.server(s)
		}
	}
	if s := info.Section("Server"); s != nil {
		mode := "standalone"
		if p.Emulated {
			mode = "cluster"
		}
		s.Set("redis_mode", mode)
	}
	if s := info.Section("Clients"); s != nil {
		p.clients(s)
	}
	if wants("cluster") {
		enabled := "0"
		if p.Emulated {
			enabled = "1"
		}
		info.Ensure("Cluster", "Errorstats").Set("cluster_enabled", enabled)
	}
	if wants("keyway") {
		info.Remove("Keyway")
		p.keyway(info.Ensure("Keyway", ""), st)
	}
	return AppendInfo(b, info.String(), verbatim)
}

// server fills "# Server" when the upstream's is not available.
func (p Proxy) server(sec *infotext.Section) {
	up := time.Since(p.Start)
	sec.Set("redis_version", p.RedisVersion)
	sec.Set("redis_mode", "standalone")
	sec.Set("process_id", strconv.Itoa(os.Getpid()))
	sec.Set("uptime_in_seconds", strconv.FormatInt(int64(up/time.Second), 10))
	sec.Set("uptime_in_days", strconv.FormatInt(int64(up/(24*time.Hour)), 10))
}

// clients counts the proxy's clients: the upstream's connections are
// the proxy's own, shared by many clients, and say nothing a client of
// the proxy can use.
func (p Proxy) clients(sec *infotext.Section) {
	sec.Set("connected_clients", strconv.FormatInt(p.Clients, 10))
	sec.Set("blocked_clients", strconv.FormatInt(p.Blocked, 10))
	sec.Set("maxclients", strconv.Itoa(p.MaxClients))
}

// keyway says plainly that this is a proxy (keyway_proxy:1), so an
// operator reading INFO is not misled into thinking the upstream's
// sections describe one Redis server the client is connected to.
func (p Proxy) keyway(sec *infotext.Section, st *engine.State) {
	sec.Set("keyway_proxy", "1")
	sec.Set("keyway_version", p.Version)
	sec.Set("keyway_node", p.NodeID)
	sec.Set("keyway_process_id", strconv.Itoa(os.Getpid()))
	sec.Set("keyway_uptime_in_seconds", strconv.FormatInt(int64(time.Since(p.Start)/time.Second), 10))
	if st == nil {
		sec.Set("policy_applied", "0")
		return
	}
	sec.Set("policy_applied", "1")
	sec.Set("policy_version", st.Version)
	names := domainNames(st)
	sec.Set("domains", strings.Join(names, ","))
	for _, n := range names {
		d := st.Domains[n]
		v := ""
		if d.Stable != nil {
			v = d.Stable.Version
		}
		line := "stable=" + v
		if d.Canary != nil {
			line += ",canary=" + d.Canary.Version + ",canary_percent=" + strconv.FormatUint(uint64(d.CanaryPercent), 10)
		}
		sec.Set("domain_"+n, line)
	}
	sec.Set("connection_domain", p.Domain(st))
}
