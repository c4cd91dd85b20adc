package fleet_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/fleet"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

const longNack = "upstream b: tls: open /nonexistent/keyway-test-ca.pem: no such file or directory"

func nodes() []*keywayv1.Node {
	return []*keywayv1.Node{
		{
			Id: "proxy-2", Peer: "127.0.0.1:5002", Connected: true, PolicyVersion: "v2",
			LastSeen: timestamppb.New(clitest.Epoch.Add(-3 * time.Second)),
			Applied:  map[string]string{"Domain": "v2", "ProxyConfig": "v2"},
			LastNack: &keywayv1.Nack{Type: "Domain", Version: "v3", Error: longNack, Time: timestamppb.New(clitest.Epoch.Add(-time.Minute))},
			Qps:      1234.4, Connections: 17, Listeners: []string{"127.0.0.1:6380"},
		},
		{
			Id: "proxy-1", Peer: "127.0.0.1:5001", Connected: false, PolicyVersion: "v2",
			LastSeen: timestamppb.New(clitest.Epoch.Add(-5 * time.Minute)),
			Applied:  map[string]string{"Domain": "v2", "ProxyConfig": "v1"},
			Qps:      0.5,
		},
	}
}

func TestFleet(t *testing.T) {
	cp := clitest.Start(t)
	cp.SetNodes(nodes()...)

	t.Run("table", func(t *testing.T) {
		r := clitest.Run(t, cp.Addr, "fleet")
		if r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		want := strings.Join([]string{
			"NODE     CONNECTED  POLICY  APPLIED                   LAST NACK                                         LAST SEEN  QPS   CONNS",
			"proxy-1  no         v2      Domain=v2,ProxyConfig=v1  -                                                 5m         0.5   0",
			"proxy-2  yes        v2      v2                        v3: upstream b: tls: open /nonexistent/keyway-t…  3s         1234  17",
			"2 proxies, 1 connected: 1 on v2; 1 refusing a version",
		}, "\n") + "\n"
		if r.Stdout != want {
			t.Errorf("fleet:\n%s\nwant:\n%s", r.Stdout, want)
		}
	})
	t.Run("json has the whole NACK", func(t *testing.T) {
		r := clitest.Run(t, cp.Addr, "fleet", "-o", "json")
		if r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		var got fleet.ListJSON
		if err := json.Unmarshal([]byte(r.Stdout), &got); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, r.Stdout)
		}
		if len(got.Nodes) != 2 || got.Nodes[0].ID != "proxy-1" || got.Nodes[0].LastNack != nil {
			t.Fatalf("nodes = %+v", got.Nodes)
		}
		n := got.Nodes[1]
		if n.LastNack == nil || n.LastNack.Error != longNack || n.LastNack.Version != "v3" || n.LastNack.Time != "2026-03-04T11:59:00Z" {
			t.Errorf("last_nack = %+v", n.LastNack)
		}
		if n.Connections != 17 || n.QPS != 1234.4 || n.Applied["ProxyConfig"] != "v2" || n.LastSeen != "2026-03-04T11:59:57Z" || n.Listeners[0] != "127.0.0.1:6380" {
			t.Errorf("node = %+v", n)
		}
		for _, field := range []string{`"id"`, `"peer"`, `"connected"`, `"policy_version"`, `"applied"`, `"last_nack"`, `"last_seen"`, `"qps"`, `"connections"`, `"listeners"`} {
			if !strings.Contains(r.Stdout, field) {
				t.Errorf("json lacks field %s", field)
			}
		}
	})
	t.Run("empty fleet", func(t *testing.T) {
		empty := clitest.Start(t)
		r := clitest.Run(t, empty.Addr, "fleet")
		if r.Code != 0 || !strings.Contains(r.Stdout, "no proxies have connected to "+empty.Addr) {
			t.Errorf("exit %d: %q", r.Code, r.Stdout)
		}
		r = clitest.Run(t, empty.Addr, "fleet", "-o", "json")
		if strings.TrimSpace(r.Stdout) != `{
  "nodes": [],
  "domains": [],
  "summary": {
    "proxies": 0,
    "connected": 0,
    "nacked": 0,
    "versions": {}
  }
}` {
			t.Errorf("empty json = %q", r.Stdout)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		r := clitest.Run(t, clitest.DeadAddr(t), "fleet")
		if r.Code != 1 || !strings.Contains(r.Stderr, "cannot reach the control plane") {
			t.Errorf("exit %d: %s", r.Code, r.Stderr)
		}
	})
}

func TestApplied(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]string
		want string
	}{
		{"none", nil, "-"},
		{"one", map[string]string{"Domain": "v3"}, "v3"},
		{"agree", map[string]string{"Domain": "v3", "ProxyConfig": "v3"}, "v3"},
		{"differ, sorted", map[string]string{"ProxyConfig": "v3", "Domain": "v2"}, "Domain=v2,ProxyConfig=v3"},
		{"empty value", map[string]string{"Domain": ""}, "-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fleet.Applied(tc.in); got != tc.want {
				t.Errorf("Applied(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
