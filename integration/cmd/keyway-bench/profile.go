package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// profile records CPU profiles of keyway-proxy under W1 GET, W2 GET and
// W5 SET: for each it asks the proxy's /debug/pprof/profile for cfg.profileFor and
// keeps the load running until the profile arrives.
func (b *bench) profile(ctx context.Context) error {
	var tg *target
	for i := range b.targets {
		if b.targets[i].name == keyway {
			tg = &b.targets[i]
		}
	}
	if tg == nil || b.admin == "" {
		return errors.New("--profile needs the keyway target")
	}
	if err := os.MkdirAll(b.cfg.profileDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", b.cfg.profileDir, err)
	}
	for _, t := range []testKey{{"W1", "GET"}, {"W2", "GET"}, {"W5", "SET"}} {
		if err := b.useDataset(t.wl); err != nil {
			return err
		}
		path := filepath.Join(b.cfg.profileDir, "keyway-proxy-"+t.wl+"-"+t.test+".pprof")
		if err := b.profileOne(ctx, *tg, t.wl, t.test, path); err != nil {
			return err
		}
		b.log.Info("profile written", "wl", t.wl, "test", t.test, "path", path,
			"read", "go tool pprof -top "+path)
	}
	return nil
}

func (b *bench) profileOne(ctx context.Context, tg target, wl, test, path string) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make(chan error, 1)
	go func() {
		got <- fetchProfile(pctx, "http://"+b.admin+"/debug/pprof/profile?seconds="+
			strconv.Itoa(int(b.cfg.profileFor/time.Second)), path)
	}()
	spec := b.spec(wl, test)
	spec.requests = max(1000, spec.requests/4)
	for {
		select {
		case err := <-got:
			return err
		default:
		}
		if _, err := runLoad(pctx, tg.addr, spec); err != nil {
			cancel()
			<-got
			return fmt.Errorf("load while profiling: %w", err)
		}
	}
}

func fetchProfile(ctx context.Context, url, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profile request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch profile: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetch profile %s: %s (start keyway-proxy with --pprof: --proxy-args=--pprof)", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("write profile: %w", err)
	}
	return f.Close()
}
