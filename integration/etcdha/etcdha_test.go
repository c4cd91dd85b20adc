// Package etcdha tests keyway-control against a production-shaped etcd: a
// real 3-member cluster (the etcd server packages, in the test process)
// serving clients over TLS with client certificates, and several
// keyway-control processes in front of it.
package etcdha

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"keyway.dev/dataplane/redistest"
	"keyway.dev/integration/harness"
	"keyway.dev/proto/certtest"
	keywayv1 "keyway.dev/proto/keyway/v1"
)

type cluster struct {
	members   []*member
	endpoints []string
	ca        *certtest.CA
	client    certtest.Leaf
}

// startCluster starts n etcd members that form one cluster. Clients reach
// them over TLS and must present a certificate the CA signed; peers talk
// plaintext on loopback. Peer ports must be known before any member
// starts, so they come from FreePort; a start that loses a port to
// another process is retried.
func startCluster(t *testing.T, n int) *cluster {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c, err := tryCluster(t, n)
		if err == nil {
			return c
		}
		lastErr = err
	}
	t.Fatalf("start a %d-member etcd cluster: %v", n, lastErr)
	return nil
}

func tryCluster(t *testing.T, n int) (*cluster, error) {
	c := &cluster{ca: certtest.NewCA(t, "etcd-ca")}
	srv := c.ca.Server(t, "etcd-server")
	c.client = c.ca.Client(t, "keyway-control")
	var initial []string
	peers := make([]url.URL, n)
	for i := range n {
		peers[i] = url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))}
		initial = append(initial, fmt.Sprintf("m%d=%s", i, peers[i].String()))
	}
	for i := range n {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = t.TempDir()
		cfg.LogLevel = "error"
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		cfg.TickMs, cfg.ElectionMs = 20, 200
		cu := url.URL{Scheme: "https", Host: "127.0.0.1:0"}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peers[i]}, []url.URL{peers[i]}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "keyway-etcdha"
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: srv.CertFile, KeyFile: srv.KeyFile, TrustedCAFile: c.ca.CertFile, ClientCertAuth: true}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			c.close()
			return nil, err
		}
		m := &member{Etcd: e}
		c.members = append(c.members, m)
		t.Cleanup(m.stop)
	}
	for _, e := range c.members {
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			c.close()
			return nil, err
		case <-time.After(60 * time.Second):
			c.close()
			return nil, fmt.Errorf("member %s not ready after 60s", e.Config().Name)
		}
		c.endpoints = append(c.endpoints, "https://"+e.Clients[0].Addr().String())
	}
	return c, nil
}

func (c *cluster) close() {
	for _, m := range c.members {
		m.stop()
	}
}

// member is one etcd server, stopped at most once.
type member struct {
	*embed.Etcd
	once sync.Once
}

func (m *member) stop() { m.once.Do(m.Close) }

// startControl runs keyway-control on the cluster over TLS, serving
// metrics on a port the kernel picks, and returns it with that address.
func startControl(t *testing.T, c *cluster) (*harness.Control, string) {
	t.Helper()
	ctl := harness.StartControlWith(t, harness.ControlOptions{Args: []string{
		"--etcd-endpoints", strings.Join(c.endpoints, ","),
		"--etcd-ca", c.ca.CertFile, "--etcd-cert", c.client.CertFile, "--etcd-key", c.client.KeyFile,
		"--metrics-listen", "127.0.0.1:0", "--render", "inprocess", "--auth", "off",
	}})
	return ctl, ctl.Metrics
}

