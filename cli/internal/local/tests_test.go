package local

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunTestsUsesTheEngines: a case the real route engine sends
// elsewhere fails with its source position; the right one passes.
func TestRunTestsUsesTheEngines(t *testing.T) {
	dir := t.TempDir()
	src := `main = redis("main", "127.0.0.1:6401")
sessions = redis("sessions", "127.0.0.1:6402")
domain("default", route(routes = {"session:": sessions}, default = main))
test("sessions go to sessions", "default", ["GET", "session:1"], expect_upstream = sessions)
test("users wrongly expected on sessions", "default", ["GET", "user:1"], expect_upstream = sessions)
`
	if err := os.WriteFile(filepath.Join(dir, "main.star"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := Renderer{}
	b, err := r.LoadBundle(dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Render(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	res := r.RunTests(context.Background(), p)
	if len(res) != 2 {
		t.Fatalf("%d results, want 2: %+v", len(res), res)
	}
	if !res[0].Pass {
		t.Errorf("first case failed: %+v", res[0])
	}
	if res[1].Pass || !strings.HasPrefix(res[1].Source, "main.star:5:") || res[1].Reason == "" {
		t.Errorf("second case = %+v, want a failure at main.star:5 with a reason", res[1])
	}
}
