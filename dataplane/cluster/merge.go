package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/infotext"
)

// Mergers of cluster-wide replies whose shape needs reading: maps,
// reports, logs and INFO. Each keeps the shape the nodes used, so a
// RESP3 client gets maps, doubles and verbatim strings as Redis sends
// them.

// runningScript: FUNCTION STATS of the node running a script, so a
// client deciding whether to FUNCTION KILL sees it; else the first's.
var runningScript = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*', '%')
	if err != nil {
		return nil, err
	}
	for i, v := range vals {
		if rs, ok := v.field("running_script"); ok && !rs.isNull() {
			return append(dst, parts[i].raw...), nil
		}
	}
	return append(dst, parts[0].raw...), nil
}}

// sumMaps merges maps key by key, recursively: integers add up (memory,
// counts, histogram buckets), anything else is the first node's.
var sumMaps = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*', '%')
	if err != nil {
		return nil, err
	}
	return mergeMaps(vals).appendTo(dst), nil
}}

// memoryStats is sumMaps with the one ratio MEMORY STATS gives as an
// integer recomputed from the sums.
var memoryStats = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*', '%')
	if err != nil {
		return nil, err
	}
	m := mergeMaps(vals)
	total, _ := m.field("total.allocated")
	startup, _ := m.field("startup.allocated")
	keys, _ := m.field("keys.count")
	for i := 0; i+1 < len(m.elems); i += 2 {
		if string(m.elems[i].str) == "keys.bytes-per-key" && keys.num > 0 {
			m.elems[i+1].num = (total.num - startup.num) / keys.num
		}
	}
	return m.appendTo(dst), nil
}}

func mergeMaps(vals []value) value {
	out := vals[0]
	out.elems = slices.Clone(out.elems)
	for _, v := range vals[1:] {
		if !v.isMap() {
			continue
		}
		for i := 0; i+1 < len(v.elems); i += 2 {
			k, x := v.elems[i], v.elems[i+1]
			j := indexKey(out, k.str)
			switch {
			case j < 0:
				out.elems = append(out.elems, k, x)
			case out.elems[j].kind == ':' && x.kind == ':':
				out.elems[j].num += x.num
			case out.elems[j].isMap() && x.isMap() && len(out.elems[j].elems) > 0:
				out.elems[j] = mergeMaps([]value{out.elems[j], x})
			}
		}
	}
	return out
}

// indexKey returns the index of the value under key in map m, or -1.
func indexKey(m value, key []byte) int {
	for i := 0; i+1 < len(m.elems); i += 2 {
		if bytes.Equal(m.elems[i].str, key) {
			return i + 1
		}
	}
	return -1
}

// concatText joins the human-readable reports of every primary (MEMORY
// DOCTOR, MALLOC-STATS, LATENCY DOCTOR, GRAPH), each under the address
// of the node it describes.
var concatText = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '$', '=')
	if err != nil {
		return nil, err
	}
	var b []byte
	for i, v := range vals {
		if i > 0 {
			b = append(b, '\n')
		}
		b = fmt.Appendf(b, "--- node %s ---\n", parts[i].node)
		b = append(b, v.text()...)
	}
	return appendText(dst, vals[0], b), nil
}}

// latencyLatest: per event, the node that saw it last, with the highest
// maximum of all.
var latencyLatest = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*')
	if err != nil {
		return nil, err
	}
	out := value{kind: vals[0].kind}
	for _, v := range vals {
		for _, e := range v.elems {
			if len(e.elems) < 4 {
				return nil, errors.New("a LATENCY LATEST entry has fewer than 4 fields")
			}
			j := slices.IndexFunc(out.elems, func(x value) bool { return bytes.Equal(x.elems[0].str, e.elems[0].str) })
			if j < 0 {
				e.elems = slices.Clone(e.elems)
				out.elems = append(out.elems, e)
				continue
			}
			cur := out.elems[j].elems
			peak := max(cur[3].num, e.elems[3].num)
			if e.elems[1].num > cur[1].num {
				cur[1], cur[2] = e.elems[1], e.elems[2]
			}
			cur[3].num = peak
		}
	}
	slices.SortFunc(out.elems, func(a, b value) int { return bytes.Compare(a.elems[0].str, b.elems[0].str) })
	return out.appendTo(dst), nil
}}

// latencyHistory: every node's samples of the event, oldest first as
// Redis lists them, the highest where two nodes sampled the same second.
var latencyHistory = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*')
	if err != nil {
		return nil, err
	}
	out := value{kind: vals[0].kind}
	for _, v := range vals {
		for _, e := range v.elems {
			if len(e.elems) < 2 {
				return nil, errors.New("a LATENCY HISTORY sample has fewer than 2 fields")
			}
			j := slices.IndexFunc(out.elems, func(x value) bool { return x.elems[0].num == e.elems[0].num })
			if j < 0 {
				out.elems = append(out.elems, e)
			} else if e.elems[1].num > out.elems[j].elems[1].num {
				out.elems[j] = e
			}
		}
	}
	slices.SortFunc(out.elems, func(a, b value) int { return int(a.elems[0].num - b.elems[0].num) })
	return out.appendTo(dst), nil
}}

