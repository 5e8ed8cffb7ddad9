{{- define "ct.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "ct.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "ct.serviceAccount" -}}
{{- if .Values.serviceAccount.create -}}{{ default (printf "%s-svc" (include "ct.fullname" .)) .Values.serviceAccount.name }}
{{- else -}}{{ default "default" .Values.serviceAccount.name }}{{- end -}}
{{- end -}}

{{- define "ct.tokenSecret" -}}
{{- default (printf "%s-token" (include "ct.fullname" .)) .Values.auth.existingSecret -}}
{{- end -}}

{{- define "ct.tlsSecret" -}}
{{- default (printf "%s-tls" (include "ct.fullname" .)) .Values.tls.secretName -}}
{{- end -}}

{{- define "ct.scheme" -}}{{ if .Values.tls.enabled }}HTTPS{{ else }}HTTP{{ end }}{{- end -}}

{{- define "ct.nodeTlsSecret" -}}
{{- default (printf "%s-node-tls" (include "ct.fullname" .)) .Values.tls.nodes.secretName -}}
{{- end -}}

{{- define "ct.nodeServerName" -}}
{{- default (printf "container-tracer-node.%s.svc" .Release.Namespace) .Values.tls.nodes.serverName -}}
{{- end -}}

{{- define "ct.nodeCASecret" -}}
{{- default (include "ct.nodeTlsSecret" .) .Values.tls.nodeCA.secretName -}}
{{- end -}}

{{- define "ct.nodeScheme" -}}{{ if .Values.tls.nodes.enabled }}HTTPS{{ else }}HTTP{{ end }}{{- end -}}
