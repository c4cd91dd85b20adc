package chart

import (
	"os"
	"strconv"
	"strings"
	"testing"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// workload is a pod template with the object that owns it.
type workload struct {
	kind, name string
	pod        corev1.PodTemplateSpec
}

type rendered struct {
	workloads []workload
	services  []*corev1.Service
	pdbs      []*policyv1.PodDisruptionBudget
	hpas      []*autoscalingv2.HorizontalPodAutoscaler
	netpols   []*networkingv1.NetworkPolicy
	monitors  []*monitoringv1.ServiceMonitor
	rules     []*monitoringv1.PrometheusRule
	certs     []*cmv1.Certificate
	issuers   []*cmv1.Issuer
}

func classify(objs []runtime.Object) rendered {
	var r rendered
	for _, o := range objs {
		switch x := o.(type) {
		case *appsv1.Deployment:
			r.workloads = append(r.workloads, workload{"Deployment", x.Name, x.Spec.Template})
		case *appsv1.StatefulSet:
			r.workloads = append(r.workloads, workload{"StatefulSet", x.Name, x.Spec.Template})
		case *corev1.Service:
			r.services = append(r.services, x)
		case *policyv1.PodDisruptionBudget:
			r.pdbs = append(r.pdbs, x)
		case *autoscalingv2.HorizontalPodAutoscaler:
			r.hpas = append(r.hpas, x)
		case *networkingv1.NetworkPolicy:
			r.netpols = append(r.netpols, x)
		case *monitoringv1.ServiceMonitor:
			r.monitors = append(r.monitors, x)
		case *monitoringv1.PrometheusRule:
			r.rules = append(r.rules, x)
		case *cmv1.Certificate:
			r.certs = append(r.certs, x)
		case *cmv1.Issuer:
			r.issuers = append(r.issuers, x)
		}
	}
	return r
}

// selected returns the workloads whose pods sel matches.
func (r rendered) selected(sel map[string]string) []workload {
	var out []workload
	for _, w := range r.workloads {
		if len(sel) > 0 && labels.SelectorFromSet(sel).Matches(labels.Set(w.pod.Labels)) {
			out = append(out, w)
		}
	}
	return out
}

func portNames(c corev1.Container) map[string]int32 {
	out := map[string]int32{}
	for _, p := range c.Ports {
		out[p.Name] = p.ContainerPort
	}
	return out
}

func checkPort(t *testing.T, where string, p intstr.IntOrString, c corev1.Container) {
	t.Helper()
	if p.Type == intstr.String {
		if _, ok := portNames(c)[p.StrVal]; !ok {
			t.Errorf("%s: port %q is not a port of container %s", where, p.StrVal, c.Name)
		}
		return
	}
	for _, cp := range c.Ports {
		if cp.ContainerPort == p.IntVal {
			return
		}
	}
	t.Errorf("%s: port %d is not a port of container %s", where, p.IntVal, c.Name)
}

// The objects agree with each other: selectors select pods, named ports
// exist, probes probe declared ports, volumes name Secrets something
// provides, grace periods cover the drain.
func TestRenderedObjectsAreConsistent(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			r := classify(decodeAll(t, render(t, v)))
			secrets := map[string]bool{}
			for _, c := range r.certs {
				secrets[c.Spec.SecretName] = true
			}
			for _, w := range r.workloads {
				where := w.kind + " " + w.name
				sc := w.pod.Spec.SecurityContext
				if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
					t.Errorf("%s: pods may run as root", where)
				}
				if w.pod.Spec.AutomountServiceAccountToken == nil || *w.pod.Spec.AutomountServiceAccountToken {
					t.Errorf("%s: mounts a service account token it has no use for", where)
				}
				for _, c := range w.pod.Spec.Containers {
					cs := c.SecurityContext
					if cs == nil || cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem || cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
						t.Errorf("%s/%s: container security context is not locked down", where, c.Name)
					}
					if c.Resources.Requests.Cpu().IsZero() || c.Resources.Limits.Memory().IsZero() {
						t.Errorf("%s/%s: no CPU request or memory limit", where, c.Name)
					}
					if c.ReadinessProbe == nil || c.LivenessProbe == nil {
						t.Errorf("%s/%s: readiness and liveness probes are required", where, c.Name)
					}
					for kind, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
						if p == nil {
							continue
						}
						switch {
						case p.HTTPGet != nil:
							checkPort(t, where+" "+kind+" probe", p.HTTPGet.Port, c)
						case p.GRPC != nil:
							checkPort(t, where+" "+kind+" probe", intstr.FromInt32(p.GRPC.Port), c)
						case p.TCPSocket != nil:
							checkPort(t, where+" "+kind+" probe", p.TCPSocket.Port, c)
						default:
							t.Errorf("%s: %s probe has no handler the image can run", where, kind)
						}
					}
					// Every declared port is one the container's args listen on.
					for name, port := range portNames(c) {
						if !argsMention(c.Args, ":"+strconv.Itoa(int(port))) {
							t.Errorf("%s/%s: port %s (%d) is in no listen flag: %v", where, c.Name, name, port, c.Args)
						}
					}
					if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
						sleep := c.Lifecycle.PreStop.Sleep
						if sleep == nil {
							t.Errorf("%s: preStop must be a sleep action (no shell in the image)", where)
						} else if drain := drainSeconds(c.Args); w.pod.Spec.TerminationGracePeriodSeconds == nil || *w.pod.Spec.TerminationGracePeriodSeconds <= sleep.Seconds+drain {
							t.Errorf("%s: grace period does not cover the preStop sleep (%ds) and the drain (%ds)", where, sleep.Seconds, drain)
						}
					}
				}
				for _, vol := range w.pod.Spec.Volumes {
					if vol.Secret != nil && !secrets[vol.Secret.SecretName] && !externalSecret(v, vol.Secret.SecretName) {
						t.Errorf("%s: volume %s mounts Secret %s that neither a Certificate nor the values provide", where, vol.Name, vol.Secret.SecretName)
					}
				}
			}
			for _, s := range r.services {
				ws := r.selected(s.Spec.Selector)
				if len(ws) == 0 {
					t.Errorf("Service %s selects no pods", s.Name)
				}
				for _, w := range ws {
					for _, p := range s.Spec.Ports {
						checkPort(t, "Service "+s.Name, p.TargetPort, w.pod.Spec.Containers[0])
					}
				}
			}
			for _, p := range r.pdbs {
				if len(r.selected(p.Spec.Selector.MatchLabels)) != 1 {
					t.Errorf("PodDisruptionBudget %s does not select exactly one workload", p.Name)
				}
			}
			for _, np := range r.netpols {
				ws := r.selected(np.Spec.PodSelector.MatchLabels)
				if len(ws) != 1 {
					t.Fatalf("NetworkPolicy %s does not select exactly one workload", np.Name)
				}
				for _, rule := range np.Spec.Ingress {
					for _, p := range rule.Ports {
						checkPort(t, "NetworkPolicy "+np.Name, *p.Port, ws[0].pod.Spec.Containers[0])
					}
				}
			}
			for _, h := range r.hpas {
				found := false
				for _, w := range r.workloads {
					found = found || (w.kind == h.Spec.ScaleTargetRef.Kind && w.name == h.Spec.ScaleTargetRef.Name)
				}
				if !found {
					t.Errorf("HPA %s scales %s %s, which is not rendered", h.Name, h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name)
				}
			}
			for _, m := range r.monitors {
				var svcs []*corev1.Service
				for _, s := range r.services {
					if labels.SelectorFromSet(m.Spec.Selector.MatchLabels).Matches(labels.Set(s.Labels)) {
						svcs = append(svcs, s)
					}
				}
				if len(svcs) != 1 {
					t.Fatalf("ServiceMonitor %s selects %d Services, want 1", m.Name, len(svcs))
				}
				for _, e := range m.Spec.Endpoints {
					ok := false
					for _, p := range svcs[0].Spec.Ports {
						ok = ok || p.Name == e.Port
					}
					if !ok {
						t.Errorf("ServiceMonitor %s scrapes port %q that Service %s lacks", m.Name, e.Port, svcs[0].Name)
					}
				}
			}
		})
	}
}

