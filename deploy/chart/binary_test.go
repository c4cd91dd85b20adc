package chart

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"keyway.dev/deploy/internal/buildtest"
)

// binaryOf is the Keyway binary a container runs, from its image.
func binaryOf(c corev1.Container) string {
	for _, b := range []string{"keyway-control", "keyway-proxy"} {
		if strings.Contains(c.Image, "/"+b+":") || strings.Contains(c.Image, "/"+b+"@") || strings.HasPrefix(c.Image, b+":") {
			return b
		}
	}
	return ""
}

var helpFlag = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

// Every flag the chart passes is one the binary has.
func TestChartFlagsExistInBinaries(t *testing.T) {
	bin := buildtest.Binaries(t, "v0.0.0-chart")
	known := map[string]map[string]bool{}
	for _, b := range []string{"keyway-control", "keyway-proxy"} {
		out, err := exec.Command(filepath.Join(bin, b), "--help").Output()
		if err != nil {
			t.Fatalf("%s --help: %v", b, err)
		}
		known[b] = map[string]bool{}
		for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
			known[b][m[1]] = true
		}
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			seen := 0
			for _, w := range classify(decodeAll(t, render(t, v))).workloads {
				for _, c := range w.pod.Spec.Containers {
					b := binaryOf(c)
					if b == "" {
						continue
					}
					seen++
					for _, a := range c.Args {
						name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
						if !strings.HasPrefix(a, "--") || !known[b][name] {
							t.Errorf("%s passes %q, which %s --help does not list", w.name, a, b)
						}
					}
				}
			}
			if seen != 2 {
				t.Fatalf("%d Keyway containers rendered, want 2", seen)
			}
		})
	}
}

// listenLog says where each binary logs the address its listen flags
// got: flag -> log message and attribute.
var listenLog = map[string]map[string][2]string{
	"keyway-control": {"listen": {"keyway-control serving", "addr"}, "metrics-listen": {"serving metrics", "addr"}},
	"keyway-proxy":   {"listen": {"keyway-proxy serving", "listen"}, "admin": {"keyway-proxy serving", "admin"}},
}

// running is a binary started with a container's args, its listeners on
// kernel-chosen loopback ports.
type running struct {
	byPort map[int32]string // container port -> real address
}

// start runs c's binary with c's args, minus the certificate and etcd
// flags (no such files here; an embedded etcd instead), and every listen
// address moved to 127.0.0.1:0.
func start(t *testing.T, bin string, c corev1.Container, extra ...string) running {
	t.Helper()
	b := binaryOf(c)
	flagPort := map[string]int32{}
	var args []string
	for _, a := range c.Args {
		name, val, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		switch {
		case strings.HasPrefix(name, "etcd-"), strings.HasPrefix(name, "tls-"), name == "cert-roles", name == "control-plane-ca",
			name == "state-dir", name == "control-plane":
			continue
		case listenLog[b][name] != [2]string{}:
			_, port, err := splitPort(val)
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			flagPort[name] = port
			args = append(args, "--"+name+"=127.0.0.1:0")
		default:
			args = append(args, a)
		}
	}
	args = append(args, extra...)
	cmd := exec.Command(filepath.Join(bin, b), args...)
	dieWithTest(cmd)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addrs := map[string]string{}
	lines := make(chan map[string]any)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				lines <- rec
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	timeout := time.After(60 * time.Second)
	for len(addrs) < len(flagPort) {
		select {
		case rec, ok := <-lines:
			if !ok {
				t.Fatalf("%s exited before logging its listeners (args %v)", b, args)
			}
			for flag, where := range listenLog[b] {
				if rec["msg"] == where[0] {
					if a, ok := rec[where[1]].(string); ok {
						addrs[flag] = a
					}
				}
			}
		case <-timeout:
			t.Fatalf("%s did not log its listeners within 60s (got %v)", b, addrs)
		}
	}
	go func() {
		for range lines {
		}
	}()
	r := running{byPort: map[int32]string{}}
	for flag, port := range flagPort {
		r.byPort[port] = addrs[flag]
	}
	return r
}

func splitPort(hostport string) (string, int32, error) {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("no port in %q", hostport)
	}
	p, err := strconv.Atoi(hostport[i+1:])
	return hostport[:i], int32(p), err
}

// probe runs p against r as the kubelet would, and returns the outcome.
func probe(t *testing.T, r running, c corev1.Container, p *corev1.Probe) string {
	t.Helper()
	port := func(ip intstr.IntOrString) string {
		n := ip.IntVal
		if ip.Type == intstr.String {
			n = portNames(c)[ip.StrVal]
		}
		a, ok := r.byPort[n]
		if !ok {
			t.Fatalf("probe port %v (%d) is no listener of the running binary", ip, n)
		}
		return a
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch {
	case p.HTTPGet != nil:
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+port(p.HTTPGet.Port)+p.HTTPGet.Path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		resp.Body.Close()
		return strconv.Itoa(resp.StatusCode)
	case p.GRPC != nil:
		cc, err := grpc.NewClient(port(intstr.FromInt32(p.GRPC.Port)), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err.Error()
		}
		defer cc.Close()
		resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: deref(p.GRPC.Service)})
		if err != nil {
			return err.Error()
		}
		return resp.GetStatus().String()
	}
	t.Fatalf("probe without an HTTP or gRPC handler")
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Every probe of every variant, run against the real binary started
// with the chart's own arguments, finds its port and path: liveness
// succeeds, readiness answers (a proxy without a policy is not ready, by
// design), gRPC health says SERVING.
func TestChartProbesAnswer(t *testing.T) {
	bin := buildtest.Binaries(t, "v0.0.0-chart")
	containers := map[string][]corev1.Container{}
	for _, v := range variants {
		for _, o := range decodeAll(t, render(t, v)) {
			if d, ok := o.(*appsv1.Deployment); ok {
				for _, c := range d.Spec.Template.Spec.Containers {
					containers[binaryOf(c)] = append(containers[binaryOf(c)], c)
				}
			}
		}
	}
	control := containers["keyway-control"][0]
	cp := start(t, bin, control, "--data-dir="+t.TempDir())
	var cpGRPC string
	for _, p := range control.Ports {
		if p.Name == "grpc" {
			cpGRPC = cp.byPort[p.ContainerPort]
		}
	}
	proxy := containers["keyway-proxy"][0]
	px := start(t, bin, proxy, "--control-plane="+cpGRPC, "--state-dir="+t.TempDir())

	for b, cs := range containers {
		r := cp
		if b == "keyway-proxy" {
			r = px
		}
		for i, c := range cs {
			for kind, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
				if p == nil {
					continue
				}
				got := probe(t, r, c, p)
				ok := got == "200" || got == "SERVING"
				if kind == "readiness" && b == "keyway-proxy" {
					ok = got == "503" // no policy pushed: not ready, and says so
				}
				if !ok {
					t.Errorf("%s variant %d %s probe: %s", b, i, kind, got)
				}
			}
		}
	}
}
