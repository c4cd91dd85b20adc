package explain_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

	"keyway.dev/cli/internal/clitest"
	"keyway.dev/cli/internal/explain"
)

// fakeProxy answers KEYWAY.EXPLAIN the way keyway-proxy does, with the
// domains "web" and "batch". (The real proxy's answers are tested in
// dataplane/frontend and through the CLI in integration/.)
func fakeProxy(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { lis.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return lis.Addr().String()
}

func serve(c net.Conn) {
	r := bufio.NewReader(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		var out string
		switch strings.ToUpper(args[0]) {
		case "CLIENT":
			info := "id=7 addr=127.0.0.1:5 name= db=0 domain=web listener=default"
			out = fmt.Sprintf("$%d\r\n%s\r\n", len(info), info)
		case "KEYWAY.EXPLAIN":
			var header []string
			if len(args) > 2 && strings.EqualFold(args[1], "DOMAIN") {
				if args[2] != "web" && args[2] != "batch" {
					out = "-ERR keyway: no workload domain \"" + args[2] + "\" (domains: batch, web)\r\n"
					break
				}
				header = []string{"domain " + args[2] + " (stable tree, policy v1)"}
				args = append(args[:1:1], args[3:]...)
			}
			if len(args) < 3 {
				out = "-ERR wrong number of arguments for '" + strings.ToLower(args[1]) + "' command\r\n"
				break
			}
			lines := append(header, "1. guard: allowed", "2. upstream: upstream main")
			out = fmt.Sprintf("*%d\r\n", len(lines))
			for _, l := range lines {
				out += fmt.Sprintf("$%d\r\n%s\r\n", len(l), l)
			}
		default:
			out = "-ERR unknown command\r\n"
		}
		if _, err := io.WriteString(c, out); err != nil {
			return
		}
	}
}

func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return nil, err
	}
	args := make([]string, n)
	for i := range args {
		hdr, err := r.ReadString('\n')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(strings.TrimSpace(hdr[1:]))
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		args[i] = string(buf[:size])
	}
	return args, nil
}

func TestExplain(t *testing.T) {
	proxy := fakeProxy(t)
	dead := clitest.DeadAddr(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"path", []string{"explain", "--proxy", proxy, "--", "GET", "user:1"}, 0,
			[]string{"1. guard: allowed\n2. upstream: upstream main\n"}, nil},
		{"another domain", []string{"explain", "--proxy", proxy, "--domain", "batch", "--", "GET", "user:1"}, 0,
			[]string{"domain batch (stable tree, policy v1)\n1. guard: allowed"}, nil},
		{"unknown domain", []string{"explain", "--proxy", proxy, "--domain", "nope", "--", "GET", "user:1"}, 1,
			nil, []string{`no workload domain "nope" (domains: batch, web)`}},
		{"proxy error", []string{"explain", "--proxy", proxy, "--", "GET"}, 1,
			nil, []string{"the proxy answered: ERR wrong number of arguments for 'get' command"}},
		{"unreachable", []string{"explain", "--proxy", dead, "--", "GET", "k"}, 1,
			nil, []string{"cannot reach the proxy at " + dead}},
		{"no command", []string{"explain", "--proxy", proxy}, 2, nil, []string{"argument"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := clitest.Run(t, dead, tt.args...)
			if r.Code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.Code, tt.code, r.Stdout, r.Stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(r.Stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, r.Stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.Stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, r.Stderr)
				}
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		r := clitest.Run(t, dead, "explain", "--proxy", proxy, "--domain", "web", "-o", "json", "--", "MGET", "a", "b")
		var rep explain.Report
		if err := json.Unmarshal([]byte(r.Stdout), &rep); err != nil || r.Code != 0 {
			t.Fatalf("exit %d decode %v:\n%s%s", r.Code, err, r.Stdout, r.Stderr)
		}
		if rep.Proxy != proxy || rep.Domain != "web" || strings.Join(rep.Command, " ") != "MGET a b" || len(rep.Path) != 2 || rep.Path[1] != "2. upstream: upstream main" {
			t.Errorf("report %+v", rep)
		}
	})
}
