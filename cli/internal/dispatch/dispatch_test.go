package dispatch_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"keyway.dev/cli/internal/dispatch"
)

// tree is a two-level tree that records what its leaf saw.
type tree struct {
	addr, msg string
	force     bool
	args      []string
	ran       bool
}

func (tr *tree) runner(help *bytes.Buffer) *dispatch.Runner {
	leaf := &dispatch.Command{
		Name: "push", Short: "push it", Usage: "PATH -m MSG", MinArgs: 1, MaxArgs: 1,
		Examples: []string{"tool group push dir -m hi"},
		Flags: func(fs *flag.FlagSet) {
			fs.StringVar(&tr.msg, "m", "", "the `MSG`")
			fs.StringVar(&tr.msg, "message", "", "the `MSG`")
			fs.BoolVar(&tr.force, "force", false, "skip the check")
		},
		Run: func(_ context.Context, args []string) error {
			tr.ran, tr.args = true, args
			return nil
		},
	}
	return &dispatch.Runner{
		Root: &dispatch.Command{Name: "tool", Sub: []*dispatch.Command{{Name: "group", Short: "a group", Sub: []*dispatch.Command{leaf}}}},
		Persistent: func(fs *flag.FlagSet) {
			fs.StringVar(&tr.addr, "addr", "default:1", "`address`")
		},
		Help: help,
	}
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		err     string
		args2   []string
		msg     string
		addr    string
		force   bool
		helpHas []string
	}{
		{name: "flags after the argument", args: []string{"group", "push", "dir", "-m", "hi", "--force"}, args2: []string{"dir"}, msg: "hi", force: true, addr: "default:1"},
		{name: "global flag first", args: []string{"--addr", "x:2", "group", "push", "-m", "hi", "dir"}, args2: []string{"dir"}, msg: "hi", addr: "x:2"},
		{name: "global flag between words", args: []string{"group", "--addr", "x:3", "push", "dir", "--message=hi"}, args2: []string{"dir"}, msg: "hi", addr: "x:3"},
		{name: "global flag on the leaf", args: []string{"group", "push", "dir", "-m", "hi", "--addr", "x:4"}, args2: []string{"dir"}, msg: "hi", addr: "x:4"},
		{name: "double dash ends flags", args: []string{"group", "push", "-m", "hi", "--", "-dir"}, args2: []string{"-dir"}, msg: "hi", addr: "default:1"},
		{name: "unknown command", args: []string{"grup"}, code: 2, err: `unknown command "grup" for "tool"`},
		{name: "unknown subcommand", args: []string{"group", "pull"}, code: 2, err: `unknown command "pull" for "tool group"`},
		{name: "missing command", args: []string{"group"}, code: 2, err: "tool group: missing command (one of: push)"},
		{name: "unknown flag", args: []string{"group", "push", "dir", "--nope"}, code: 2, err: "tool group push: unknown flag: --nope"},
		{name: "unknown global flag", args: []string{"--nope", "group"}, code: 2, err: "unknown flag: --nope"},
		{name: "mistyped command", args: []string{"group", "pussh"}, code: 2, err: `unknown command "pussh" for "tool group"; did you mean "push"?`},
		{name: "mistyped flag", args: []string{"group", "push", "dir", "--forse"}, code: 2, err: "unknown flag: --forse; did you mean --force?"},
		{name: "short flag with its value attached", args: []string{"group", "push", "dir", "-mhi"}, args2: []string{"dir"}, msg: "hi", addr: "default:1"},
		{name: "unknown help topic", args: []string{"help", "nope"}, code: 2, err: `unknown command "nope" for "tool"`},
		{name: "too many arguments", args: []string{"group", "push", "a", "b"}, code: 2, err: "takes 1 argument(s), got 2"},
		{name: "leaf help", args: []string{"group", "push", "--help"}, helpHas: []string{
			"push it\n\nUsage:\n  tool group push PATH -m MSG\n", "  -m, --message MSG", "  --force ", "Global flags:\n  --addr address   address (default default:1)", "Examples:\n  tool group push dir -m hi",
		}},
		{name: "group help", args: []string{"group", "-h"}, helpHas: []string{"Usage:\n  tool group COMMAND [flags]", "Commands:\n  push   push it", "Run 'tool group COMMAND --help'"}},
		{name: "help word", args: []string{"help", "group", "push"}, helpHas: []string{"Usage:\n  tool group push PATH -m MSG"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var help bytes.Buffer
			tr := &tree{}
			err := tr.runner(&help).Run(context.Background(), tc.args)
			if got := dispatch.ExitCode(err); got != tc.code {
				t.Fatalf("exit %d (%v), want %d", got, err, tc.code)
			}
			if tc.err != "" {
				if !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %q lacks %q", err, tc.err)
				}
				if tr.ran {
					t.Errorf("the leaf ran despite %v", err)
				}
				return
			}
			for _, h := range tc.helpHas {
				if !strings.Contains(help.String(), h) {
					t.Errorf("help lacks %q:\n%s", h, help.String())
				}
			}
			if tc.helpHas != nil {
				if tr.ran {
					t.Error("the leaf ran on --help")
				}
				return
			}
			if !tr.ran || strings.Join(tr.args, ",") != strings.Join(tc.args2, ",") || tr.msg != tc.msg || tr.addr != tc.addr || tr.force != tc.force {
				t.Errorf("leaf saw args=%v msg=%q addr=%q force=%v", tr.args, tr.msg, tr.addr, tr.force)
			}
		})
	}
}

