package server

import (
	"bytes"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/infotext"
	"keyway.dev/dataplane/resp"
	"keyway.dev/dataplane/server/answer"
)

// INFO through the proxy is the upstream's INFO (a cluster upstream
// merges its primaries', cluster/merge.go), corrected where the proxy
// knows better: the clients are the proxy's, and whether this listener
// is a cluster is the listener's business; then a "# Keyway" section of
// the proxy's own. The upstream's INFO goes through the domain's tree,
// so the policy applies to it as to any command; if the tree refuses it
// or the upstream is down, the proxy answers its own sections: INFO
// never fails, since clients and tools read it on connect.

// info answers INFO [section ...].
func (c *client) info(st *engine.State, args [][]byte) bool {
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
	emulated := c.emulation(st) != nil

	var info *infotext.Info
	// Redis sends INFO to a RESP3 client as a verbatim string; the
	// upstream's reply, when there is one, shows the shape to keep.
	verbatim := c.resp3()
	if every || len(want) > 1 || !want["keyway"] {
		if raw := c.upstreamInfo(st, args); raw != nil {
			text, isVerbatim, ok := answer.InfoText(raw)
			if ok {
				info, verbatim = infotext.Parse(text), isVerbatim
			}
		}
	}
	if info == nil {
		info = &infotext.Info{}
		for _, sec := range answer.OwnSections[:3] {
			if wants(sec) {
				info.Ensure(answer.SectionTitle(sec), "")
			}
		}
		if s := info.Section("Server"); s != nil {
			c.infoServer(s)
		}
	}
	if s := info.Section("Server"); s != nil {
		mode := "standalone"
		if emulated {
			mode = "cluster"
		}
		s.Set("redis_mode", mode)
	}
	if s := info.Section("Clients"); s != nil {
		c.infoClients(s)
	}
	if wants("cluster") {
		enabled := "0"
		if emulated {
			enabled = "1"
		}
		info.Ensure("Cluster", "Errorstats").Set("cluster_enabled", enabled)
	}
	if wants("keyway") {
		info.Remove("Keyway")
		c.infoKeyway(info.Ensure("Keyway", ""), st)
	}
	c.out = answer.AppendInfo(c.out[:0], info.String(), verbatim)
	c.write(c.out)
	return true
}

// upstreamInfo sends the client's INFO through its domain's tree and
// returns the reply, or nil when there is none to use.
func (c *client) upstreamInfo(st *engine.State, args [][]byte) []byte {
	if st == nil {
		return nil
	}
	r := &engine.Request{Session: &c.sess}
	for _, a := range args {
		r.Cmd.Args = append(r.Cmd.Args, bytes.Clone(a))
	}
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	c.serveRun(st, engine.Batch{r})
	if !r.Done() || r.Err() != nil || resp.IsError(r.Raw()) {
		return nil
	}
	return r.Raw()
}

// infoServer fills "# Server" when the upstream's is not available.
func (c *client) infoServer(sec *infotext.Section) {
	s := c.srv
	up := time.Since(s.start)
	sec.Set("redis_version", s.cfg.RedisVersion)
	sec.Set("redis_mode", "standalone")
	sec.Set("process_id", strconv.Itoa(os.Getpid()))
	sec.Set("uptime_in_seconds", strconv.FormatInt(int64(up/time.Second), 10))
	sec.Set("uptime_in_days", strconv.FormatInt(int64(up/(24*time.Hour)), 10))
}

// infoClients counts the proxy's clients: the upstream's connections are
// the proxy's own, shared by many clients, and say nothing a client of
// the proxy can use.
func (c *client) infoClients(sec *infotext.Section) {
	s := c.srv
	sec.Set("connected_clients", strconv.FormatInt(s.nclients.Load(), 10))
	sec.Set("blocked_clients", strconv.FormatInt(s.blocked.Load(), 10))
	sec.Set("maxclients", strconv.Itoa(s.cfg.Limits.MaxClients))
}

// infoKeyway says plainly that this is a proxy (keyway_proxy:1), so an
// operator reading INFO is not misled into thinking the upstream's
// sections describe one Redis server the client is connected to.
func (c *client) infoKeyway(sec *infotext.Section, st *engine.State) {
	s := c.srv
	sec.Set("keyway_proxy", "1")
	sec.Set("keyway_version", s.cfg.Version)
	sec.Set("keyway_node", s.cfg.NodeID)
	sec.Set("keyway_process_id", strconv.Itoa(os.Getpid()))
	sec.Set("keyway_uptime_in_seconds", strconv.FormatInt(int64(time.Since(s.start)/time.Second), 10))
	if st == nil {
		sec.Set("policy_applied", "0")
		return
	}
	sec.Set("policy_applied", "1")
	sec.Set("policy_version", st.Version)
	names := make([]string, 0, len(st.Domains))
	for n := range st.Domains {
		names = append(names, n)
	}
	sort.Strings(names)
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
	sec.Set("connection_domain", c.domainOf(st))
}