func argsMention(args []string, s string) bool {
	for _, a := range args {
		if strings.HasSuffix(a, s) || strings.Contains(a, s+",") || strings.Contains(a, s+"/") {
			return true
		}
	}
	return false
}

func drainSeconds(args []string) int64 {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--drain-timeout="); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(v, "s"), 10, 64)
			return n
		}
	}
	return 0
}

// externalSecret says whether the variant's values name a Secret the
// operator provides.
func externalSecret(v variant, name string) bool {
	if strings.Contains(strings.Join(v.args, " "), "="+name) {
		return true
	}
	for i, a := range v.args {
		if a == "-f" {
			b, err := os.ReadFile(v.args[i+1])
			if err == nil && strings.Contains(string(b), ": "+name+"\n") {
				return true
			}
		}
	}
	return false
}

// deploy/prometheus/scrape.yml's Kubernetes job keeps pods labelled
// app.kubernetes.io/name=keyway-proxy on a port named admin: the chart's
// proxy pods must be exactly that.
func TestScrapeConfigFindsTheProxies(t *testing.T) {
	b, err := os.ReadFile("../prometheus/scrape.yml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		ScrapeConfigs []struct {
			JobName        string `yaml:"job_name"`
			RelabelConfigs []struct {
				SourceLabels []string `yaml:"source_labels"`
				Regex        string   `yaml:"regex"`
				Action       string   `yaml:"action"`
			} `yaml:"relabel_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	keep := map[string]string{}
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName != "keyway-proxy-k8s" {
			continue
		}
		for _, rc := range sc.RelabelConfigs {
			if rc.Action == "keep" {
				keep[rc.SourceLabels[0]] = rc.Regex
			}
		}
	}
	label, port := keep["__meta_kubernetes_pod_label_app_kubernetes_io_name"], keep["__meta_kubernetes_pod_container_port_name"]
	if label == "" || port == "" {
		t.Fatalf("scrape.yml's keyway-proxy-k8s job keeps no pod label or port name: %v", keep)
	}
	r := classify(decodeAll(t, render(t, variants[0])))
	ws := r.selected(map[string]string{"app.kubernetes.io/name": label})
	if len(ws) != 1 || ws[0].name != "kw-keyway-proxy" {
		t.Fatalf("pods labelled app.kubernetes.io/name=%s: %v, want the proxy Deployment alone", label, ws)
	}
	if _, ok := portNames(ws[0].pod.Spec.Containers[0])[port]; !ok {
		t.Fatalf("the proxy container has no port named %s", port)
	}
}
