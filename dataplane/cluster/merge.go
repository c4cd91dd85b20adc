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
	"keyway.dev/dataplane/resp"
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
		if rs, ok := v.Field("running_script"); ok && !rs.IsNull() {
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
	return mergeMaps(vals).AppendTo(dst), nil
}}

// memoryStats is sumMaps with the one ratio MEMORY STATS gives as an
// integer recomputed from the sums.
var memoryStats = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*', '%')
	if err != nil {
		return nil, err
	}
	m := mergeMaps(vals)
	total, _ := m.Field("total.allocated")
	startup, _ := m.Field("startup.allocated")
	keys, _ := m.Field("keys.count")
	for i := 0; i+1 < len(m.Elems); i += 2 {
		if string(m.Elems[i].Str) == "keys.bytes-per-key" && keys.Num > 0 {
			m.Elems[i+1].Num = (total.Num - startup.Num) / keys.Num
		}
	}
	return m.AppendTo(dst), nil
}}

func mergeMaps(vals []resp.Value) resp.Value {
	out := vals[0]
	out.Elems = slices.Clone(out.Elems)
	for _, v := range vals[1:] {
		if !v.IsMap() {
			continue
		}
		for i := 0; i+1 < len(v.Elems); i += 2 {
			k, x := v.Elems[i], v.Elems[i+1]
			j := indexKey(out, k.Str)
			switch {
			case j < 0:
				out.Elems = append(out.Elems, k, x)
			case out.Elems[j].Kind == ':' && x.Kind == ':':
				out.Elems[j].Num += x.Num
			case out.Elems[j].IsMap() && x.IsMap() && len(out.Elems[j].Elems) > 0:
				out.Elems[j] = mergeMaps([]resp.Value{out.Elems[j], x})
			}
		}
	}
	return out
}

// indexKey returns the index of the value under key in map m, or -1.
func indexKey(m resp.Value, key []byte) int {
	for i := 0; i+1 < len(m.Elems); i += 2 {
		if bytes.Equal(m.Elems[i].Str, key) {
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
		b = append(b, v.Text()...)
	}
	return resp.AppendTextLike(dst, vals[0], b), nil
}}

// latencyLatest: per event, the node that saw it last, with the highest
// maximum of all.
var latencyLatest = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*')
	if err != nil {
		return nil, err
	}
	out := resp.Value{Kind: vals[0].Kind}
	for _, v := range vals {
		for _, e := range v.Elems {
			if len(e.Elems) < 4 {
				return nil, errors.New("a LATENCY LATEST entry has fewer than 4 fields")
			}
			j := slices.IndexFunc(out.Elems, func(x resp.Value) bool { return bytes.Equal(x.Elems[0].Str, e.Elems[0].Str) })
			if j < 0 {
				e.Elems = slices.Clone(e.Elems)
				out.Elems = append(out.Elems, e)
				continue
			}
			cur := out.Elems[j].Elems
			peak := max(cur[3].Num, e.Elems[3].Num)
			if e.Elems[1].Num > cur[1].Num {
				cur[1], cur[2] = e.Elems[1], e.Elems[2]
			}
			cur[3].Num = peak
		}
	}
	slices.SortFunc(out.Elems, func(a, b resp.Value) int { return bytes.Compare(a.Elems[0].Str, b.Elems[0].Str) })
	return out.AppendTo(dst), nil
}}

// latencyHistory: every node's samples of the event, oldest first as
// Redis lists them, the highest where two nodes sampled the same second.
var latencyHistory = merger{merge: func(_ *engine.Request, dst []byte, parts []reply) ([]byte, error) {
	vals, err := decodeAll(parts, '*')
	if err != nil {
		return nil, err
	}
	out := resp.Value{Kind: vals[0].Kind}
	for _, v := range vals {
		for _, e := range v.Elems {
			if len(e.Elems) < 2 {
				return nil, errors.New("a LATENCY HISTORY sample has fewer than 2 fields")
			}
			j := slices.IndexFunc(out.Elems, func(x resp.Value) bool { return x.Elems[0].Num == e.Elems[0].Num })
			if j < 0 {
				out.Elems = append(out.Elems, e)
			} else if e.Elems[1].Num > out.Elems[j].Elems[1].Num {
				out.Elems[j] = e
			}
		}
	}
	slices.SortFunc(out.Elems, func(a, b resp.Value) int { return int(a.Elems[0].Num - b.Elems[0].Num) })
	return out.AppendTo(dst), nil
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
	out := resp.Value{Kind: vals[0].Kind}
	for _, v := range vals {
		for _, e := range v.Elems {
			if len(e.Elems) < 3 {
				return nil, errors.New("a SLOWLOG entry has fewer than 3 fields")
			}
			out.Elems = append(out.Elems, e)
		}
	}
	slices.SortStableFunc(out.Elems, func(a, b resp.Value) int {
		if a.Elems[1].Num != b.Elems[1].Num {
			return int(b.Elems[1].Num - a.Elems[1].Num)
		}
		return int(b.Elems[0].Num - a.Elems[0].Num)
	})
	if count >= 0 && int64(len(out.Elems)) > count {
		out.Elems = out.Elems[:count]
	}
	return out.AppendTo(dst), nil
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
		infos[i] = infotext.Parse(string(v.Text()))
	}
	return resp.AppendTextLike(dst, vals[0], []byte(MergeInfo(infos).String())), nil
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
