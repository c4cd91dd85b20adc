{{/* The release's base name: "<release>-keyway", or the release when it already says keyway. */}}
{{- define "keyway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "keyway.control" -}}{{ include "keyway.fullname" . }}-control{{- end -}}
{{- define "keyway.proxy" -}}{{ include "keyway.fullname" . }}-proxy{{- end -}}
{{- define "keyway.etcd" -}}{{ include "keyway.fullname" . }}-etcd{{- end -}}

{{/* Labels every object carries (Kubernetes' recommended labels), with its component's selector labels, which name the instance. */}}
{{- define "keyway.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/part-of: keyway
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels per component; app.kubernetes.io/name=keyway-proxy is what deploy/prometheus/scrape.yml keeps. */}}
{{- define "keyway.control.selector" -}}
app.kubernetes.io/name: keyway-control
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "keyway.proxy.selector" -}}
app.kubernetes.io/name: keyway-proxy
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "keyway.etcd.selector" -}}
app.kubernetes.io/name: keyway-etcd
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "keyway.image" -}}
{{- $img := index .root.Values.image .which -}}
{{- $repo := $img.repository -}}
{{- if .root.Values.image.registry -}}{{- $repo = printf "%s/%s" .root.Values.image.registry $img.repository -}}{{- end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $img.tag) -}}
{{- end -}}
{{- end -}}

{{/* TLS on: certificates come from cert-manager or from Secrets. */}}
{{- define "keyway.tls" -}}
{{- if ne .Values.tls.source "none" -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding a certificate, by role: controlPlane, proxy, etcdServer, etcdPeer, etcdClient. */}}
{{- define "keyway.secret" -}}
{{- if eq .root.Values.tls.source "secrets" -}}
{{- $name := index .root.Values.tls.secrets .role -}}
{{- required (printf "tls.secrets.%s is required when tls.source is secrets" .role) $name -}}
{{- else -}}
{{- printf "%s-%s-tls" (include "keyway.fullname" .root) (.role | kebabcase) -}}
{{- end -}}
{{- end -}}

{{/* The etcd client endpoints keyway-control uses. */}}
{{- define "keyway.etcdEndpoints" -}}
{{- if eq .Values.etcd.mode "external" -}}
{{- required "etcd.external.endpoints is required when etcd.mode is external" (join "," .Values.etcd.external.endpoints) -}}
{{- else -}}
{{- $scheme := ternary "https" "http" (eq (include "keyway.tls" .) "true") -}}
{{- $eps := list -}}
{{- range $i := until (int .Values.etcd.bundled.replicas) -}}
{{- $eps = append $eps (printf "%s://%s-%d.%s-headless.%s.svc:%d" $scheme (include "keyway.etcd" $) $i (include "keyway.etcd" $) $.Release.Namespace (int $.Values.etcd.bundled.clientPort)) -}}
{{- end -}}
{{- join "," $eps -}}
{{- end -}}
{{- end -}}

{{/* Security context of every Keyway and etcd container. */}}
{{- define "keyway.containerSecurity" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "keyway.spread" -}}
{{- range .spread }}
- topologyKey: {{ .topologyKey }}
  maxSkew: {{ .maxSkew }}
  whenUnsatisfiable: {{ .whenUnsatisfiable }}
  labelSelector:
    matchLabels:
      {{- include $.selector $.root | nindent 6 }}
{{- end }}
{{- end -}}
