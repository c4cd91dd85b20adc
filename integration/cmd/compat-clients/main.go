// Command compat-clients runs `make compat`'s fixed client scenario with
// go-redis v9 against one target, in RESP2 or RESP3, and prints one line
// per step:
//
//	RESULT go-redis <protocol> <target> <step> PASS|FAIL [detail]
//
// With -cluster it uses go-redis's ClusterClient and adds a step with keys
// on many slots. It exits 0 whatever the steps give: failures are the
// measurement.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	addrs := flag.String("addrs", "", "target address; comma separated seeds with -cluster")
	protocol := flag.Int("protocol", 2, "RESP protocol version, 2 or 3")
	cluster := flag.Bool("cluster", false, "use ClusterClient")
	target := flag.String("target", "", "name of the target in the output")
	flag.Parse()
	if *addrs == "" || *target == "" {
		fmt.Fprintln(os.Stderr, "compat-clients: -addrs and -target are required")
		os.Exit(2)
	}
	s := scenario{client: "go-redis", protocol: *protocol, target: *target, cluster: *cluster}
	var c redis.UniversalClient
	if *cluster {
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(*addrs, ","), Protocol: *protocol,
			MaxRetries: 1, DialTimeout: 3 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	} else {
		c = redis.NewClient(&redis.Options{Addr: *addrs, Protocol: *protocol,
			MaxRetries: -1, DialTimeout: 3 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second})
	}
	defer c.Close()
	s.run(c)
}

type scenario struct {
	client   string
	protocol int
	target   string
	cluster  bool
}

func (s scenario) report(step string, err error) {
	status, detail := "PASS", ""
	if err != nil {
		status, detail = "FAIL", strings.ReplaceAll(err.Error(), "\n", " ")
	}
	fmt.Printf("RESULT %s RESP%d %s %s %s %s\n", s.client, s.protocol, s.target, step, status, detail)
}

// step runs f with a deadline and reports it.
func (s scenario) step(name string, f func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		s.report(name, err)
	case <-time.After(15 * time.Second):
		s.report(name, errors.New("timed out"))
	}
}

func expect(what string, got, want any) error {
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return fmt.Errorf("%s: got %v, want %v", what, got, want)
	}
	return nil
}

func (s scenario) run(c redis.UniversalClient) {
	// Keys of one run share a hash tag, so multi-key steps work on a
	// cluster; the slots step spreads keys on purpose.
	tag := fmt.Sprintf("{cc:%s:%s:%d}", s.client, s.target, s.protocol)
	k := func(n string) string { return tag + ":" + n }

	s.step("connect", func(ctx context.Context) error {
		return expect("PING", c.Ping(ctx).Val(), "PONG")
	})
	if s.protocol == 3 {
		// go-redis falls back to RESP2 silently when HELLO 3 fails, so
		// the protocol is checked explicitly.
		s.step("hello3", func(ctx context.Context) error {
			v, err := c.Do(ctx, "HELLO", "3").Result()
			if err != nil {
				return err
			}
			m, ok := v.(map[any]any)
			if !ok {
				return fmt.Errorf("HELLO 3 replied %T, not a map", v)
			}
			return expect("proto", m["proto"], 3)
		})
	}
	s.step("set_get", func(ctx context.Context) error {
		if err := c.Set(ctx, k("s"), "hello", 0).Err(); err != nil {
			return err
		}
		v, err := c.Get(ctx, k("s")).Result()
		if err != nil {
			return err
		}
		return expect("GET", v, "hello")
	})
	s.step("mget", func(ctx context.Context) error {
		if err := c.MSet(ctx, k("m1"), "a", k("m2"), "b").Err(); err != nil {
			return err
		}
		v, err := c.MGet(ctx, k("m1"), k("m2"), k("missing")).Result()
		if err != nil {
			return err
		}
		return expect("MGET", v, []any{"a", "b", nil})
	})
	s.step("hset_hgetall", func(ctx context.Context) error {
		if err := c.HSet(ctx, k("h"), "f1", "v1", "f2", "v2").Err(); err != nil {
			return err
		}
		v, err := c.HGetAll(ctx, k("h")).Result()
		if err != nil {
			return err
		}
		return expect("HGETALL", v, map[string]string{"f1": "v1", "f2": "v2"})
	})
	s.step("pipeline", func(ctx context.Context) error {
		_ = c.Del(ctx, k("n"))
		cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for range 10 {
				p.Incr(ctx, k("n"))
			}
			return nil
		})
		if err != nil {
			return err
		}
		return expect("last INCR", cmds[9].(*redis.IntCmd).Val(), 10)
	})
	s.step("multi_exec", func(ctx context.Context) error {
		cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, k("t"), "1", 0)
			p.Incr(ctx, k("t"))
			p.Get(ctx, k("t"))
			return nil
		})
		if err != nil {
			return err
		}
		return expect("GET in MULTI", cmds[2].(*redis.StringCmd).Val(), "2")
	})
	s.step("pubsub", func(ctx context.Context) error {
		ch := k("chan")
		sub := c.Subscribe(ctx, ch)
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil { // the subscribe confirmation
			return err
		}
		n, err := c.Publish(ctx, ch, "msg").Result()
		if err != nil {
			return err
		}
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			return err
		}
		if err := expect("message", m.Payload, "msg"); err != nil {
			return err
		}
		if s.cluster {
			return nil // Redis Cluster counts the receivers of one node only
		}
		return expect("PUBLISH receivers", n, 1)
	})
	s.step("lua", func(ctx context.Context) error {
		script := redis.NewScript(`redis.call('SET', KEYS[1], ARGV[1]); return redis.call('GET', KEYS[1]) .. ARGV[2]`)
		v, err := script.Run(ctx, c, []string{k("lua")}, "x", "y").Result()
		if err != nil {
			return err
		}
		return expect("EVALSHA", v, "xy")
	})
	if s.cluster {
		s.step("slots", func(ctx context.Context) error {
			for i := range 30 {
				key := fmt.Sprintf("cc:%s:%s:%d:slot:%d", s.client, s.target, s.protocol, i)
				if err := c.Set(ctx, key, strconv.Itoa(i), 0).Err(); err != nil {
					return fmt.Errorf("SET %s: %w", key, err)
				}
				v, err := c.Get(ctx, key).Result()
				if err != nil {
					return fmt.Errorf("GET %s: %w", key, err)
				}
				if v != strconv.Itoa(i) {
					return fmt.Errorf("GET %s: %q", key, v)
				}
			}
			return nil
		})
	}
}
