{{/*
The controller's fixed name: the runbooks, alert rules and dashboard use Deployment
`workflow-execution` and label `app=workflow-execution`, so it is not configurable.
*/}}
{{- define "wfe.name" -}}
workflow-execution
{{- end -}}

{{/* Names of cluster-scoped objects: one install per release namespace. */}}
{{- define "wfe.clusterName" -}}
{{ .Release.Namespace }}-workflow-execution
{{- end -}}

{{/* Labels of every object. */}}
{{- define "wfe.labels" -}}
app: {{ include "wfe.name" . }}
app.kubernetes.io/name: {{ include "wfe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: kubernaut
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The Deployment's selector (immutable: never add labels here). */}}
{{- define "wfe.selectorLabels" -}}
app: {{ include "wfe.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The leader Lease name: the `lease_name` setting, default as in wfe.config. */}}
{{- define "wfe.leaseName" -}}
{{ .Values.config.lease_name | default "workflowexecution.kubernaut.ai" }}
{{- end -}}

{{/* "true" unless config.leader_election is false (the setting's default is true); the true
spellings are pydantic's. */}}
{{- define "wfe.leaderElection" -}}
{{- if hasKey .Values.config "leader_election" -}}
{{ ternary "true" "false" (has (toString .Values.config.leader_election | lower) (list "true" "1" "yes" "y" "on" "t")) }}
{{- else -}}
true
{{- end -}}
{{- end -}}

{{/* The namespace WorkflowExecutions are watched in; empty means all. */}}
{{- define "wfe.watchNamespace" -}}
{{ .Values.config.watch_namespace | default "" }}
{{- end -}}

{{/*
The settings file (`wfe run --config`): the chart-derived settings, then `config`. Settings the
chart derives from its own values may not be set in `config`, so RBAC, ports and namespaces
always agree with what the controller does.
*/}}
{{- define "wfe.settings" -}}
{{- $derived := dict
  "execution_namespace" .Values.namespaces.execution
  "lease_namespace" .Release.Namespace
  "runner_service_account" .Values.runner.serviceAccount.name
  "metrics_address" (printf ":%d" (int .Values.ports.metrics))
  "health_address" (printf ":%d" (int .Values.ports.health))
-}}
{{- range $key, $_ := $derived }}
{{- if hasKey $.Values.config $key }}
{{- fail (printf "config.%s is set by the chart; use its chart value instead (docs/configuration.md, Chart values)" $key) }}
{{- end }}
{{- range $.Values.extraEnv }}
{{- if eq .name (printf "WFE_%s" (upper $key)) }}
{{- fail (printf "extraEnv %s would override a setting the chart derives; use its chart value instead (docs/configuration.md, Chart values)" .name) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (gt (int .Values.replicas) 1) (eq (include "wfe.leaderElection" .) "false") }}
{{- fail "replicas > 1 needs config.leader_election: true (otherwise every replica reconciles)" }}
{{- end }}
{{- toYaml (merge (deepCopy $derived) .Values.config) }}
{{- end -}}

{{/* The controller image reference. */}}
{{- define "wfe.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}
