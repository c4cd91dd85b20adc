package telemetry

import (
	"testing"
)

// TestPolicyInfoPerDomain: a domain pinned by a completed rollout and a
// domain in a rollout each show their versions beside the snapshot's.
func TestPolicyInfoPerDomain(t *testing.T) {
	r := New(Options{})
	r.SetPolicyVersion("v1")
	r.SetDomainVersions([]DomainVersion{
		{Domain: "b", Track: "stable", Version: "v1"},
		{Domain: "a", Track: "stable", Version: "v2"},
		{Domain: "c", Track: "canary", Version: "v3"},
		{Domain: "c", Track: "stable", Version: "v1"},
	})
	fams := scrape(t, r)
	rows := fams["keyway_policy_info"].GetMetric()
	got := make([]map[string]string, 0, len(rows))
	for _, m := range rows {
		if v := m.GetGauge().GetValue(); v != 1 {
			t.Errorf("keyway_policy_info%v = %v, want 1", labelsOf(m), v)
		}
		got = append(got, labelsOf(m))
	}
	want := []map[string]string{
		{"version": "v1"},
		{"domain": "a", "track": "stable", "version": "v2"},
		{"domain": "b", "track": "stable", "version": "v1"},
		{"domain": "c", "track": "canary", "version": "v3"},
		{"domain": "c", "track": "stable", "version": "v1"},
	}
	if len(got) != len(want) {
		t.Fatalf("keyway_policy_info rows = %v, want %v", got, want)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Errorf("row %d = %v, want %v", i, got[i], want[i])
			continue
		}
		for k, v := range want[i] {
			if got[i][k] != v {
				t.Errorf("row %d = %v, want %v", i, got[i], want[i])
				break
			}
		}
	}

	// A later apply replaces the list whole: a finished rollout leaves no
	// canary row behind.
	r.SetDomainVersions([]DomainVersion{{Domain: "c", Track: "stable", Version: "v3"}})
	if n := len(scrape(t, r)["keyway_policy_info"].GetMetric()); n != 2 {
		t.Errorf("after a second apply: %d rows, want 2", n)
	}
}