// slowlogGet: every node's entries, newest first, as many as the client
// asked for (10 by default, all for -1). Entry IDs are each node's own.
var slowlogGet = merger{merge: func(r *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*')
	if err != nil {
		return nil, err
	}
	count := int64(10)
	if len(r.Cmd.Args) > 2 {
		if count, err = strconv.ParseInt(string(r.Cmd.Args[2]), 10, 64); err != nil {
			return nil, fmt.Errorf("count %q: %w", r.Cmd.Args[2], err)
		}
	}
	out := value{kind: vals[0].kind}
	for _, v := range vals {
		for _, e := range v.elems {
			if len(e.elems) < 3 {
				return nil, errors.New("a SLOWLOG entry has fewer than 3 fields")
			}
			out.elems = append(out.elems, e)
		}
	}
	slices.SortStableFunc(out.elems, func(a, b value) int {
		if a.elems[1].num != b.elems[1].num {
			return int(b.elems[1].num - a.elems[1].num)
		}
		return int(b.elems[0].num - a.elems[0].num)
	})
	if count >= 0 && int64(len(out.elems)) > count {
		out.elems = out.elems[:count]
	}
	return out.appendTo(dst), nil
}}

// mergeInfo merges every primary's INFO text (see MergeInfo) and writes
// it in the shape the first node used: a verbatim string to RESP3
// clients, a bulk string to RESP2 ones.
var mergeInfo = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '$', '=')
	if err != nil {
		return nil, err
	}
	infos := make([]*infotext.Info, len(vals))
	for i, v := range vals {
		infos[i] = infotext.Parse(string(v.text()))
	}
	return appendText(dst, vals[0], []byte(MergeInfo(infos).String())), nil
}}

// MergeInfo merges the INFO of a cluster's primaries into the INFO of one
// server holding all their data. Counters and sizes that add up
// (clients, memory, commands processed, hits and misses, ops per second,
// CPU time) are summed, with their "_human" forms recomputed; keyspace
// keys and expires are summed per database; errorstats counts and
// commandstats calls, time and failures are summed per error and
// command; everything else (versions, ports, percentiles, replication
// state) is the first node's.
func MergeInfo(infos []*infotext.Info) *infotext.Info {
	out := &infotext.Info{}
	for _, in := range infos {
		for _, s := range in.Sections {
			o := out.Section(s.Name)
			if o == nil {
				o = &infotext.Section{Name: s.Name}
				out.Sections = append(out.Sections, o)
			}
			for _, l := range s.Lines {
				mergeInfoLine(o, l)
			}
		}
	}
	for _, s := range out.Sections {
		for i, l := range s.Lines {
			base, ok := strings.CutSuffix(l.Key, "_human")
			if !ok || !summed[base] {
				continue
			}
			if v, ok := s.Get(base); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					s.Lines[i].Value = bytesToHuman(n)
				}
			}
		}
	}
	return out
}

func mergeInfoLine(o *infotext.Section, l infotext.Line) {
	i := slices.IndexFunc(o.Lines, func(x infotext.Line) bool { return x.Key == l.Key })
	if i < 0 {
		o.Lines = append(o.Lines, l)
		return
	}
	cur := &o.Lines[i]
	switch name := strings.ToLower(o.Name); {
	case name == "keyspace":
		cur.Value = mergeKeyspace(cur.Value, l.Value)
	case name == "errorstats" || name == "commandstats":
		cur.Value = mergeStat(cur.Value, l.Value)
	case summed[l.Key]:
		cur.Value = addNumbers(cur.Value, l.Value)
	}
}

// summed are the INFO fields that add up across nodes.
var summed = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`connected_clients cluster_connections blocked_clients tracking_clients
		clients_in_timeout_table used_memory used_memory_rss used_memory_peak used_memory_overhead
		used_memory_startup used_memory_dataset used_memory_lua used_memory_vm_eval used_memory_scripts_eval
		used_memory_vm_functions used_memory_vm_total used_memory_functions used_memory_scripts
		number_of_cached_scripts number_of_functions number_of_libraries maxmemory mem_clients_normal
		mem_clients_slaves mem_aof_buffer mem_replication_backlog mem_not_counted_for_evict
		rdb_changes_since_last_save total_connections_received total_commands_processed
		instantaneous_ops_per_sec total_net_input_bytes total_net_output_bytes total_net_repl_input_bytes
		total_net_repl_output_bytes instantaneous_input_kbps instantaneous_output_kbps
		instantaneous_input_repl_kbps instantaneous_output_repl_kbps rejected_connections sync_full
		sync_partial_ok sync_partial_err expired_keys expired_time_cap_reached_count
		expire_cycle_cpu_milliseconds evicted_keys evicted_clients total_eviction_exceeded_time
		keyspace_hits keyspace_misses pubsub_channels pubsub_patterns total_forks migrate_cached_sockets
		slave_expires_tracked_keys active_defrag_hits active_defrag_misses active_defrag_key_hits
		active_defrag_key_misses total_active_defrag_time tracking_total_keys tracking_total_items
		tracking_total_prefixes unexpected_error_replies total_error_replies dump_payload_sanitizations
		total_reads_processed total_writes_processed io_threaded_reads_processed
		io_threaded_writes_processed used_cpu_sys used_cpu_user used_cpu_sys_children
		used_cpu_user_children used_cpu_sys_main_thread used_cpu_user_main_thread`) {
		summed[k] = true
	}
}

