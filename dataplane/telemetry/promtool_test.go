package telemetry

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestAlertRulesWithPromtool runs the alert rules' own unit tests
// (deploy/prometheus/rules_test.yml), which feed series to the rules and
// check which alerts fire, e.g. that a pinned domain is not version skew.
func TestAlertRulesWithPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed; the rules' unit tests need it")
	}
	out, err := exec.Command(promtool, "test", "rules", filepath.Join(deployDir, "prometheus", "rules_test.yml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}
