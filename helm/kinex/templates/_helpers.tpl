{{/*
Shared helpers of the kinex chart. Every workload is built from
"kinex.podTemplate" so the hardening (non-root, read-only root filesystem, no
capabilities, seccomp, no service account token) is written once.
*/}}

{{/* The five targets, in dependency order. */}}
{{- define "kinex.targets" -}}
gateway policy consent audit records
{{- end -}}

{{/* The targets this release runs: all but policy unless the gateway asks
the policy service for its decisions (gateway.policyDecisions: service). With
local nothing calls it: the gateway decides with its own copy of the policy
set and consent loads the set itself (services/kinex/targets.cc). Every
per-target object (workload, Services, NetworkPolicy, PDB, Certificate,
config) is rendered for these only. */}}
{{- define "kinex.deployedTargets" -}}
{{- $out := list -}}
{{- range $t := splitList " " (include "kinex.targets" .) -}}
{{- if or (ne $t "policy") (eq $.Values.gateway.policyDecisions "service") -}}
{{- $out = append $out $t -}}
{{- end -}}
{{- end -}}
{{- join " " $out -}}
{{- end -}}

{{/* The internal call graph, written once: the targets a target dials,
(dict "root" $ "target" t). It is what the code dials
(services/kinex/targets.cc, services/consent/consent_target.cc) and what the
service ACL admits (services/common/service_acl.cc, which
tests/helm/check_rendered.py compares the NetworkPolicies with). NetworkPolicy
egress comes from it, and ingress through "kinex.callers". */}}
{{- define "kinex.upstreams" -}}
{{- if eq .target "gateway" -}}
{{- if eq .root.Values.gateway.policyDecisions "service" }}policy {{ end -}}
consent audit records
{{- else if eq .target "consent" -}}
audit records
{{- else if eq .target "records" -}}
audit
{{- end -}}
{{- end -}}

{{/* The deployed targets that dial a target: (dict "root" $ "target" t). */}}
{{- define "kinex.callers" -}}
{{- $out := list -}}
{{- range $c := splitList " " (include "kinex.deployedTargets" .root) -}}
{{- if has $.target (splitList " " (include "kinex.upstreams" (dict "root" $.root "target" $c))) -}}
{{- $out = append $out $c -}}
{{- end -}}
{{- end -}}
{{- join " " $out -}}
{{- end -}}

{{/* Targets that load the policy set (/etc/kinex/policy): the policy
service decides; the gateway checks consent-file permissions with it and the
consent service decides who may record what. A policy change rolls all three
(policy when deployed). */}}
{{- define "kinex.policyTargets" -}}
gateway policy consent
{{- end -}}

{{/* Targets that keep state in PostgreSQL. */}}
{{- define "kinex.statefulTargets" -}}
consent audit records
{{- end -}}

{{- define "kinex.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kinex.fullname" -}}
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

