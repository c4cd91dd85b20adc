package all

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An engine's README says how the engine works; the policy language is
// its kind's section in policy/kinds, whose examples the tests run. A
// README with its own example would be an untested copy of it.
func TestReadmesLeaveThePolicyLanguageToTheReference(t *testing.T) {
	readmes, err := filepath.Glob("../*/README.md")
	if err != nil || len(readmes) == 0 {
		t.Fatalf("no engine READMEs: %v", err)
	}
	for _, f := range readmes {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, fence := range []string{"```python", "```starlark"} {
			if strings.Contains(s, fence) {
				t.Errorf("%s has a %s example; put it in its kind's policy/kinds/<kind>.md", f, strings.TrimPrefix(fence, "```"))
			}
		}
		if !strings.Contains(s, "policy/kinds/") {
			t.Errorf("%s does not link its kind's section in policy/kinds", f)
		}
	}
}
