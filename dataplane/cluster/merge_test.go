package cluster

import (
	"strconv"
	"strings"
	"testing"

	"keyway.dev/dataplane/infotext"
	"keyway.dev/dataplane/resp"
)

// merged runs a merger over raw node replies, as fanoutWith would.
func merged(t *testing.T, m merger, words []string, raws ...string) string {
	t.Helper()
	parts := make([]reply, len(raws))
	for i, r := range raws {
		parts[i] = reply{node: "n" + string(rune('0'+i)), raw: []byte(r)}
	}
	out, err := m.merge(req(words...), nil, parts)
	if err != nil {
		t.Fatalf("merge %v: %v", words, err)
	}
	return string(out)
}

func verbatim(s string) string { return "=" + strconv.Itoa(len(s)+4) + "\r\ntxt:" + s + "\r\n" }

func keyspace(keys int) string {
	return "# Keyspace\r\ndb0:keys=" + strconv.Itoa(keys) + ",expires=0,avg_ttl=0\r\n"
}

func TestDecodeRESP3RoundTrips(t *testing.T) {
	for _, raw := range []string{
		"%2\r\n+a\r\n:1\r\n$1\r\nb\r\n,3.5\r\n",
		"~2\r\n#t\r\n#f\r\n",
		"_\r\n", "$-1\r\n", "*-1\r\n",
		"(12345678901234567890\r\n",
		"=8\r\ntxt:abcd\r\n",
		"!3\r\nERR\r\n",
		">2\r\n$7\r\nmessage\r\n:1\r\n",
	} {
		v, err := resp.ParseValue([]byte(raw))
		if err != nil {
			t.Fatalf("decode %q: %v", raw, err)
		}
		if got := string(v.AppendTo(nil)); got != raw {
			t.Fatalf("round trip of %q = %q", raw, got)
		}
	}
	v, err := resp.ParseValue([]byte("|1\r\n+ttl\r\n:3\r\n:7\r\n"))
	if err != nil || v.Kind != ':' || v.Num != 7 {
		t.Fatalf("attribute then integer: %+v, %v", v, err)
	}
}