{{- define "kinex.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object. */}}
{{- define "kinex.labels" -}}
helm.sh/chart: {{ include "kinex.chart" . }}
app.kubernetes.io/name: {{ include "kinex.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kinex
{{- end -}}

{{/* Selector labels of the release (all components). */}}
{{- define "kinex.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "kinex.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "target" "gateway"). */}}
{{- define "kinex.selectorLabels" -}}
{{ include "kinex.releaseSelectorLabels" .root }}
app.kubernetes.io/component: {{ .target }}
{{- end -}}

{{/* Name of one component's objects: (dict "root" $ "target" "gateway"). */}}
{{- define "kinex.componentName" -}}
{{- printf "%s-%s" (include "kinex.fullname" .root) .target -}}
{{- end -}}

{{/* The values block of a target. */}}
{{- define "kinex.targetValues" -}}
{{- toYaml (index .root.Values .target) -}}
{{- end -}}

{{- define "kinex.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "kinex.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kinex.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Secret holding a target's certificate: (dict "root" $ "target" t). */}}
{{- define "kinex.tlsSecretName" -}}
{{- if .root.Values.certManager.enabled -}}
{{- printf "%s-tls" (include "kinex.componentName" .) -}}
{{- else -}}
{{- index .root.Values.tls.existingSecrets .target -}}
{{- end -}}
{{- end -}}

{{/* In-cluster DNS name of a target's Service. */}}
{{- define "kinex.serviceHost" -}}
{{- printf "%s.%s.svc.%s" (include "kinex.componentName" .) .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{/* host:port an upstream target is dialled at. */}}
{{- define "kinex.upstream" -}}
{{- printf "%s:%d" (include "kinex.serviceHost" .) ((index .root.Values .target).port | int64) -}}
{{- end -}}

{{- define "kinex.trialPostgresName" -}}
{{- printf "%s-postgresql-trial" (include "kinex.fullname" .) -}}
{{- end -}}

{{/* libpq conninfo of a stateful target (no password: that comes from
PGPASSWORD or PGPASSFILE). */}}
{{- define "kinex.conninfo" -}}
{{- $pg := .root.Values.postgresql -}}
{{- if eq $pg.mode "trial" -}}
{{- printf "host=%s port=5432 dbname=kinex_%s user=kinex sslmode=disable connect_timeout=5 application_name=kinex-%s" (include "kinex.trialPostgresName" .root) .target .target -}}
{{- else -}}
{{- $e := $pg.external -}}
{{- $s := printf "host=%s port=%d dbname=%s user=%s sslmode=%s connect_timeout=%d application_name=kinex-%s" $e.host ($e.port | int64) (index $e.databases .target) (index $e.users .target) $e.sslmode ($e.connectTimeoutSeconds | int64) .target -}}
{{- if $e.sslRootCert.secretName -}}
{{- $s = printf "%s sslrootcert=/etc/kinex/pg/root.crt" $s -}}
{{- end -}}
{{- $s -}}
{{- end -}}
{{- end -}}

{{/* The kinex.config.v1.KinexConfig textproto of a target. */}}
{{- define "kinex.config" -}}
{{- $root := .root -}}
{{- $t := .target -}}
{{- $v := index $root.Values $t -}}
# kinex.config.v1.KinexConfig for target "{{ $t }}", rendered by the kinex
# Helm chart {{ include "kinex.chart" $root }}. Change it through the chart's
# values: an edit here is overwritten by the next upgrade.
target: {{ $t | quote }}
data_dir: "/var/lib/kinex"
trust_domain: {{ $root.Values.trustDomain | quote }}
tls {
  ca_file: "/etc/kinex/private/ca.pem"
  cert_file: "/etc/kinex/private/cert.pem"
  key_file: "/etc/kinex/private/key.pem"
{{- if $root.Values.tls.crl.existingConfigMap }}
  crl_dir: "/etc/kinex/crl"
{{- end }}
}
listen {
  {{ $t }}: {{ printf "%s:%d" $root.Values.listenHost ($v.port | int64) | quote }}
  metrics: {{ printf "%s:%d" $root.Values.listenHost ($root.Values.metrics.port | int64) | quote }}
}
upstream {
{{- range $u := list "policy" "consent" "audit" "records" }}
  {{ $u }}: {{ include "kinex.upstream" (dict "root" $root "target" $u) | quote }}
{{- end }}
}
{{- if has $t (splitList " " (include "kinex.policyTargets" $root)) }}
policy {
  policy_dir: "/etc/kinex/policy"
}
{{- end }}
{{- if eq $t "audit" }}
audit {
  storage {
    postgres_conninfo: {{ include "kinex.conninfo" . | quote }}
  }
  signing_key_file: "/etc/kinex/private/signing.key"
  pseudonym_key_file: "/etc/kinex/private/pseudonym.key"
  sign_interval_seconds: {{ $v.signIntervalSeconds | int64 }}
{{- range $k := $v.keys.retiredPublicKeys.keys }}
  retired_public_key_files: {{ printf "/etc/kinex/audit-retired-keys/%s" $k | quote }}
{{- end }}
}
{{- end }}
{{- if eq $t "consent" }}
consent {
  storage {
    postgres_conninfo: {{ include "kinex.conninfo" . | quote }}
  }
}
{{- end }}
{{- if eq $t "records" }}
records {
  storage {
    postgres_conninfo: {{ include "kinex.conninfo" . | quote }}
  }
  max_part_bytes: {{ $v.maxPartBytes | int64 }}
  view_cache_mib: {{ $v.viewCacheMib | int64 }}
}
{{- end }}
server {
  max_connection_age_seconds: {{ $root.Values.server.maxConnectionAgeSeconds | int64 }}
  max_connection_age_grace_seconds: {{ $root.Values.server.maxConnectionAgeGraceSeconds | int64 }}
  max_connection_idle_seconds: {{ $root.Values.server.maxConnectionIdleSeconds | int64 }}
  keepalive_time_seconds: {{ $root.Values.server.keepaliveTimeSeconds | int64 }}
  keepalive_timeout_seconds: {{ $root.Values.server.keepaliveTimeoutSeconds | int64 }}
}
{{- if $root.Values.pageTokens.existingSecret }}
page_token_key_file: "/etc/kinex/private/page-token.key"
{{- end }}
gateway {
  max_message_bytes: {{ $root.Values.maxMessageBytes | int64 }}
{{- if eq $t "gateway" }}
  rate_limit_per_agency: {{ $v.rateLimitPerAgency }}
  rate_limit_burst: {{ $v.rateLimitBurst | int64 }}
  break_glass_min_justification: {{ $v.breakGlassMinJustification | int64 }}
  facts_cache_entries: {{ $v.factsCacheEntries | int64 }}
  policy_decisions: {{ $v.policyDecisions | upper }}
{{- end }}
}
{{- end -}}

{{/* Container securityContext: the same for every container we run. */}}
{{- define "kinex.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The exec health probe command of a target. */}}
{{- define "kinex.probeCommand" -}}
- /usr/local/bin/kinexctl
- --address={{ .root.Values.probes.address }}:{{ (index .root.Values .target).port | int64 }}
- --ca=/etc/kinex/private/ca.pem
- --cert=/etc/kinex/private/cert.pem
- --key=/etc/kinex/private/key.pem
- health
{{- end -}}

{{/*
The pod template of a target: (dict "root" $ "target" t).
*/}}
{{- define "kinex.podTemplate" -}}
{{- $root := .root -}}
{{- $t := .target -}}
{{- $v := index $root.Values $t -}}
{{- $ctx := . -}}
{{- $stateful := has $t (splitList " " (include "kinex.statefulTargets" $root)) -}}
{{- $usesPolicy := has $t (splitList " " (include "kinex.policyTargets" $root)) -}}
{{- $pg := $root.Values.postgresql -}}
{{- $passfile := and $stateful (eq $pg.mode "external") (eq $pg.external.passwordMode "passfile") -}}
metadata:
  labels:
    {{- include "kinex.labels" $root | nindent 4 }}
    app.kubernetes.io/component: {{ $t }}
    {{- with $root.Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "kinex.config" $ctx | sha256sum }}
    {{- if $usesPolicy }}
    checksum/policy: {{ include "kinex.policyChecksum" $root }}
    {{- end }}
    {{- with $root.Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "kinex.serviceAccountName" $root }}
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: {{ $root.Values.terminationGracePeriodSeconds }}
  {{- with $root.Values.image.pullSecrets }}
  imagePullSecrets:
    {{- range . }}
    - name: {{ . }}
    {{- end }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: {{ $root.Values.podSecurity.runAsUser }}
    runAsGroup: {{ $root.Values.podSecurity.runAsGroup }}
    fsGroup: {{ $root.Values.podSecurity.fsGroup }}
    fsGroupChangePolicy: OnRootMismatch
    seccompProfile:
      type: RuntimeDefault
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if $root.Values.spreadAcrossNodes }}
  topologySpreadConstraints:
    - maxSkew: 1
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "kinex.selectorLabels" $ctx | nindent 10 }}
  {{- end }}
  initContainers:
    # kinex refuses private keys readable by group or others (0600 only), and
    # Secret volumes are group-readable (0440, group fsGroup) so that this
    # non-root container can read them. It installs them 0600 into a
    # memory-backed emptyDir that only the kinex user can read.
    - name: install-keys
      image: {{ include "kinex.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      command: ["/bin/sh", "-ec"]
      args:
        - |
          umask 077
          install -m 0600 /etc/kinex/src/tls/ca.pem /etc/kinex/private/ca.pem
          install -m 0600 /etc/kinex/src/tls/cert.pem /etc/kinex/private/cert.pem
          install -m 0600 /etc/kinex/src/tls/key.pem /etc/kinex/private/key.pem
          {{- if eq $t "audit" }}
          install -m 0600 /etc/kinex/src/audit/signing.key /etc/kinex/private/signing.key
          install -m 0600 /etc/kinex/src/audit/pseudonym.key /etc/kinex/private/pseudonym.key
          {{- end }}
          {{- if $root.Values.pageTokens.existingSecret }}
          install -m 0600 /etc/kinex/src/page-tokens/page-token.key /etc/kinex/private/page-token.key
          {{- end }}
          {{- if $passfile }}
          install -m 0600 /etc/kinex/src/pg/pgpass /etc/kinex/private/pgpass
          {{- end }}
      securityContext:
        {{- include "kinex.containerSecurityContext" $root.Values.podSecurity | nindent 8 }}
      resources:
        requests: {cpu: 10m, memory: 16Mi}
        limits: {cpu: 100m, memory: 32Mi}
      volumeMounts:
        - name: tls-src
          mountPath: /etc/kinex/src/tls
          readOnly: true
        {{- if eq $t "audit" }}
        - name: audit-keys-src
          mountPath: /etc/kinex/src/audit
          readOnly: true
        {{- end }}
        {{- if $root.Values.pageTokens.existingSecret }}
        - name: page-tokens-src
          mountPath: /etc/kinex/src/page-tokens
          readOnly: true
        {{- end }}
        {{- if $passfile }}
        - name: pgpass-src
          mountPath: /etc/kinex/src/pg
          readOnly: true
        {{- end }}
        - name: private
          mountPath: /etc/kinex/private
  containers:
    - name: kinex
      image: {{ include "kinex.image" $root }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      args:
        - --target={{ $t }}
        - --config=/etc/kinex/kinex.textproto
      {{- if $stateful }}
      env:
        {{- if eq $pg.mode "trial" }}
        - name: PGPASSWORD
          valueFrom:
            secretKeyRef:
              name: {{ include "kinex.trialPostgresName" $root }}
              key: password
        {{- else if $passfile }}
        - name: PGPASSFILE
          value: /etc/kinex/private/pgpass
        {{- else }}
        - name: PGPASSWORD
          valueFrom:
            secretKeyRef:
              name: {{ $pg.external.existingSecret }}
              key: {{ index $pg.external.passwordKeys $t }}
        {{- end }}
      {{- end }}
      ports:
        - name: grpc
          containerPort: {{ $v.port }}
          protocol: TCP
        {{- if has $t $root.Values.metrics.targets }}
        - name: metrics
          containerPort: {{ $root.Values.metrics.port }}
          protocol: TCP
        {{- end }}
      # Native gRPC probes cannot do (m)TLS; see values.yaml "probes".
      startupProbe:
        exec:
          command:
            {{- include "kinex.probeCommand" $ctx | nindent 12 }}
        periodSeconds: {{ $root.Values.probes.startup.periodSeconds }}
        timeoutSeconds: {{ $root.Values.probes.startup.timeoutSeconds }}
        failureThreshold: {{ if eq $t "audit" }}{{ $v.startupFailureThreshold }}{{ else }}{{ $root.Values.probes.startup.failureThreshold }}{{ end }}
      readinessProbe:
        exec:
          command:
            {{- include "kinex.probeCommand" $ctx | nindent 12 }}
        periodSeconds: {{ $root.Values.probes.readiness.periodSeconds }}
        timeoutSeconds: {{ $root.Values.probes.readiness.timeoutSeconds }}
        failureThreshold: {{ $root.Values.probes.readiness.failureThreshold }}
      livenessProbe:
        exec:
          command:
            {{- include "kinex.probeCommand" $ctx | nindent 12 }}
        periodSeconds: {{ $root.Values.probes.liveness.periodSeconds }}
        timeoutSeconds: {{ $root.Values.probes.liveness.timeoutSeconds }}
        failureThreshold: {{ $root.Values.probes.liveness.failureThreshold }}
      lifecycle:
        preStop:
          exec:
            command: ["/bin/sleep", "{{ $root.Values.preStopSleepSeconds }}"]
      securityContext:
        {{- include "kinex.containerSecurityContext" $root.Values.podSecurity | nindent 8 }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/kinex/kinex.textproto
          subPath: kinex.textproto
          readOnly: true
        - name: private
          mountPath: /etc/kinex/private
          readOnly: true
        {{- if $usesPolicy }}
        - name: policy
          mountPath: /etc/kinex/policy
          readOnly: true
        {{- end }}
        {{- if $root.Values.tls.crl.existingConfigMap }}
        - name: crl
          mountPath: /etc/kinex/crl
          readOnly: true
        {{- end }}
        {{- if eq $t "audit" }}
        {{- if $v.keys.retiredPublicKeys.existingConfigMap }}
        # Public keys only: read in place, no 0600 copy needed.
        - name: audit-retired-keys
          mountPath: /etc/kinex/audit-retired-keys
          readOnly: true
        {{- end }}
        {{- end }}
        {{- if and $stateful (eq $pg.mode "external") $pg.external.sslRootCert.secretName }}
        - name: pg-root-cert
          mountPath: /etc/kinex/pg
          readOnly: true
        {{- end }}
        - name: data
          mountPath: /var/lib/kinex
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: {{ include "kinex.componentName" $ctx }}-config
    - name: tls-src
      secret:
        secretName: {{ include "kinex.tlsSecretName" $ctx }}
        defaultMode: 0440
        items:
          - {key: {{ $root.Values.tls.caKey | quote }}, path: ca.pem}
          - {key: {{ $root.Values.tls.certKey | quote }}, path: cert.pem}
          - {key: {{ $root.Values.tls.keyKey | quote }}, path: key.pem}
    {{- if eq $t "audit" }}
    - name: audit-keys-src
      secret:
        secretName: {{ $v.keys.existingSecret }}
        defaultMode: 0440
        items:
          - {key: {{ $v.keys.signingKeyKey | quote }}, path: signing.key}
          - {key: {{ $v.keys.pseudonymKeyKey | quote }}, path: pseudonym.key}
    {{- end }}
    {{- if $root.Values.pageTokens.existingSecret }}
    - name: page-tokens-src
      secret:
        secretName: {{ $root.Values.pageTokens.existingSecret }}
        defaultMode: 0440
        items:
          - {key: {{ $root.Values.pageTokens.key | quote }}, path: page-token.key}
    {{- end }}
    {{- if $passfile }}
    - name: pgpass-src
      secret:
        secretName: {{ $pg.external.existingSecret }}
        defaultMode: 0440
        items:
          - {key: {{ index $pg.external.passwordKeys $t | quote }}, path: pgpass}
    {{- end }}
    - name: private
      emptyDir:
        medium: Memory
        sizeLimit: 1Mi
    {{- if $usesPolicy }}
    - name: policy
      configMap:
        name: {{ include "kinex.policyConfigMapName" $root }}
    {{- end }}
    {{- if $root.Values.tls.crl.existingConfigMap }}
    - name: crl
      configMap:
        name: {{ $root.Values.tls.crl.existingConfigMap }}
    {{- end }}
    {{- if eq $t "audit" }}
    {{- with $v.keys.retiredPublicKeys.existingConfigMap }}
    - name: audit-retired-keys
      configMap:
        name: {{ . }}
        items:
          {{- range $k := $v.keys.retiredPublicKeys.keys }}
          - {key: {{ $k | quote }}, path: {{ $k | quote }}}
          {{- end }}
    {{- end }}
    {{- end }}
    {{- if and $stateful (eq $pg.mode "external") $pg.external.sslRootCert.secretName }}
    - name: pg-root-cert
      secret:
        secretName: {{ $pg.external.sslRootCert.secretName }}
        defaultMode: 0444
        items:
          - {key: {{ $pg.external.sslRootCert.key | quote }}, path: root.crt}
    {{- end }}
    - name: data
      emptyDir:
        sizeLimit: 64Mi
    - name: tmp
      emptyDir:
        medium: Memory
        sizeLimit: 16Mi
{{- end -}}

{{/* Name of the ConfigMap the policy target loads. */}}
{{- define "kinex.policyConfigMapName" -}}
{{- if .Values.policy.existingConfigMap -}}
{{- .Values.policy.existingConfigMap -}}
{{- else -}}
{{- printf "%s-policy-set" (include "kinex.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/* The policy files as a map (file name -> content). */}}
{{- define "kinex.policyFiles" -}}
{{- if .Values.policy.files -}}
{{- toYaml .Values.policy.files -}}
{{- else -}}
{{- $files := dict -}}
{{- range $path, $_ := .Files.Glob "files/policy/*.textproto" -}}
{{- $_ := set $files (base $path) ($.Files.Get $path) -}}
{{- end -}}
{{- toYaml $files -}}
{{- end -}}
{{- end -}}

{{- define "kinex.policyChecksum" -}}
{{- printf "%s|%s|%s" (include "kinex.policyFiles" .) .Values.policy.existingConfigMap .Values.policy.rolloutToken | sha256sum -}}
{{- end -}}
