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

{{- define "airflow-reaper.labels" -}}
{{ include "airflow-reaper.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "airflow-reaper.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "airflow-reaper.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "airflow-reaper.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
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
{{- $server := dict "bindAddress" (printf "0.0.0.0:%d" (int .Values.metrics.port)) }}
{{- $config := dict "mode" "kubernetes" "hostRoot" "/host" "airflow" $airflow "kill" $c.kill }}
{{- $_ := set $config "pollInterval" $c.pollInterval }}
{{- $_ := set $config "startupGrace" $c.startupGrace }}
{{- $_ := set $config "dryRun" $c.dryRun }}
{{- $_ := set $config "kubernetes" $kube }}
{{- $_ := set $config "server" $server }}
{{- toYaml $config }}
{{- end }}
