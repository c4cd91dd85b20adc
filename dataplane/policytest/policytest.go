// Package policytest runs a policy's offline test cases: every domain's
// tree is built with the proxy's real engine registry on recording
// upstreams (no network), each case's command is served through the real
// tree, and the upstream it reached, the command that upstream received
// or the error it got is checked against the case's expectation.
package policytest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"keyway.dev/dataplane/engine"
	"keyway.dev/dataplane/engines/all"
	"keyway.dev/dataplane/resp"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

// Result is the outcome of one test case.
type Result struct {
	Name string `json:"name"`
	// Source is the file:line:col of the test(...) call.
	Source  string   `json:"source,omitempty"`
	Domain  string   `json:"domain"`
	Command []string `json:"command"`
	Pass    bool     `json:"pass"`
	// Reason says in plain words why a case failed, followed by the path
	// the command took; empty when it passed.
	Reason string `json:"reason,omitempty"`
	// Upstream is the upstream that received the command, if any.
	Upstream string `json:"upstream,omitempty"`
	// Sent is the command as that upstream received it.
	Sent []string `json:"sent,omitempty"`
	// Reply is the reply the client would get, as text.
	Reply string `json:"reply,omitempty"`
	// Path is the command's way through the tree, one step a line, as
	// KEYWAY.EXPLAIN prints it.
	Path []string `json:"path,omitempty"`
}

// CaseTimeout bounds one case, so an engine that waits (a ratelimit in
// delay mode) cannot hang a test run.
const CaseTimeout = 5 * time.Second

// sessionHash is the connection hash every case runs with, so splits by
// connection and flags choose the same child on every run.
const sessionHash = 1

// Run runs every test case of policy, in order.
func Run(ctx context.Context, policy *keywayv1.Policy) []Result {
	pool := newPool()
	trees := map[string]*built{}
	defer func() {
		for _, t := range trees {
			t.release()
		}
	}()
	env := &engine.Env{NodeID: "policytest"}
	out := make([]Result, 0, len(policy.GetTests()))
	for _, tc := range policy.GetTests() {
		t, ok := trees[tc.GetDomain()]
		if !ok {
			t = build(pool, env, policy, tc.GetDomain())
			trees[tc.GetDomain()] = t
		}
		out = append(out, runCase(ctx, pool, t, tc))
	}
	return out
}

// built is one domain's tree, or why it could not be built.
type built struct {
	root    engine.Engine
	err     error
	release func()
}

func build(pool *pool, env *engine.Env, policy *keywayv1.Policy, domain string) *built {
	var dp *keywayv1.DomainPolicy
	for _, d := range policy.GetDomains() {
		if d.GetName() == domain {
			dp = d
		}
	}
	if dp == nil {
		return &built{err: fmt.Errorf("domain %q is not declared by the policy", domain), release: func() {}}
	}
	b := engine.NewBuilder(all.Registry(), pool, domain, policy.GetUpstreams(), env)
	root, err := b.Build(dp.GetRoot())
	release := b.Release()
	if err != nil {
		release()
		return &built{err: fmt.Errorf("domain %q does not build: %w", domain, err), release: func() {}}
	}
	return &built{root: root, release: release}
}

func runCase(ctx context.Context, pool *pool, t *built, tc *keywayv1.PolicyTest) Result {
	res := Result{Name: tc.GetName(), Source: tc.GetSource(), Domain: tc.GetDomain(), Command: tc.GetCommand()}
	if t.err != nil {
		res.Reason = t.err.Error()
		return res
	}
	if len(tc.GetCommand()) == 0 {
		res.Reason = "the test has no command"
		return res
	}
	if x := engine.Explain(t.root, request(tc)); x != nil {
		res.Path = strings.Split(strings.TrimSuffix(x.String(), "\n"), "\n")
	}
	r := request(tc)
	ctx, cancel := context.WithTimeout(ctx, CaseTimeout)
	defer cancel()
	pool.begin()
	if out, refused := resp.AppendRefusal(nil, &r.Cmd); refused {
		// The server refuses these before any tree sees them.
		r.Reply(out)
	} else {
		engine.Do(ctx, t.root, r)
	}
	res.Upstream = r.Upstream
	if res.Upstream == "" {
		res.Upstream = pool.first()
	}
	res.Sent = pool.firstSent()
	res.Reply = replyText(r.Raw())
	res.Pass, res.Reason = judge(tc, &res, r.Raw())
	if !res.Pass && len(res.Path) > 0 {
		res.Reason += "\npath:\n  " + strings.Join(res.Path, "\n  ")
	}
	return res
}

