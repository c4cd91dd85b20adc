package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"keyway.dev/controlplane/store"
	keywayv1 "keyway.dev/proto/keyway/v1"
	"keyway.dev/proto/testrun"
)

// renderCases renders "name,name,..." as a policy with one test case per
// name, declared on line i+1 of main.star.
func renderCases(_ context.Context, b *keywayv1.Bundle) (*keywayv1.Policy, error) {
	p := &keywayv1.Policy{Domains: []*keywayv1.DomainPolicy{{Name: "default"}}}
	src := string(b.GetFiles()["main.star"])
	if src == "" {
		return p, nil
	}
	for i, name := range strings.Split(src, ",") {
		p.Tests = append(p.Tests, &keywayv1.PolicyTest{Name: name, Domain: "default", Command: []string{"GET", "k"}, Source: fmt.Sprintf("main.star:%d:1", i+1)})
	}
	return p, nil
}

// failNamed fails every case whose name starts with "bad", as the runner
// would.
func failNamed(_ context.Context, p *keywayv1.Policy) error {
	var f testrun.Failures
	for _, c := range p.GetTests() {
		if strings.HasPrefix(c.GetName(), "bad") {
			f = append(f, testrun.Result{Name: c.GetName(), Source: c.GetSource(), Domain: c.GetDomain(), Command: c.GetCommand(), Reason: "reached b, want a"})
		}
	}
	if len(f) > 0 {
		return f
	}
	return nil
}

func TestPushRunsTheBundlesTests(t *testing.T) {
	e, err := store.StartEmbedded(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	st := store.New(e.Client(), store.Config{})
	defer st.Close()
	ctx := context.Background()
	bundle := func(src string) *keywayv1.Bundle {
		return &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}
	}
	missing := func(context.Context, *keywayv1.Policy) error {
		return fmt.Errorf("%w: /opt/keyway/keyway-proxy: no such file; install keyway-proxy beside keyway-control", testrun.ErrNoRunner)
	}
	broken := func(context.Context, *keywayv1.Policy) error { return errors.New("runner crashed") }

	for _, tc := range []struct {
		name   string
		tests  TestRunner
		src    string
		skip   bool
		code   codes.Code
		says   []string
		stored bool
	}{
		{"passing cases", failNamed, "reads,writes", false, codes.OK, nil, true},
		{"failing cases name each file:line:col", failNamed, "reads,bad one,bad two", false, codes.InvalidArgument,
			[]string{`main.star:2:1: test "bad one"`, `main.star:3:1: test "bad two"`, "reached b, want a", "nothing stored", "--skip-tests"}, false},
		{"skipped on request", failNamed, "bad,again", true, codes.OK, nil, true},
		{"no cases need no runner", nil, "", false, codes.OK, nil, true},
		{"no runner configured", nil, "reads,more", false, codes.FailedPrecondition, []string{"cannot run policy tests", "--skip-tests"}, false},
		{"runner missing", missing, "reads,other", false, codes.FailedPrecondition, []string{"keyway-proxy", "install keyway-proxy beside keyway-control"}, false},
		{"runner broken", broken, "reads,third", false, codes.Internal, []string{"run the policy's tests: runner crashed"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPolicy(st, renderCases, nil, nil).WithTests(tc.tests)
			before, err := st.Pointers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Push(ctx, &keywayv1.PushRequest{Bundle: bundle(tc.src), Force: true, SkipTests: tc.skip})
			if status.Code(err) != tc.code {
				t.Fatalf("push: %v, want code %v", err, tc.code)
			}
			for _, w := range tc.says {
				if !strings.Contains(status.Convert(err).Message(), w) {
					t.Errorf("error %q lacks %q", status.Convert(err).Message(), w)
				}
			}
			after, err := st.Pointers(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := after.Head != before.Head; got != tc.stored {
				t.Errorf("stored = %v (head v%d -> v%d), want %v", got, before.Head, after.Head, tc.stored)
			}
		})
	}
}
