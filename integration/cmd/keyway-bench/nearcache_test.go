package main

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseNearCacheRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--keys", "0"}, "--keys 0"},
		{[]string{"--zipf", "1"}, "--zipf 1"},
		{[]string{"--zipf", "-0.5"}, "--zipf -0.5"},
		{[]string{"--reads", "1.5"}, "--reads 1.5"},
		{[]string{"--clients", "10", "--requests", "5"}, "at least --clients"},
		{[]string{"--max-bytes", "1000"}, "--max-bytes 1000"},
	} {
		_, err := parseNearCache(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
	if _, err := parseNearCache(nil, io.Discard); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
}

// TestZipfFavoursLowRanks checks the sampler's shape: rank 0 is drawn
// about H(n,s) times more often than uniform, and every draw is in range.
func TestZipfFavoursLowRanks(t *testing.T) {
	cdf := zipfCDF(1000, 0.99)
	rng := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, 1000)
	for range 100_000 {
		counts[zipfKey(cdf, rng)]++
	}
	if counts[0] < 10*counts[999]+1000 || counts[0] < counts[1] {
		t.Errorf("rank 0 drawn %d times, rank 1 %d, rank 999 %d: not Zipf-shaped", counts[0], counts[1], counts[999])
	}
}

func TestScrapeNearCache(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `# TYPE keyway_engine_events_total counter
keyway_engine_events_total{domain="default",track="stable",kind="near_cache",label="bench",event="hits"} 1.2345678e+07
keyway_engine_events_total{domain="default",track="stable",kind="near_cache",label="bench",event="misses"} 3
keyway_engine_events_total{domain="default",track="stable",kind="guard",label="",event="hits"} 100
`)
	}))
	defer srv.Close()
	got, err := scrapeNearCache(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got["hits"] != 12345678 || got["misses"] != 3 || got["coalesced"] != 0 {
		t.Errorf("scraped %v, want hits 12345678 misses 3", got)
	}
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, `keyway_engine_events_total{kind="near_cache",event="hits"} lots`+"\n")
	}))
	defer bad.Close()
	if _, err := scrapeNearCache(bad.URL); err == nil || !strings.Contains(err.Error(), "want a non-negative number") {
		t.Errorf("unreadable counter: error %v, want one saying so", err)
	}
}

func TestParseCommandStats(t *testing.T) {
	got, err := parseCommandStats("# Commandstats\r\ncmdstat_get:calls=10,usec=25,usec_per_call=2.50,rejected_calls=0,failed_calls=0\r\ncmdstat_pttl:calls=3,usec=4,usec_per_call=1.33\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if got["get"] != (cmdStat{10, 25}) || got["pttl"] != (cmdStat{3, 4}) || len(got) != 2 {
		t.Errorf("parsed %v", got)
	}
	for _, bad := range []string{"# Commandstats\r\n", "cmdstat_get:calls=x,usec=1\r\n"} {
		if _, err := parseCommandStats(bad); err == nil || !strings.Contains(err.Error(), "INFO commandstats") {
			t.Errorf("%q: error %v, want one about INFO commandstats", bad, err)
		}
	}
}

func TestParseNearCacheRefusesUnknownSetup(t *testing.T) {
	_, err := parseNearCache([]string{"--setups", "shared,alone"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `unknown setup "alone"`) {
		t.Errorf("error %v, want one naming the unknown setup", err)
	}
}