func TestMergersKeepRESP3Shapes(t *testing.T) {
	cases := []struct {
		name  string
		m     merger
		words []string
		raws  []string
		want  string
	}{
		{"sum", sumInts, []string{"DBSIZE"}, []string{":2\r\n", ":3\r\n"}, ":5\r\n"},
		{"script exists and", andInts, []string{"SCRIPT", "EXISTS", "a", "b"},
			[]string{"*2\r\n:1\r\n:1\r\n", "*2\r\n:0\r\n:1\r\n"}, "*2\r\n:0\r\n:1\r\n"},
		{"keys set", concatArrays, []string{"KEYS", "*"},
			[]string{"~1\r\n$1\r\na\r\n", "~1\r\n$1\r\nb\r\n"}, "~2\r\n$1\r\na\r\n$1\r\nb\r\n"},
		{"map sums", sumMaps, []string{"LATENCY", "HISTOGRAM"},
			[]string{"%1\r\n$3\r\nget\r\n%1\r\n$5\r\ncalls\r\n:2\r\n", "%1\r\n$3\r\nget\r\n%1\r\n$5\r\ncalls\r\n:3\r\n"},
			"%1\r\n$3\r\nget\r\n%1\r\n$5\r\ncalls\r\n:5\r\n"},
		{"resp2 flat map sums", sumMaps, []string{"LATENCY", "HISTOGRAM"},
			[]string{"*2\r\n$3\r\nget\r\n*2\r\n$5\r\ncalls\r\n:2\r\n", "*2\r\n$3\r\nset\r\n*2\r\n$5\r\ncalls\r\n:1\r\n"},
			"*4\r\n$3\r\nget\r\n*2\r\n$5\r\ncalls\r\n:2\r\n$3\r\nset\r\n*2\r\n$5\r\ncalls\r\n:1\r\n"},
		{"doctor verbatim", concatText, []string{"MEMORY", "DOCTOR"},
			[]string{"=6\r\ntxt:ok\r\n", "=6\r\ntxt:ko\r\n"}, verbatim("--- node n0 ---\nok\n--- node n1 ---\nko")},
		{"latency latest", latencyLatest, []string{"LATENCY", "LATEST"},
			[]string{"*1\r\n*4\r\n$7\r\ncommand\r\n:100\r\n:5\r\n:50\r\n", "*1\r\n*4\r\n$7\r\ncommand\r\n:200\r\n:7\r\n:9\r\n"},
			"*1\r\n*4\r\n$7\r\ncommand\r\n:200\r\n:7\r\n:50\r\n"},
		{"latency history", latencyHistory, []string{"LATENCY", "HISTORY", "command"},
			[]string{"*2\r\n*2\r\n:10\r\n:1\r\n*2\r\n:30\r\n:3\r\n", "*1\r\n*2\r\n:20\r\n:2\r\n"},
			"*3\r\n*2\r\n:10\r\n:1\r\n*2\r\n:20\r\n:2\r\n*2\r\n:30\r\n:3\r\n"},
		{"slowlog newest first, counted", slowlogGet, []string{"SLOWLOG", "GET", "2"},
			[]string{"*2\r\n*3\r\n:2\r\n:300\r\n:1\r\n*3\r\n:1\r\n:100\r\n:1\r\n", "*1\r\n*3\r\n:9\r\n:200\r\n:1\r\n"},
			"*2\r\n*3\r\n:2\r\n:300\r\n:1\r\n*3\r\n:9\r\n:200\r\n:1\r\n"},
		{"function stats of the busy node", runningScript, []string{"FUNCTION", "STATS"},
			[]string{"%1\r\n$14\r\nrunning_script\r\n_\r\n", "%1\r\n$14\r\nrunning_script\r\n%1\r\n$4\r\nname\r\n$4\r\nspin\r\n"},
			"%1\r\n$14\r\nrunning_script\r\n%1\r\n$4\r\nname\r\n$4\r\nspin\r\n"},
		{"info verbatim", mergeInfo, []string{"INFO"},
			[]string{verbatim(keyspace(1)), verbatim(keyspace(2))}, verbatim(keyspace(3))},
		{"info bulk", mergeInfo, []string{"INFO"},
			[]string{bulks(keyspace(1))[4:], bulks(keyspace(2))[4:]}, bulks(keyspace(3))[4:]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := merged(t, tc.m, tc.words, tc.raws...); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMergeInfo(t *testing.T) {
	a := "# Server\r\nredis_version:7.0.15\r\ntcp_port:1\r\n\r\n# Memory\r\nused_memory:1000\r\nused_memory_human:1000B\r\n\r\n" +
		"# Stats\r\nkeyspace_hits:2\r\ninstantaneous_input_kbps:0.50\r\n\r\n# CPU\r\nused_cpu_sys:1.250000\r\n\r\n" +
		"# Commandstats\r\ncmdstat_get:calls=2,usec=10,usec_per_call=5.00,rejected_calls=0,failed_calls=0\r\n\r\n" +
		"# Errorstats\r\nerrorstat_ERR:count=1\r\n\r\n# Keyspace\r\ndb0:keys=2,expires=2,avg_ttl=100\r\n"
	b := "# Server\r\nredis_version:7.0.15\r\ntcp_port:2\r\n\r\n# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n\r\n" +
		"# Stats\r\nkeyspace_hits:3\r\ninstantaneous_input_kbps:0.25\r\n\r\n# CPU\r\nused_cpu_sys:0.500000\r\n\r\n" +
		"# Commandstats\r\ncmdstat_get:calls=3,usec=5,usec_per_call=1.67,rejected_calls=1,failed_calls=0\r\ncmdstat_set:calls=1,usec=1,usec_per_call=1.00,rejected_calls=0,failed_calls=0\r\n\r\n" +
		"# Errorstats\r\nerrorstat_ERR:count=2\r\nerrorstat_WRONGTYPE:count=1\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=400\r\n"
	got := MergeInfo([]*infotext.Info{infotext.Parse(a), infotext.Parse(b)})
	for _, want := range []string{
		"tcp_port:1\r\n", "used_memory:1049576\r\n", "used_memory_human:1.00M\r\n", "keyspace_hits:5\r\n",
		"instantaneous_input_kbps:0.75\r\n", "used_cpu_sys:1.750000\r\n",
		"cmdstat_get:calls=5,usec=15,usec_per_call=3.00,rejected_calls=1,failed_calls=0\r\n",
		"cmdstat_set:calls=1,", "errorstat_ERR:count=3\r\n", "errorstat_WRONGTYPE:count=1\r\n",
		"db0:keys=5,expires=3,avg_ttl=200\r\n",
	} {
		if !strings.Contains(got.String(), want) {
			t.Fatalf("merged INFO lacks %q:\n%s", want, got)
		}
	}
	if got.String() != infotext.Parse(got.String()).String() {
		t.Fatal("merged INFO does not read back the same")
	}
}
