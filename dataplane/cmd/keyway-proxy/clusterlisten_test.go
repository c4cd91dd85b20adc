package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"keyway.dev/dataplane/redistest"
)

func TestParseClusterListen(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string // nil: an error
	}{
		{"list", []string{"--cluster-listen", "127.0.0.1:7001,127.0.0.1:7002"}, []string{"127.0.0.1:7001", "127.0.0.1:7002"}},
		{"range", []string{"--cluster-listen", "127.0.0.1:7001-7003"}, []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"}},
		{"repeated", []string{"--cluster-listen", "a:1", "--cluster-listen", "[::1]:2-3"}, []string{"a:1", "[::1]:2", "[::1]:3"}},
		{"kernel ports", []string{"--cluster-listen", "127.0.0.1:0,127.0.0.1:0"}, []string{"127.0.0.1:0", "127.0.0.1:0"}},
		{"range from 0", []string{"--cluster-listen", "127.0.0.1:0-2"}, nil},
		{"negative", []string{"--cluster-listen", "127.0.0.1:-1"}, nil},
		{"no port", []string{"--cluster-listen", "127.0.0.1"}, nil},
		{"backwards", []string{"--cluster-listen", "127.0.0.1:7003-7001"}, nil},
		{"too many", []string{"--cluster-listen", "127.0.0.1:7000-8000"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args, io.Discard)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("accepted: %v", c.clusterListen)
				}
				return
			}
			if err != nil || !slices.Equal(c.clusterListen, tc.want) {
				t.Fatalf("clusterListen = %v, %v; want %v", c.clusterListen, err, tc.want)
			}
		})
	}
}

// TestClusterListen runs the proxy with two --cluster-listen addresses
// and a policy that emulates a cluster: go-redis's ClusterClient sees
// three virtual nodes and opens connections to each address.
func TestClusterListen(t *testing.T) {
	r := redistest.Start(t)
	dir := t.TempDir()
	src := fmt.Sprintf(`
cache = redis("cache", %q)
domain("default", cache)
listener("default", domain = "default", cluster_emulation = True)
`, r.Addr)
	if err := os.WriteFile(filepath.Join(dir, "main.star"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// The kernel picks every port; the virtual nodes must be announced at
	// the ports bound, never at ":0".
	bound, _ := startRunBound(t, "--policy", dir, "--cluster-listen", "127.0.0.1:0,127.0.0.1:0")
	addr, admin := bound["listen"], bound["admin"]
	extra := strings.Split(bound["cluster-listen"], ",")
	if len(extra) != 2 || slices.Contains(append([]string{addr}, extra...), "127.0.0.1:0") || extra[0] == extra[1] {
		t.Fatalf("ready file %v: want two distinct bound --cluster-listen addresses", bound)
	}
	waitHTTP(t, "http://"+admin+"/readyz", http.StatusOK)
	ctx := context.Background()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{extra[1]}, MaxRedirects: 0})
	defer cc.Close()
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil || len(slots) != 3 {
		t.Fatalf("CLUSTER SLOTS = %+v, %v", slots, err)
	}
	var described []string
	for _, s := range slots {
		described = append(described, s.Nodes[0].Addr)
	}
	want := append([]string{addr}, extra...)
	slices.Sort(described)
	slices.Sort(want)
	if !slices.Equal(described, want) {
		t.Fatalf("virtual nodes at %v, want %v", described, want)
	}
	for i := range 30 {
		k := fmt.Sprintf("cl:%d", i)
		if err := cc.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	// Every address has a connection of the cluster client.
	plain := redis.NewClient(&redis.Options{Addr: addr})
	defer plain.Close()
	list, err := plain.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range want {
		if !strings.Contains(list, "laddr="+a) {
			t.Fatalf("no connection on %s:\n%s", a, list)
		}
	}
}