func request(tc *keywayv1.PolicyTest) *engine.Request {
	r := &engine.Request{Session: &engine.Session{ID: 1, Domain: tc.GetDomain(), Hash: sessionHash}}
	for _, a := range tc.GetCommand() {
		r.Cmd.Args = append(r.Cmd.Args, []byte(a))
	}
	r.Cmd.Spec = resp.Resolve(r.Cmd.Args)
	return r
}

// judge compares what happened with what the case expects.
func judge(tc *keywayv1.PolicyTest, res *Result, raw []byte) (bool, string) {
	isErr := len(raw) > 0 && raw[0] == '-'
	reaches := tc.GetExpectUpstream() != "" || len(tc.GetExpectCommand()) > 0
	if reaches && tc.GetExpectError() != "" {
		return false, "the test expects both that the command reaches an upstream and an error; give one"
	}
	if want := tc.GetExpectCommand(); len(want) > 0 {
		switch {
		case res.Sent == nil && isErr:
			return false, fmt.Sprintf("expected the upstream to receive %s, but the command was refused: %s", quoteArgs(want), res.Reply)
		case res.Sent == nil:
			return false, fmt.Sprintf("expected the upstream to receive %s, but no upstream received it (reply %s)", quoteArgs(want), res.Reply)
		case !slices.Equal(res.Sent, want):
			return false, fmt.Sprintf("expected the upstream to receive %s, but it received %s", quoteArgs(want), quoteArgs(res.Sent))
		}
		if tc.GetExpectUpstream() == "" {
			return true, ""
		}
	}
	switch want := tc.GetExpectUpstream(); {
	case want != "":
		switch {
		case res.Upstream == want:
			return true, ""
		case isErr && res.Upstream == "":
			return false, fmt.Sprintf("expected the command to reach upstream %q, but it was refused: %s", want, res.Reply)
		case res.Upstream == "":
			return false, fmt.Sprintf("expected the command to reach upstream %q, but no upstream received it (reply %s)", want, res.Reply)
		default:
			return false, fmt.Sprintf("expected the command to reach upstream %q, but it reached %q", want, res.Upstream)
		}
	case tc.GetExpectError() != "":
		want := tc.GetExpectError()
		switch {
		case isErr && strings.Contains(res.Reply, want):
			return true, ""
		case isErr:
			return false, fmt.Sprintf("expected an error containing %q, but the error was: %s", want, res.Reply)
		case res.Upstream != "":
			return false, fmt.Sprintf("expected an error containing %q, but the command reached upstream %q (reply %s)", want, res.Upstream, res.Reply)
		default:
			return false, fmt.Sprintf("expected an error containing %q, but the reply was %s", want, res.Reply)
		}
	}
	return false, "the test names no expectation (expect_upstream, expect_command or expect_error)"
}

// quoteArgs shows a command as a policy writes it: ["SET", "k", "v"].
func quoteArgs(args []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, a := range args {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(a))
	}
	b.WriteByte(']')
	return b.String()
}

// replyText shows an error as its text and anything else as quoted RESP.
func replyText(raw []byte) string {
	if len(raw) > 0 && raw[0] == '-' {
		return strings.TrimSuffix(string(raw[1:]), "\r\n")
	}
	return fmt.Sprintf("%q", raw)
}