// gauge reads one unlabelled sample from a /metrics page, -1 when the
// page cannot be read (the process is gone).
func gauge(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

func waitFor(t *testing.T, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	start := time.Now()
	defer func() { t.Logf("%s after %s", what, time.Since(start).Round(time.Millisecond)) }()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("never %s within %s", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func bundle(domain string) *keywayv1.Bundle {
	src := fmt.Sprintf("main = redis(\"main\", \"127.0.0.1:6401\")\ndomain(%q, main)\nidentity(default_domain = %q)\n", domain, domain)
	return &keywayv1.Bundle{Entry: "main.star", Files: map[string][]byte{"main.star": []byte(src)}}
}

// Two keyway-control replicas on a 3-member etcd over TLS: pushes keep
// working when an etcd member is lost, and when the replica driving
// rollouts is killed, the other takes over.
func TestControlPlaneOnThreeMemberEtcd(t *testing.T) {
	start := time.Now()
	c := startCluster(t, 3)
	t.Logf("cluster up after %s", time.Since(start).Round(time.Millisecond))
	a, aMetrics := startControl(t, c)
	b, bMetrics := startControl(t, c)
	t.Logf("replicas up after %s", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()

	v1, err := a.Policies().Push(ctx, &keywayv1.PushRequest{Bundle: bundle("one"), Author: "ann", Message: "one"})
	if err != nil {
		t.Fatalf("push v1: %v", err)
	}

	// Lose a member: the two left keep the quorum, and the replicas'
	// clients move to them.
	c.members[0].stop()
	var v2 *keywayv1.PushResponse
	waitFor(t, "a push accepted after losing an etcd member", 30*time.Second, func() bool {
		v2, err = b.Policies().Push(ctx, &keywayv1.PushRequest{Bundle: bundle("two"), Author: "bob", Message: "two", Parent: v1.GetVersion().GetVersion()})
		if err != nil {
			t.Logf("push: %v", err)
		}
		return err == nil
	})
	if v2.GetVersion().GetVersion() != 2 {
		t.Fatalf("second push stored v%d, want v2", v2.GetVersion().GetVersion())
	}
	got, err := a.Policies().GetVersion(ctx, &keywayv1.GetVersionRequest{Version: 2})
	if err != nil || got.GetVersion().GetMessage() != "two" {
		t.Fatalf("the other replica reads v2 as %v, %v", got, err)
	}

	// Exactly one replica leads; kill it as a crash would (no
	// resignation), and the other takes over once its lease expires.
	var leader, follower *harness.Control
	var followerMetrics string
	waitFor(t, "one rollout leader", 30*time.Second, func() bool {
		la, lb := gauge(aMetrics, "keyway_control_rollout_leader"), gauge(bMetrics, "keyway_control_rollout_leader")
		switch {
		case la == 1 && lb == 0:
			leader, follower, followerMetrics = a, b, bMetrics
		case lb == 1 && la == 0:
			leader, follower, followerMetrics = b, a, aMetrics
		default:
			return false
		}
		return true
	})
	leader.Kill()
	waitFor(t, "the surviving replica leading", 60*time.Second, func() bool {
		return gauge(followerMetrics, "keyway_control_rollout_leader") == 1
	})
	if _, err := follower.Policies().Activate(ctx, &keywayv1.ActivateRequest{Version: 1, Author: "ann", Reason: "rollback"}); err != nil {
		t.Fatalf("activate on the survivor: %v", err)
	}
}

// keyway-control given a client certificate the cluster's CA did not sign
// stops at once, exit status 1, saying which check failed.
func TestRefusedClientCertificate(t *testing.T) {
	c := startCluster(t, 3)
	stranger := certtest.NewCA(t, "other-ca").Client(t, "stranger")
	bins := harness.Build(t)
	cmd := redistest.Command(bins.Control, "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--render", "inprocess",
		"--etcd-endpoints", strings.Join(c.endpoints, ","),
		"--etcd-ca", c.ca.CertFile, "--etcd-cert", stranger.CertFile, "--etcd-key", stranger.KeyFile)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("keyway-control: %v, want exit status 1\n%s", err, out)
	}
	for _, want := range []string{"TLS with etcd failed", "--etcd-cert", "tls: unknown certificate authority"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
