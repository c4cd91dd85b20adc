package multikey

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"keyway.dev/dataplane/resp"
)

func command(spec bool, args ...string) *resp.Command {
	c := &resp.Command{}
	for _, a := range args {
		c.Args = append(c.Args, []byte(a))
	}
	if spec {
		c.Spec = &resp.Spec{Name: strings.ToUpper(args[0])}
	}
	return c
}

// byFirstByte groups keys the way a route with one child per leading
// letter would.
func byFirstByte(key []byte) int { return int(key[0]) }

// parts renders a plan as "group:args|pos" strings for comparison.
func parts(p *Plan) []string {
	var out []string
	for _, part := range p.Parts {
		var args []string
		for _, a := range part.Cmd.Args {
			args = append(args, string(a))
		}
		out = append(out, fmt.Sprintf("%c:%s|%v", rune(part.Group), strings.Join(args, " "), part.Pos))
	}
	return out
}

func TestPlan(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		merge Merge
		want  []string
	}{
		{"mget one group", []string{"MGET", "a1", "a2"}, MergeValues, []string{"a:MGET a1 a2|[0 1]"}},
		{"mget interleaved", []string{"mget", "a1", "b1", "a2", "c1", "b2"}, MergeValues,
			[]string{"a:mget a1 a2|[0 2]", "b:mget b1 b2|[1 4]", "c:mget c1|[3]"}},
		{"mset pairs", []string{"MSET", "a1", "v1", "b1", "v2", "a2", "v3"}, MergeOK,
			[]string{"a:MSET a1 v1 a2 v3|[0 2]", "b:MSET b1 v2|[1]"}},
		{"del", []string{"DEL", "b", "a"}, MergeSum, []string{"b:DEL b|[0]", "a:DEL a|[1]"}},
		{"unlink", []string{"UNLINK", "a", "b"}, MergeSum, []string{"a:UNLINK a|[0]", "b:UNLINK b|[1]"}},
		{"exists duplicate keys", []string{"EXISTS", "a", "b", "a"}, MergeSum, []string{"a:EXISTS a a|[0 2]", "b:EXISTS b|[1]"}},
		{"touch", []string{"TOUCH", "x", "y"}, MergeSum, []string{"x:TOUCH x|[0]", "y:TOUCH y|[1]"}},
	}
	for _, tt := range tests {
		for _, spec := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/spec=%v", tt.name, spec), func(t *testing.T) {
				p, err := NewPlan(command(spec, tt.args...), byFirstByte)
				if err != nil {
					t.Fatalf("NewPlan: %v", err)
				}
				if p.Merge != tt.merge {
					t.Errorf("merge = %s, want %s", p.Merge, tt.merge)
				}
				if got := parts(p); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("parts\n got %q\nwant %q", got, tt.want)
				}
			})
		}
	}
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		notSplt bool
	}{
		{"msetnx is atomic", []string{"MSETNX", "a", "1", "b", "2"}, true},
		{"eval", []string{"EVAL", "return 1", "2", "a", "b"}, true},
		{"sunionstore", []string{"SUNIONSTORE", "d", "a", "b"}, true},
		{"mset odd arguments", []string{"MSET", "a", "1", "b"}, false},
		{"mget without keys", []string{"MGET"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPlan(command(true, tt.args...), byFirstByte)
			if err == nil {
				t.Fatal("NewPlan succeeded, want an error")
			}
			if got := errors.Is(err, ErrNotScatterable); got != tt.notSplt {
				t.Errorf("errors.Is(%v, ErrNotScatterable) = %v, want %v", err, got, tt.notSplt)
			}
			if !strings.Contains(err.Error(), tt.args[0]) {
				t.Errorf("error %q does not name the command", err)
			}
		})
	}
}