// addNumbers adds two INFO numbers, keeping integers integers and
// writing decimals with Redis's two places.
func addNumbers(a, b string) string {
	if x, err := strconv.ParseInt(a, 10, 64); err == nil {
		if y, err := strconv.ParseInt(b, 10, 64); err == nil {
			return strconv.FormatInt(x+y, 10)
		}
	}
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil {
		return a
	}
	places := 2
	if i := strings.IndexByte(a, '.'); i >= 0 {
		places = len(a) - i - 1
	}
	return strconv.FormatFloat(x+y, 'f', places, 64)
}

// fields splits "k=v,k=v" into ordered pairs.
func fields(s string) [][2]string {
	var out [][2]string
	for kv := range strings.SplitSeq(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, [2]string{k, v})
	}
	return out
}

func joinFields(f [][2]string) string {
	var b strings.Builder
	for i, kv := range f {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(kv[0])
		b.WriteByte('=')
		b.WriteString(kv[1])
	}
	return b.String()
}

func field(f [][2]string, k string) (int, bool) {
	for i, kv := range f {
		if kv[0] == k {
			return i, true
		}
	}
	return 0, false
}

// mergeKeyspace adds "keys=..,expires=..,avg_ttl=.." of one database;
// avg_ttl is averaged over the keys with an expiry.
func mergeKeyspace(a, b string) string {
	fa, fb := fields(a), fields(b)
	num := func(f [][2]string, k string) int64 {
		if i, ok := field(f, k); ok {
			n, _ := strconv.ParseInt(f[i][1], 10, 64)
			return n
		}
		return 0
	}
	ea, eb := num(fa, "expires"), num(fb, "expires")
	for i, kv := range fa {
		switch kv[0] {
		case "keys", "expires":
			fa[i][1] = strconv.FormatInt(num(fa, kv[0])+num(fb, kv[0]), 10)
		case "avg_ttl":
			if ea+eb > 0 {
				fa[i][1] = strconv.FormatInt((num(fa, "avg_ttl")*ea+num(fb, "avg_ttl")*eb)/(ea+eb), 10)
			}
		}
	}
	return joinFields(fa)
}

// mergeStat adds the counters of an errorstats or commandstats line
// (count, calls, usec, rejected_calls, failed_calls) and recomputes
// usec_per_call.
func mergeStat(a, b string) string {
	fa, fb := fields(a), fields(b)
	for i, kv := range fa {
		j, ok := field(fb, kv[0])
		if !ok {
			continue
		}
		switch kv[0] {
		case "count", "calls", "usec", "rejected_calls", "failed_calls":
			fa[i][1] = addNumbers(kv[1], fb[j][1])
		}
	}
	if i, ok := field(fa, "usec_per_call"); ok {
		c, _ := field(fa, "calls")
		u, _ := field(fa, "usec")
		calls, _ := strconv.ParseFloat(fa[c][1], 64)
		usec, _ := strconv.ParseFloat(fa[u][1], 64)
		if calls > 0 {
			fa[i][1] = strconv.FormatFloat(usec/calls, 'f', 2, 64)
		}
	}
	return joinFields(fa)
}

// bytesToHuman is Redis's own formatting of a byte count.
func bytesToHuman(n int64) string {
	d := float64(n)
	switch {
	case n < 1024:
		return strconv.FormatInt(n, 10) + "B"
	case n < 1<<20:
		return strconv.FormatFloat(d/(1<<10), 'f', 2, 64) + "K"
	case n < 1<<30:
		return strconv.FormatFloat(d/(1<<20), 'f', 2, 64) + "M"
	case n < 1<<40:
		return strconv.FormatFloat(d/(1<<30), 'f', 2, 64) + "G"
	case n < 1<<50:
		return strconv.FormatFloat(d/(1<<40), 'f', 2, 64) + "T"
	}
	return strconv.FormatFloat(d/(1<<50), 'f', 2, 64) + "P"
}
