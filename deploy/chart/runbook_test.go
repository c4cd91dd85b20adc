package chart

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Every alert carries a runbook_url whose anchor is a section of
// docs/operations.md named after the alert.
func TestEveryAlertHasARunbook(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^### (Keyway\w+)$`).FindAllStringSubmatch(string(doc), -1) {
		sections[strings.ToLower(m[1])] = true
	}
	const base = "https://github.com/keyway-dev/keyway/blob/main/docs/operations.md#"
	alerts := 0
	for _, f := range []string{"../prometheus/rules.yml", "../prometheus/control-rules.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf struct {
			Groups []struct {
				Rules []struct {
					Alert       string            `yaml:"alert"`
					Annotations map[string]string `yaml:"annotations"`
				} `yaml:"rules"`
			} `yaml:"groups"`
		}
		if err := yaml.Unmarshal(b, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Alert == "" {
					continue
				}
				alerts++
				url := r.Annotations["runbook_url"]
				if url != base+strings.ToLower(r.Alert) {
					t.Errorf("%s: %s has runbook_url %q, want %s%s", f, r.Alert, url, base, strings.ToLower(r.Alert))
				}
				if !sections[strings.ToLower(r.Alert)] {
					t.Errorf("docs/operations.md has no section \"### %s\"", r.Alert)
				}
			}
		}
	}
	if alerts < 20 {
		t.Fatalf("only %d alerts found", alerts)
	}
}