// TestPlanManyGroups covers the indexed path a cluster client takes,
// with more groups than the linear search handles, and plan reuse.
func TestPlanManyGroups(t *testing.T) {
	var p Plan
	for _, n := range []int{40, 3, 40} {
		args := []string{"MGET"}
		for i := range n {
			args = append(args, fmt.Sprintf("k%d", i))
		}
		group := func(key []byte) int {
			var i int
			fmt.Sscanf(string(key), "k%d", &i)
			return i % 20
		}
		if err := p.Build(command(true, args...), group); err != nil {
			t.Fatalf("NewPlan: %v", err)
		}
		want := min(n, 20)
		if len(p.Parts) != want {
			t.Fatalf("%d keys: %d parts, want %d", n, len(p.Parts), want)
		}
		seen := make([]bool, n)
		for j, part := range p.Parts {
			if part.Group != j {
				t.Errorf("part %d has group %d, want %d (first appearance order)", j, part.Group, j)
			}
			for x, i := range part.Pos {
				if got := string(part.Cmd.Args[1+x]); got != args[1+i] {
					t.Errorf("part %d key %d = %s, want %s", j, x, got, args[1+i])
				}
				if seen[i] {
					t.Errorf("key %d in two parts", i)
				}
				seen[i] = true
			}
		}
		for i, s := range seen {
			if !s {
				t.Errorf("key %d in no part", i)
			}
		}
	}
}

func TestAppendReply(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		replies []string
		want    string
		bad     bool
	}{
		{"mget in client order", []string{"MGET", "a1", "b1", "a2"},
			[]string{"*2\r\n$2\r\nA1\r\n$-1\r\n", "*1\r\n$2\r\nB1\r\n"},
			"*3\r\n$2\r\nA1\r\n$2\r\nB1\r\n$-1\r\n", false},
		{"mget resp3 nulls", []string{"MGET", "a1", "b1"},
			[]string{"*1\r\n_\r\n", "*1\r\n$3\r\nxyz\r\n"},
			"*2\r\n_\r\n$3\r\nxyz\r\n", false},
		{"mget error wins", []string{"MGET", "a1", "b1"},
			[]string{"*1\r\n$-1\r\n", "-WRONGTYPE no\r\n"}, "-WRONGTYPE no\r\n", false},
		{"mset all ok", []string{"MSET", "a", "1", "b", "2"}, []string{"+OK\r\n", "+OK\r\n"}, "+OK\r\n", false},
		{"mset first error", []string{"MSET", "a", "1", "b", "2", "c", "3"},
			[]string{"+OK\r\n", "-ERR one\r\n", "-ERR two\r\n"}, "-ERR one\r\n", false},
		{"del sum", []string{"DEL", "a", "b", "c"}, []string{":1\r\n", ":0\r\n", ":1\r\n"}, ":2\r\n", false},
		{"mget short array", []string{"MGET", "a1", "b1", "a2"},
			[]string{"*1\r\n$2\r\nA1\r\n", "*1\r\n$2\r\nB1\r\n"}, "", true},
		{"mget truncated bulk", []string{"MGET", "a1", "b1"},
			[]string{"*1\r\n$5\r\nA1\r\n", "*1\r\n$2\r\nB1\r\n"}, "", true},
		{"sum of a string", []string{"DEL", "a", "b"}, []string{":1\r\n", "+OK\r\n"}, "", true},
		{"ok of an integer", []string{"MSET", "a", "1", "b", "2"}, []string{":1\r\n", "+OK\r\n"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := NewPlan(command(true, tt.args...), byFirstByte)
			if err != nil {
				t.Fatalf("NewPlan: %v", err)
			}
			replies := make([][]byte, len(tt.replies))
			for i, r := range tt.replies {
				replies[i] = []byte(r)
			}
			got, err := p.AppendReply(nil, replies)
			if tt.bad {
				if !errors.Is(err, ErrBadReply) {
					t.Fatalf("AppendReply = %q, %v; want ErrBadReply", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("AppendReply: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("AppendReply = %q, want %q", got, tt.want)
			}
		})
	}
}
