package main

import (
	"context"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"keyway.dev/dataplane/redistest"
)

func TestRunLoadAgainstRedis(t *testing.T) {
	srv := redistest.Start(t)
	if err := fill(srv.Addr, 100, 64); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		spec      loadSpec
		wantBad   bool
		wantCount int
	}{
		{"get", loadSpec{cmd: "GET", clients: 3, pipeline: 1, requests: 500, keys: 100, valueSize: 64}, false, 500},
		{"set pipelined", loadSpec{cmd: "SET", clients: 2, pipeline: 16, requests: 1000, keys: 100, valueSize: 64}, false, 1000},
		{"uneven last batch", loadSpec{cmd: "GET", clients: 4, pipeline: 7, requests: 1001, keys: 100, valueSize: 64}, false, 1001},
		{"mget", loadSpec{cmd: "MGET", clients: 2, pipeline: 1, requests: 300, keys: 100, valueSize: 64, mgetKeys: 10}, false, 300},
		{"resp3 clients", loadSpec{cmd: "MGET", clients: 2, pipeline: 4, requests: 300, keys: 100, valueSize: 64, mgetKeys: 10, resp3: true}, false, 300},
		// Keys beyond the fill are missing: every reply is the wrong shape.
		{"missing keys are errors", loadSpec{cmd: "GET", clients: 1, pipeline: 4, requests: 100, keys: 100_000_000, valueSize: 64}, true, 100},
		{"wrong size is an error", loadSpec{cmd: "GET", clients: 1, pipeline: 1, requests: 50, keys: 100, valueSize: 65}, true, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.timeout = 30 * time.Second
			res, err := runLoad(context.Background(), srv.Addr, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if res.requests != tt.wantCount {
				t.Fatalf("%d requests answered, want %d", res.requests, tt.wantCount)
			}
			if tt.wantBad && res.errors < tt.wantCount*9/10 {
				t.Fatalf("%d of %d replies flagged, want nearly all", res.errors, tt.wantCount)
			}
			if !tt.wantBad && res.errors != 0 {
				t.Fatalf("%d replies flagged as wrong", res.errors)
			}
			if res.hist.n != uint64(tt.wantCount) || res.hist.quantile(0.5) <= 0 {
				t.Fatalf("histogram holds %d latencies, median %v", res.hist.n, res.hist.quantile(0.5))
			}
		})
	}
}

func TestStormCountsDirectClients(t *testing.T) {
	srv := redistest.Start(t)
	if err := fill(srv.Addr, 10, 8); err != nil {
		t.Fatal(err)
	}
	pid := redisPID(t, srv.Addr)
	tg := target{name: direct, addr: srv.Addr}
	spec := stormSpec{conns: 40, gets: 2, keys: 10,
		active: loadSpec{cmd: "GET", clients: 2, pipeline: 1, requests: 100, keys: 10, valueSize: 8, timeout: 30 * time.Second}}
	res, err := runStorm(context.Background(), tg, srv.Addr, pid, spec)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 40 || res.Failed != 0 {
		t.Fatalf("ok %d failed %d (%s), want 40 and 0", res.OK, res.Failed, res.FirstError)
	}
	if res.UpstreamConns != 40 {
		t.Fatalf("redis saw %d storm connections, want 40", res.UpstreamConns)
	}
	if res.CrowdErrors != 0 || res.CrowdP50Us <= 0 {
		t.Fatalf("crowd load: %d errors, p50 %v µs", res.CrowdErrors, res.CrowdP50Us)
	}
}

func TestRedisSeesOwnConnections(t *testing.T) {
	srv := redistest.Start(t)
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	ports, err := localPortsTo(os.Getpid(), srv.Port)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 3 {
		t.Fatalf("found %d sockets of this process to redis, want 3: %v", len(ports), ports)
	}
	n, err := redisSees(srv.Addr, ports)
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("CLIENT LIST shows %d of them, want 3", n)
	}
}

// redisPID finds the pid of the redis-server listening on addr through
// its own INFO, so the test reads that process's memory.
func redisPID(t *testing.T, addr string) int {
	t.Helper()
	info, err := command(addr, "INFO", "server")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatalf("no process_id in INFO server")
	return 0
}
