package server

import (
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/resp"
)

// infoSections are the sections INFO knows, in the order it prints them.
var infoSections = []string{"server", "clients", "keyway"}

// info answers INFO with the sections that describe the proxy. It says
// plainly that it is a proxy (keyway_proxy:1), so an operator reading
// INFO is not misled into thinking it is looking at a Redis server.
func (c *client) info(st *engine.State, args [][]byte) bool {
	want := map[string]bool{}
	for _, a := range args[1:] {
		switch s := strings.ToLower(string(a)); s {
		case "all", "everything", "default":
			for _, n := range infoSections {
				want[n] = true
			}
		default:
			want[s] = true
		}
	}
	if len(args) == 1 {
		for _, n := range infoSections {
			want[n] = true
		}
	}
	var b strings.Builder
	for _, sec := range infoSections {
		if !want[sec] {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\r\n")
		}
		switch sec {
		case "server":
			c.infoServer(&b)
		case "clients":
			c.infoClients(&b)
		case "keyway":
			c.infoKeyway(&b, st)
		}
	}
	c.out = resp.AppendBulkString(c.out[:0], b.String())
	c.write(c.out)
	return true
}

func infoLine(b *strings.Builder, k, v string) {
	b.WriteString(k)
	b.WriteByte(':')
	b.WriteString(v)
	b.WriteString("\r\n")
}

func (c *client) infoServer(b *strings.Builder) {
	s := c.srv
	up := time.Since(s.start)
	b.WriteString("# Server\r\n")
	infoLine(b, "redis_version", s.cfg.RedisVersion)
	infoLine(b, "redis_mode", "standalone")
	infoLine(b, "keyway_proxy", "1")
	infoLine(b, "keyway_version", s.cfg.Version)
	infoLine(b, "keyway_node", s.cfg.NodeID)
	infoLine(b, "process_id", strconv.Itoa(os.Getpid()))
	infoLine(b, "uptime_in_seconds", strconv.FormatInt(int64(up/time.Second), 10))
	infoLine(b, "uptime_in_days", strconv.FormatInt(int64(up/(24*time.Hour)), 10))
}

func (c *client) infoClients(b *strings.Builder) {
	s := c.srv
	b.WriteString("# Clients\r\n")
	infoLine(b, "connected_clients", strconv.FormatInt(s.nclients.Load(), 10))
	infoLine(b, "maxclients", strconv.Itoa(s.cfg.Limits.MaxClients))
}

func (c *client) infoKeyway(b *strings.Builder, st *engine.State) {
	b.WriteString("# Keyway\r\n")
	if st == nil {
		infoLine(b, "policy_applied", "0")
		return
	}
	infoLine(b, "policy_applied", "1")
	infoLine(b, "policy_version", st.Version)
	names := make([]string, 0, len(st.Domains))
	for n := range st.Domains {
		names = append(names, n)
	}
	sort.Strings(names)
	infoLine(b, "domains", strings.Join(names, ","))
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
		infoLine(b, "domain_"+n, line)
	}
	infoLine(b, "connection_domain", c.domainOf(st))
}
