package cluster

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"

	"keyway.dev/dataplane/resp"
)

// Shard is one primary and its replicas, as host:port addresses.
type Shard struct {
	Primary  string
	Replicas []string
	// First is the lowest slot the shard owns; shards are ordered by it,
	// which keeps SCAN's shard numbering stable across refreshes that do
	// not move slots.
	First int
}

// Map is a cluster's slot map. It is immutable once built: a change
// (a refresh, a MOVED) makes a new Map, so readers never lock.
type Map struct {
	Shards []Shard
	owner  [Slots]int16 // index into Shards; -1 when no shard serves the slot
}

// ErrNoSlots is returned for a topology reply that assigns no slot.
var ErrNoSlots = errors.New("cluster reply assigns no slot")

func newMap() *Map {
	m := &Map{}
	for i := range m.owner {
		m.owner[i] = -1
	}
	return m
}

// Owner returns the index in Shards of the shard serving slot, or -1.
func (m *Map) Owner(slot int) int { return int(m.owner[slot]) }

// Addrs lists every address of the map, primaries first.
func (m *Map) Addrs() []string {
	var out []string
	for _, s := range m.Shards {
		out = append(out, s.Primary)
	}
	for _, s := range m.Shards {
		out = append(out, s.Replicas...)
	}
	return out
}

// moved returns a copy of m in which addr serves slot, as a MOVED reply
// says. An addr that is no shard's primary becomes one (it may be a
// promoted replica, or a new node); the next refresh tidies up.
func (m *Map) moved(slot int, addr string) *Map {
	n := &Map{Shards: slices.Clone(m.Shards), owner: m.owner}
	j := -1
	for i, s := range n.Shards {
		if s.Primary == addr {
			j = i
			break
		}
	}
	if j < 0 {
		j = len(n.Shards)
		n.Shards = append(n.Shards, Shard{Primary: addr, First: slot})
	}
	n.owner[slot] = int16(j)
	return n
}

// assign adds a shard serving ranges (start, end pairs, inclusive).
func (m *Map) assign(s Shard, ranges []int) error {
	if len(ranges) == 0 || len(ranges)%2 != 0 {
		return nil // a shard without slots serves nothing
	}
	s.First = Slots
	for i := 0; i < len(ranges); i += 2 {
		lo, hi := ranges[i], ranges[i+1]
		if lo < 0 || hi >= Slots || lo > hi {
			return fmt.Errorf("bad slot range %d-%d", lo, hi)
		}
		s.First = min(s.First, lo)
	}
	idx := len(m.Shards)
	for i, o := range m.Shards {
		if o.Primary == s.Primary {
			// CLUSTER SLOTS lists a primary once per range.
			idx = i
			m.Shards[i].First = min(o.First, s.First)
			break
		}
	}
	if idx == len(m.Shards) {
		m.Shards = append(m.Shards, s)
	}
	for i := 0; i < len(ranges); i += 2 {
		for slot := ranges[i]; slot <= ranges[i+1]; slot++ {
			m.owner[slot] = int16(idx)
		}
	}
	return nil
}

// sorted renumbers shards by their first slot.
func (m *Map) sorted() *Map {
	order := make([]int, len(m.Shards))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return m.Shards[a].First - m.Shards[b].First })
	n := newMap()
	renum := make([]int16, len(m.Shards))
	for newIdx, old := range order {
		renum[old] = int16(newIdx)
		n.Shards = append(n.Shards, m.Shards[old])
	}
	for i, o := range m.owner {
		if o >= 0 {
			n.owner[i] = renum[o]
		}
	}
	return n
}

