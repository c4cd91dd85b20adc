package fleet_test

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/fleet"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// TestFleetFilters: the flags narrow the list on the control plane, and
// the summary counts what they kept.
func TestFleetFilters(t *testing.T) {
	cp := clitest.Start(t)
	cp.SetNodes(nodes()...)
	for _, tc := range []struct {
		args     []string
		want     []string // node ids in the table
		summary  string
		wantNone bool
	}{
		{args: []string{"--nacked"}, want: []string{"proxy-2"}, summary: "1 proxy, 1 connected: 1 on v2; 1 refusing a version"},
		{args: []string{"--disconnected"}, want: []string{"proxy-1"}, summary: "1 proxy, 0 connected"},
		{args: []string{"--version", "v2"}, want: []string{"proxy-1", "proxy-2"}, summary: "2 proxies, 1 connected: 1 on v2; 1 refusing a version"},
		{args: []string{"--version", "v9"}, wantNone: true},
		{args: []string{"--domain", "payments"}, wantNone: true}, // the fake has no telemetry
		{args: []string{"--nacked", "--disconnected"}, wantNone: true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := clitest.Run(t, cp.Addr, append([]string{"fleet"}, tc.args...)...)
			if r.Code != 0 {
				t.Fatalf("exit %d: %s", r.Code, r.Stderr)
			}
			if tc.wantNone {
				if !strings.Contains(r.Stdout, "no proxies") {
					t.Errorf("got %q, want no proxies", r.Stdout)
				}
				return
			}
			for _, id := range []string{"proxy-1", "proxy-2"} {
				if strings.Contains(r.Stdout, id) != contains(tc.want, id) {
					t.Errorf("%s listed: %v, want %v\n%s", id, !contains(tc.want, id), contains(tc.want, id), r.Stdout)
				}
			}
			if !strings.Contains(r.Stdout, tc.summary+"\n") {
				t.Errorf("summary: want %q in\n%s", tc.summary, r.Stdout)
			}
		})
	}
}

// TestFleetPages: a fleet larger than a page is listed whole, and -o json
// writes one object per page, each with the summary of all.
func TestFleetPages(t *testing.T) {
	cp := clitest.Start(t)
	var many []*keywayv1.Node
	for i := range 5 {
		many = append(many, &keywayv1.Node{Id: fmt.Sprintf("p%d", i), Connected: true, PolicyVersion: "v3"})
	}
	cp.SetNodes(many...)
	r := clitest.Run(t, cp.Addr, "fleet", "--page-size", "2")
	if r.Code != 0 || strings.Count(r.Stdout, "yes") != 5 || !strings.Contains(r.Stdout, "5 proxies, 5 connected: 5 on v3\n") {
		t.Fatalf("exit %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = clitest.Run(t, cp.Addr, "fleet", "--page-size", "2", "-o", "json")
	if r.Code != 0 {
		t.Fatalf("exit %d: %s", r.Code, r.Stderr)
	}
	dec := json.NewDecoder(strings.NewReader(r.Stdout))
	var sizes []int
	for {
		var page fleet.ListJSON
		if err := dec.Decode(&page); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("page %d: %v\n%s", len(sizes)+1, err, r.Stdout)
		}
		if page.Summary.Proxies != 5 || page.Summary.Versions["v3"] != 5 {
			t.Errorf("page %d summary = %+v", len(sizes)+1, page.Summary)
		}
		sizes = append(sizes, len(page.Nodes))
	}
	if fmt.Sprint(sizes) != "[2 2 1]" {
		t.Errorf("pages of %v nodes, want [2 2 1]", sizes)
	}
	for _, bad := range []string{"0", "1001"} {
		r := clitest.Run(t, cp.Addr, "fleet", "--page-size", bad)
		if r.Code == 0 || !strings.Contains(r.Stderr, "--page-size "+bad+": want 1 to 1000") {
			t.Errorf("--page-size %s: exit %d, stderr %q", bad, r.Code, r.Stderr)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