func TestUsageErrorPath(t *testing.T) {
	r := &dispatch.Runner{Root: &dispatch.Command{Name: "tool", Sub: []*dispatch.Command{{
		Name: "leaf", MaxArgs: -1,
		Run: func(context.Context, []string) error { return dispatch.Usagef("bad input") },
	}}}}
	err := r.Run(context.Background(), []string{"leaf", "a", "b", "c"})
	var u *dispatch.UsageError
	if dispatch.ExitCode(err) != 2 || !errors.As(err, &u) || u.Path != "tool leaf" {
		t.Fatalf("err = %#v", err)
	}
}

// TestCompletion: cobra's __complete request lists subcommands, flags
// and what a command's completers suggest, with the prefix applied.
func TestCompletion(t *testing.T) {
	var out bytes.Buffer
	tr := &tree{}
	r := tr.runner(&out)
	leaf := r.Root.Sub[0].Sub[0]
	leaf.Complete = func(_ context.Context, args []string, _ string) []string {
		return []string{"v1", "v2", "w3"}
	}
	leaf.FlagValues = map[string]dispatch.Completer{
		"message": func(context.Context, []string, string) []string { return []string{"hello", "bye"} },
	}
	r.Root.Sub = append(r.Root.Sub, dispatch.Completion(func() io.Writer { return &out }))
	for _, tc := range []struct {
		args      []string
		want, not []string
	}{
		{[]string{"__complete", "gr"}, []string{"group\ta group"}, []string{"push"}},
		{[]string{"__complete", "group", "push", "v"}, []string{"v1\n", "v2\n"}, []string{"w3"}},
		{[]string{"__complete", "group", "push", "--message", "h"}, []string{"hello"}, []string{"bye"}},
		{[]string{"__complete", "group", "push", "--"}, []string{"--message", "--force", "--addr"}, []string{"--m\t"}},
		{[]string{"completion", "bash"}, []string{"bash completion V2 for tool"}, nil},
		{[]string{"completion", "zsh"}, []string{"#compdef tool"}, nil},
		{[]string{"completion", "fish"}, []string{"complete -c tool"}, nil},
	} {
		out.Reset()
		if err := r.Run(context.Background(), tc.args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s", tc.args, w, out.String())
			}
		}
		for _, n := range tc.not {
			if strings.Contains(out.String(), n) {
				t.Errorf("%v: output has %q:\n%s", tc.args, n, out.String())
			}
		}
	}
	if err := r.Run(context.Background(), []string{"completion", "tcsh"}); dispatch.ExitCode(err) != 2 {
		t.Errorf("completion tcsh: %v, want a usage error", err)
	}
}
