{{/*
Names are fixed, as in manifests/base: the serving certificate's DNS names,
the webhooks' clientConfig and the CA-injection annotation refer to them, and
the admission objects are cluster-wide (one ws-drain per cluster).
*/}}

{{/* Labels of every object's metadata. */}}
{{- define "ws-drain.labels" -}}
app.kubernetes.io/part-of: ws-drain
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of the webhook's pods: no version, so an upgrade that keeps the pod spec restarts nothing. */}}
{{- define "ws-drain.podLabels" -}}
app.kubernetes.io/name: ws-drain-webhook
app.kubernetes.io/part-of: ws-drain
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* repository@digest when a digest is set, else repository:tag (tag defaults to appVersion). */}}
{{- define "ws-drain.imageRef" -}}
{{- if .image.digest -}}
{{ .image.repository }}@{{ .image.digest }}
{{- else -}}
{{ .image.repository }}:{{ .image.tag | default .appVersion }}
{{- end -}}
{{- end }}

{{/* Excluded namespaces: the configured ones plus the release namespace. */}}
{{- define "ws-drain.excludedNamespaces" -}}
{{- concat .Values.webhook.excludeNamespaces (list .Release.Namespace) | uniq | toJson -}}
{{- end }}

{{/*
The namespace and object selectors of the mutating webhook, the validating
webhook and the guard's binding: the same everywhere, so the guard never denies
a pod the webhook was never asked about.
*/}}
{{- define "ws-drain.namespaceSelector" -}}
{{- include "ws-drain.namespaceSelectorWith" (list . "NotIn" "[disabled]") }}
{{- end }}

{{/*
The same with another ws-drain.io/inject expression: (list . OPERATOR VALUES).
The webhooks have one entry for namespaces labelled enabled (In [enabled])
and one for the rest (NotIn [disabled, enabled]); together they cover what
"ws-drain.namespaceSelector" (the guard's binding) covers.
*/}}
{{- define "ws-drain.namespaceSelectorWith" -}}
{{- $root := index . 0 -}}
{{- with $root.Values.webhook.namespaceSelector.matchLabels }}
matchLabels:
  {{- toYaml . | nindent 2 }}
{{- end }}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: {{ include "ws-drain.excludedNamespaces" $root }}
  - key: ws-drain.io/inject
    operator: {{ index . 1 }}
    values: {{ index . 2 }}
{{- with $root.Values.webhook.namespaceSelector.matchExpressions }}
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{- define "ws-drain.objectSelector" -}}
{{- with .Values.webhook.objectSelector.matchLabels }}
matchLabels:
  {{- toYaml . | nindent 2 }}
{{- end }}
matchExpressions:
  - key: ws-drain.io/inject
    operator: NotIn
    values: [disabled]
{{- with .Values.webhook.objectSelector.matchExpressions }}
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The webhooks' CA: injected by cert-manager, or given in tls.caBundle. */}}
{{- define "ws-drain.caInjection" -}}
{{- if .Values.certManager.enabled }}
annotations:
  cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/ws-drain-webhook
{{- end }}
{{- end }}

{{- define "ws-drain.caBundle" -}}
{{- if not .Values.certManager.enabled }}
caBundle: {{ required "tls.caBundle is required when certManager.enabled is false" .Values.tls.caBundle }}
{{- end }}
{{- end }}
