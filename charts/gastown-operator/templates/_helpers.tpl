{{/* The name of every object: the release name, e.g. gastown-operator. */}}
{{- define "gastown-operator.fullname" -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "gastown-operator.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gastown-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gastown-operator.serviceAccountName" -}}
{{- default (include "gastown-operator.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "gastown-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (default (printf "v%s" .Chart.AppVersion) .Values.image.tag) -}}
{{- end -}}

{{/* The runner image polecat pods copy gastown-polecat from. */}}
{{- define "gastown-operator.runnerImage" -}}
{{- printf "%s:%s" .Values.runnerImage.repository (default (printf "v%s" .Chart.AppVersion) .Values.runnerImage.tag) -}}
{{- end -}}
