{{/*
Checks JSON Schema cannot express (relations between values). Included once,
from configmap-config.yaml, so a bad combination fails `helm template` /
`helm install` with a message naming the values.
*/}}
{{- define "kinex.validate" -}}
{{- if and .Values.certManager.enabled (not .Values.certManager.issuerRef.name) -}}
{{- fail "certManager.enabled=true needs certManager.issuerRef.name: the Issuer or ClusterIssuer that signs with the Kinex CA (set certManager.issuerRef.name, and certManager.issuerRef.kind if it is an Issuer)" -}}
{{- end -}}
{{- $g := .Values.gateway.autoscaling -}}
{{- if and $g.enabled (gt (int $g.minReplicas) (int $g.maxReplicas)) -}}
{{- fail (printf "gateway.autoscaling: minReplicas (%d) is greater than maxReplicas (%d)" (int $g.minReplicas) (int $g.maxReplicas)) -}}
{{- end -}}
{{- range $t := splitList " " (include "kinex.deployedTargets" $) -}}
{{- if eq (int (index $.Values $t).port) (int $.Values.metrics.port) -}}
{{- fail (printf "%s.port (%d) is the same as metrics.port: each pod needs both" $t (int (index $.Values $t).port)) -}}
{{- end -}}
{{- end -}}
{{- $retired := .Values.audit.keys.retiredPublicKeys -}}
{{- if and $retired.existingConfigMap (not $retired.keys) -}}
{{- fail "audit.keys.retiredPublicKeys: existingConfigMap is set but keys is empty: list the ConfigMap's keys to load" -}}
{{- end -}}
{{- if and $retired.keys (not $retired.existingConfigMap) -}}
{{- fail "audit.keys.retiredPublicKeys: keys are listed but existingConfigMap is empty: name the ConfigMap holding them" -}}
{{- end -}}
{{- if and .Values.policy.existingConfigMap .Values.policy.files -}}
{{- fail "policy: set either policy.files or policy.existingConfigMap, not both" -}}
{{- end -}}
{{- end -}}
