// Command gencommands writes dataplane/resp/table_gen.go from a real
// redis-server's COMMAND reply. With -addr it asks a running server;
// otherwise it starts a throwaway redis-server on a free loopback port.
//
//	cd dataplane/resp && go generate
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"keyway.dev/dataplane/resp/internal/cmdtable"
	"keyway.dev/dataplane/resp/internal/probe"
)

func main() {
	addr := flag.String("addr", "", "address of a running redis-server (default: start one)")
	bin := flag.String("redis-server", "redis-server", "redis-server binary to start when -addr is empty")
	out := flag.String("out", "table_gen.go", "file to write")
	flag.Parse()
	if err := run(*addr, *bin, *out); err != nil {
		slog.Error("gencommands failed", "err", err)
		os.Exit(1)
	}
}

func run(addr, bin, out string) error {
	if addr == "" {
		stop, a, err := start(bin)
		if err != nil {
			return err
		}
		defer stop()
		addr = a
	}
	c, err := probe.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	src, err := cmdtable.Generate(c)
	if err != nil {
		return fmt.Errorf("generate from %s: %w", addr, err)
	}
	if err := os.WriteFile(out, src, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", out, err)
	}
	slog.Info("wrote command table", "file", out, "from", addr)
	return nil
}

// start runs redis-server with no persistence on a free port and returns
// a func that kills it.
func start(bin string) (func(), string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", fmt.Errorf("find free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	dir, err := os.MkdirTemp("", "gencommands")
	if err != nil {
		return nil, "", fmt.Errorf("temp dir: %w", err)
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "")
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, "", fmt.Errorf("start %s: %w", bin, err)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitPing(addr, 10*time.Second); err != nil {
		stop()
		return nil, "", err
	}
	return stop, addr, nil
}

func waitPing(addr string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		if c, err := probe.Dial(addr); err == nil {
			v, err := c.Do("PING")
			_ = c.Close()
			if err == nil && v == "PONG" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("redis-server at " + addr + " did not answer PING")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