// ParseShards builds a Map from a raw CLUSTER SHARDS reply (Redis 7+).
// Nodes that are not online are left out; a shard whose primary is not
// online keeps it anyway (requests fail fast and trigger a refresh)
// rather than leaving its slots unserved. from is the address the reply
// came from, for nodes that do not know their own IP; tls picks tls-port.
func ParseShards(reply []byte, from string, tls bool) (*Map, error) {
	v, err := resp.ParseValue(reply)
	if err != nil {
		return nil, fmt.Errorf("cluster shards: %w", err)
	}
	if v.Kind == '-' {
		return nil, fmt.Errorf("cluster shards: %s", v.Str)
	}
	if v.Kind != '*' {
		return nil, fmt.Errorf("cluster shards: want an array, got %q", v.Kind)
	}
	m := newMap()
	for _, sh := range v.Elems {
		slotsV, _ := sh.Field("slots")
		nodesV, _ := sh.Field("nodes")
		ranges := make([]int, 0, len(slotsV.Elems))
		for _, s := range slotsV.Elems {
			ranges = append(ranges, int(s.Num))
		}
		var s Shard
		var failedPrimary string
		for _, n := range nodesV.Elems {
			addr := shardNodeAddr(n, from, tls)
			if addr == "" {
				continue
			}
			role, _ := n.Field("role")
			health, _ := n.Field("health")
			online := string(health.Str) == "online"
			switch {
			case string(role.Str) == "master" && online:
				s.Primary = addr
			case string(role.Str) == "master":
				failedPrimary = addr
			case online:
				s.Replicas = append(s.Replicas, addr)
			}
		}
		if s.Primary == "" {
			s.Primary = failedPrimary
		}
		if s.Primary == "" {
			continue
		}
		if err := m.assign(s, ranges); err != nil {
			return nil, fmt.Errorf("cluster shards: %w", err)
		}
	}
	if len(m.Shards) == 0 {
		return nil, fmt.Errorf("cluster shards: %w", ErrNoSlots)
	}
	return m.sorted(), nil
}

func shardNodeAddr(n resp.Value, from string, tls bool) string {
	host := ""
	if e, ok := n.Field("endpoint"); ok && len(e.Str) > 0 && string(e.Str) != "?" {
		host = string(e.Str)
	} else if ip, ok := n.Field("ip"); ok && len(ip.Str) > 0 {
		host = string(ip.Str)
	} else {
		host, _, _ = net.SplitHostPort(from)
	}
	port, ok := n.Field("port")
	if tls {
		if tp, ok2 := n.Field("tls-port"); ok2 {
			port, ok = tp, true
		}
	}
	if !ok || port.Num <= 0 {
		return ""
	}
	return net.JoinHostPort(host, strconv.FormatInt(port.Num, 10))
}

// ParseSlots builds a Map from a raw CLUSTER SLOTS reply, the fallback for
// servers without CLUSTER SHARDS. It cannot tell a failed node from a
// healthy one.
func ParseSlots(reply []byte, from string) (*Map, error) {
	v, err := resp.ParseValue(reply)
	if err != nil {
		return nil, fmt.Errorf("cluster slots: %w", err)
	}
	if v.Kind == '-' {
		return nil, fmt.Errorf("cluster slots: %s", v.Str)
	}
	if v.Kind != '*' {
		return nil, fmt.Errorf("cluster slots: want an array, got %q", v.Kind)
	}
	m := newMap()
	for _, r := range v.Elems {
		if len(r.Elems) < 3 {
			return nil, fmt.Errorf("cluster slots: range of %d elements", len(r.Elems))
		}
		var s Shard
		for i, n := range r.Elems[2:] {
			addr := slotsNodeAddr(n, from)
			if addr == "" {
				continue
			}
			if i == 0 {
				s.Primary = addr
			} else {
				s.Replicas = append(s.Replicas, addr)
			}
		}
		if s.Primary == "" {
			continue
		}
		if err := m.assign(s, []int{int(r.Elems[0].Num), int(r.Elems[1].Num)}); err != nil {
			return nil, fmt.Errorf("cluster slots: %w", err)
		}
	}
	if len(m.Shards) == 0 {
		return nil, fmt.Errorf("cluster slots: %w", ErrNoSlots)
	}
	return m.sorted(), nil
}

func slotsNodeAddr(n resp.Value, from string) string {
	if len(n.Elems) < 2 || n.Elems[1].Num <= 0 {
		return ""
	}
	host := string(n.Elems[0].Str)
	if host == "" || host == "?" {
		host, _, _ = net.SplitHostPort(from)
	}
	return net.JoinHostPort(host, strconv.FormatInt(n.Elems[1].Num, 10))
}
