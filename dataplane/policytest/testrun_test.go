package policytest

import (
	"encoding/json"
	"testing"

	"keyway.dev/proto/testrun"
)

// TestResultIsTestrunResult: keyway-control reads the runner's results
// as testrun.Result, so every field of Result must survive the trip.
func TestResultIsTestrunResult(t *testing.T) {
	r := Result{
		Name: "n", Source: "main.star:1:2", Domain: "d", Command: []string{"GET", "k"},
		Pass: true, Reason: "why", Upstream: "u", Reply: "r", Path: []string{"route"},
	}
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var tr testrun.Result
	if err := json.Unmarshal(want, &tr); err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("through testrun.Result: %s, want %s", got, want)
	}
}
