//go:build chaos

package chaos

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

var (
	soakFor   = flag.Duration("soak", 2*time.Minute, "how long TestSoak runs (make soak: 1h)")
	soakEvery = flag.Duration("soak-every", time.Minute, "how often TestSoak injects the next fault")
)

// TestSoak runs one system under the verifying load for -soak, injecting
// the next fault of a cycle every -soak-every: a burst of reloads, a
// control-plane SIGKILL and restart, an upstream SIGKILL and restart, a
// frozen upstream, a refused version followed by a good one, hostile
// neighbours. It prints the proxy's memory and the load's counts after
// every fault, and asserts what every scenario does: no wrong reply, no
// lost write, no hung call.
func TestSoak(t *testing.T) {
	s := startSystem(t)
	s.push("va", policy(s.redis.Addr, 3), false)
	s.push("vb", policy(s.redis.Addr, 5), false)
	l := startLoad(s.proxy.Addr, workers, keys)
	ctx, cancel := context.WithTimeout(context.Background(), *soakFor+10*time.Minute)
	defer cancel()
	if err := l.waitOps(ctx, 2000); err != nil {
		l.stop()
		t.Fatal(err)
	}
	faults := []struct {
		name string
		do   func()
	}{
		{"reloads at 10 Hz for 3 s", func() {
			for i := range 30 {
				name := []string{"va", "vb"}[i%2]
				if err := s.activate(name); err != nil {
					t.Errorf("activate %s: %v", name, err)
				}
				hold(100 * time.Millisecond)
			}
		}},
		{"control plane SIGKILL for 3 s", func() {
			s.cp.Kill()
			hold(3 * time.Second)
			s.restartControl()
		}},
		{"upstream SIGKILL for 2 s", func() {
			s.redis.Kill()
			hold(2 * time.Second)
			s.redis.Restart()
		}},
		{"upstream SIGSTOP for 2 s", func() {
			if err := s.redis.Pause(); err != nil {
				t.Error(err)
			}
			hold(2 * time.Second)
			if err := s.redis.Resume(); err != nil {
				t.Error(err)
			}
		}},
		{"refused version, then a good one", func() {
			s.push(fmt.Sprintf("locked-%d", time.Now().UnixNano()), lockedPolicy(s.redis.Addr), true)
			hold(2 * time.Second)
			if err := s.activate("va"); err != nil {
				t.Errorf("activate va: %v", err)
			}
		}},
		{"hostile neighbours for 3 s", func() { hostile(t, s, 3*time.Second) }},
	}
	var b strings.Builder
	b.WriteString("\n| minute | fault | calls | errors | wrong | hung | proxy RSS |\n|---|---|---|---|---|---|---|\n")
	start := time.Now()
	for i := 0; time.Since(start) < *soakFor; i++ {
		f := faults[i%len(faults)]
		f.do()
		if _, err := recoveryErr(s.proxy.Addr); err != nil {
			t.Errorf("after %s the proxy does not serve: %v", f.name, err)
		}
		c := l.counts()
		fmt.Fprintf(&b, "| %.1f | %s | %d | %d | %d | %d | %.0f MiB |\n",
			time.Since(start).Minutes(), f.name, c.ops, c.errs, c.wrong, c.hung, rss(s.proxy.Pid()))
		hold(time.Until(start.Add(time.Duration(i+1) * *soakEvery)))
	}
	l.stop()
	lost, examples, err := l.verify(ctx, direct(t, s.redis.Addr))
	if err != nil {
		t.Fatal(err)
	}
	c := l.counts()
	fmt.Fprintf(&b, "\nsoak %v: %d calls, %d errors, %d wrong, %d hung, %d lost writes; errors by kind: %v\n",
		*soakFor, c.ops, c.errs, c.wrong, c.hung, lost, c.errTexts)
	fmt.Fprint(os.Stdout, b.String())
	if out := os.Getenv("KEYWAY_CHAOS_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Errorf("write %s: %v", out, err)
		}
	}
	check(t, c, lost, examples, true)
}
