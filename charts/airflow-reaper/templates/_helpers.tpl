{{- define "airflow-reaper.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "airflow-reaper.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "airflow-reaper.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "airflow-reaper.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "airflow-reaper.selectorLabels" -}}
app.kubernetes.io/name: {{ include "airflow-reaper.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- /* Labels of the agent pods: no helm.sh/chart, so a chart bump alone restarts no agent. */}}
{{- define "airflow-reaper.podLabels" -}}
{{ include "airflow-reaper.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "airflow-reaper.labels" -}}
{{ include "airflow-reaper.podLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "airflow-reaper.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "airflow-reaper.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- /* registry/repository:tag, or registry/repository@digest when a digest pins it. */}}
{{- define "airflow-reaper.image" -}}
{{- $i := .Values.image }}
{{- $name := $i.repository }}
{{- if $i.registry }}
{{- $name = printf "%s/%s" $i.registry $i.repository }}
{{- end }}
{{- if $i.digest }}
{{- printf "%s@%s" $name $i.digest }}
{{- else }}
{{- printf "%s:%s" $name (default .Chart.AppVersion $i.tag) }}
{{- end }}
{{- end }}

{{- /* The PromQL label matchers of every alert, with a trailing comma when there are any. */}}
{{- define "airflow-reaper.alertSelector" -}}
{{- with .Values.metrics.prometheusRule.selector }}{{ . }},{{ end }}
{{- end }}

{{- /* Where the agent finds what the chart mounts. */}}
{{- define "airflow-reaper.configDir" -}}/etc/airflow-reaper{{- end }}
{{- define "airflow-reaper.authDir" -}}/etc/airflow-reaper/airflow-auth{{- end }}
{{- define "airflow-reaper.caDir" -}}/etc/airflow-reaper/airflow-ca{{- end }}

{{- /* The agent's config file: keys exactly as the contract's configuration file. */}}
{{- define "airflow-reaper.config" -}}
{{- $c := .Values.config }}
{{- $a := $c.airflow }}
{{- $auth := dict "type" $a.auth.type }}
{{- if has $a.auth.type (list "basic" "jwt") }}
{{- $_ := set $auth "username" $a.auth.username }}
{{- $_ := set $auth "passwordFile" (printf "%s/password" (include "airflow-reaper.authDir" .)) }}
{{- else if eq $a.auth.type "bearer" }}
{{- $_ := set $auth "tokenFile" (printf "%s/token" (include "airflow-reaper.authDir" .)) }}
{{- end }}
{{- $airflow := dict "baseUrl" $a.baseUrl "apiVersion" $a.apiVersion "auth" $auth }}
{{- $_ := set $airflow "insecureSkipVerify" $a.insecureSkipVerify }}
{{- $_ := set $airflow "timeout" $a.timeout }}
{{- $_ := set $airflow "pageSize" $a.pageSize }}
{{- if $a.caConfigMap }}
{{- $_ := set $airflow "caFile" (printf "%s/ca.crt" (include "airflow-reaper.caDir" .)) }}
{{- end }}
{{- $kube := pick $c.kubernetes "namespaces" "events" "taskTrees" "nodeReport" "treeRetention" }}
{{- /* The pod's own IP (POD_IP, from the downward API), not every interface. */}}
{{- $server := dict "bindAddress" (printf "${POD_IP}:%d" (int .Values.metrics.port)) }}
{{- $config := dict "mode" "kubernetes" "hostRoot" "/host" "airflow" $airflow "kill" $c.kill }}
{{- $_ := set $config "pollInterval" $c.pollInterval }}
{{- $_ := set $config "startupGrace" $c.startupGrace }}
{{- $_ := set $config "dryRun" $c.dryRun }}
{{- $_ := set $config "kubernetes" $kube }}
{{- $_ := set $config "server" $server }}
{{- toYaml $config }}
{{- end }}

{{- /* What a ServiceMonitor endpoint and a PodMonitor endpoint share; `.` is their values. */}}
{{- define "airflow-reaper.scrapeEndpoint" -}}
interval: {{ .interval }}
scrapeTimeout: {{ .scrapeTimeout }}
relabelings:
  # One agent per node: label its series with the node it runs on.
  - sourceLabels: [__meta_kubernetes_pod_node_name]
    targetLabel: node
    action: replace
  {{- with .relabelings }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with .metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
