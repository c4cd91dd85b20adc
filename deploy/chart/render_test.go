// Package chart tests deploy/helm/keyway: helm lint and helm template
// with the default and the production values, every rendered object
// decoded strictly against the real Kubernetes, cert-manager and
// Prometheus Operator API types, the objects consistent with each other
// and with deploy/prometheus, and the ports, flags and probes the chart
// names checked against the real binaries.
package chart

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"

	"keyway.dev/deploy/internal/buildtest"
)

// variant is one way of installing the chart.
type variant struct {
	name string
	args []string
}

var variants = []variant{
	{"default", nil},
	{"production", []string{"-f", "../helm/production-values.yaml"}},
	// Monitoring on over the bundled etcd, and plaintext (a laptop
	// cluster), so every template renders in some variant.
	{"bundled-monitored", []string{"--set", "monitoring.serviceMonitor.enabled=true,monitoring.prometheusRule.enabled=true"}},
	{"plaintext", []string{"--set", "tls.source=none,proxy.autoscaling.enabled=false"}},
	{"secrets", []string{"--set", "tls.source=secrets,tls.secrets.controlPlane=cp,tls.secrets.proxy=px,tls.secrets.etcdServer=es,tls.secrets.etcdPeer=ep,tls.secrets.etcdClient=ec"}},
}

const chartDir = "../helm/keyway"

// helm finds the helm binary: $HELM, the repository's .tools (make
// installs it there), or PATH.
func helm(t *testing.T) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		return h
	}
	if h := filepath.Join(buildtest.Root(t), ".tools", "helm"); fileExists(h) {
		return h
	}
	h, err := exec.LookPath("helm")
	if err != nil {
		t.Fatal("no helm: run `make tools` (it installs .tools/helm) or set $HELM")
	}
	return h
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// render runs helm template for v as release "kw" in namespace "keyway".
func render(t *testing.T, v variant) []byte {
	t.Helper()
	return run(t, helm(t), append([]string{"template", "kw", chartDir, "--namespace", "keyway"}, v.args...)...)
}

func scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, autoscalingv2.AddToScheme,
		networkingv1.AddToScheme, cmv1.AddToScheme, monitoringv1.AddToScheme,
	} {
		utilruntime.Must(add(s))
	}
	return s
}

// decodeAll splits a multi-document YAML stream and decodes each object
// strictly: an unknown or duplicate field, a wrong type or a kind the
// scheme does not know fails.
func decodeAll(t *testing.T, stream []byte) []runtime.Object {
	t.Helper()
	s := scheme()
	codec := json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Yaml: true, Strict: true})
	var out []runtime.Object
	for _, doc := range strings.Split(string(stream), "\n---") {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		obj, gvk, err := codec.Decode([]byte(doc), nil, nil)
		if err != nil {
			t.Errorf("decode %s:\n%v\n%s", gvkOf(doc), err, firstLines(doc, 12))
			continue
		}
		if gvk.Kind == "" {
			t.Errorf("object without kind:\n%s", firstLines(doc, 12))
		}
		out = append(out, obj)
	}
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func gvkOf(doc string) string {
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, "kind:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "kind:"))
		}
	}
	return "?"
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

func TestHelmLint(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			run(t, helm(t), append([]string{"lint", "--strict", chartDir}, v.args...)...)
		})
	}
}

// Every object every variant renders is a valid object of its API.
func TestRenderedObjectsDecodeStrictly(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			objs := decodeAll(t, render(t, v))
			if len(objs) < 10 {
				t.Fatalf("only %d objects rendered", len(objs))
			}
		})
	}
}

// The strict decoder refuses what a typo in a template would produce, so
// the test above means something.
func TestStrictDecodeRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"unknown field":     "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nspec: {selectr: {a: b}}\n",
		"duplicate field":   "apiVersion: v1\nkind: Service\nmetadata: {name: a}\nmetadata: {name: b}\n",
		"wrong type":        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: a}\nspec: {replicas: three}\n",
		"unknown kind":      "apiVersion: v1\nkind: Servise\nmetadata: {name: a}\n",
		"unknown CRD field": "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\nmetadata: {name: a}\nspec: {endpoint: []}\n",
	} {
		t.Run(name, func(t *testing.T) {
			s := scheme()
			codec := json.NewSerializerWithOptions(json.DefaultMetaFactory, s, s, json.SerializerOptions{Yaml: true, Strict: true})
			if _, _, err := codec.Decode([]byte(doc), nil, nil); err == nil {
				t.Fatal("decoded")
			}
		})
	}
}

// deploy/kubernetes/keyway.yaml is the chart rendered with its defaults
// (release keyway, namespace keyway), for those who do not use Helm.
// KEYWAY_UPDATE_MANIFESTS=1 rewrites it.
func TestPlainManifestsAreCurrent(t *testing.T) {
	got := run(t, helm(t), "template", "keyway", chartDir, "--namespace", "keyway")
	header := []byte("# Generated from deploy/helm/keyway with its default values:\n#   helm template keyway deploy/helm/keyway --namespace keyway\n# Do not edit; change the chart and run\n#   make manifests\n")
	got = append(header, got...)
	path := "../kubernetes/keyway.yaml"
	if os.Getenv("KEYWAY_UPDATE_MANIFESTS") != "" {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run make manifests)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run make manifests", path)
	}
	decodeAll(t, want)
}

// The chart's copies of the alert rules are deploy/prometheus's.
func TestChartRulesAreDeployRules(t *testing.T) {
	for _, f := range []string{"rules.yml", "control-rules.yml"} {
		a, err := os.ReadFile(filepath.Join("../prometheus", f))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(chartDir, "files", f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s/files/%s differs from deploy/prometheus/%s: copy it (make manifests)", chartDir, f, f)
		}
	}
}
