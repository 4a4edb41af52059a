#!/usr/bin/env bash
# Chart checks for helm/kinex (ctest: helm_chart_test).
#
#   tests/helm/chart_test.sh HELM REPO_ROOT [KINEX KINEXCTL]
#
# 1. values.schema.json matches its generator (helm/gen_values_schema.py);
#    helm lint (strict) with the default values and with
#    tests/helm/values-production.yaml;
# 2. helm template with default, production and trial values (the gateway
#    decides locally) and with gateway.policyDecisions=service, and
#    check_rendered.py on each: every container non-root with a read-only root
#    filesystem, no privilege escalation, all capabilities dropped, seccomp
#    RuntimeDefault; liveness and readiness probes on every Deployment and
#    StatefulSet (exec probes: native gRPC probes cannot do mTLS); the policy
#    pods and their objects only with service (with local only the policy set
#    ConfigMap renders for policy); a NetworkPolicy per deployed target that
#    follows the service ACL (services/common/service_acl.cc): an internal
#    target's gRPC port admits exactly its callers' pods, and each target's
#    egress reaches exactly the targets it calls, on their gRPC ports; no key
#    material inline; the policy ConfigMap equal to policy/*.textproto; every
#    retired audit public key the config names mounted from its ConfigMap
#    (production values retire one); Certificates and ServiceMonitor in
#    production;
# 3. the checker itself catches broken output (mutated renders must fail);
# 3b. the alerts and Grafana dashboard (production values enable both):
#    check_monitoring.py checks that every kinex_* metric they use is one the
#    C++ sources under services/ register (a renamed metric fails), that the
#    reasons and codes they match exist, that every expression parses as
#    PromQL, the rules' structure and runbooks, and the dashboard JSON and its
#    panels; its self-test proves those checks fail on broken variants; and
#    the metrics.prometheusRule / grafanaDashboard values reach the render;
# 4. values.schema.json and the chart's own checks reject bad values;
# 4c. gateway.policyDecisions reaches the gateway's config (step 2 checks the
#    policy pods and the gateway's egress to them in both renders), and
#    metrics.targets listing policy renders nothing for it under local;
# 5. the policy checksum rolls the pods that load the set (gateway, consent,
#    policy) when, and only when, the policy set changes;
# 6. with KINEX and KINEXCTL given: pod_sim.py runs pods as local processes
#    (init container script, rendered config, exec probes) against a
#    throwaway dev PKI: the gateway as rendered by default, and the gateway
#    and policy pods as rendered with gateway.policyDecisions=service;
# 7. tools/trial-secrets.sh, run on a throwaway dev PKI, makes every Secret
#    (and key) the trial release's workloads mount, with local or service
#    decisions, with certificates that chain to the PKI's CA and carry the
#    Services' names.
# Also: every target's config carries the server { } connection lifetime
# (max connection age, so clients rebalance) from the chart's server.* values.
# Exits non-zero naming the first failed step. Needs python3 with PyYAML
# (Debian: python3-yaml).
set -euo pipefail

if [ $# -ne 2 ] && [ $# -ne 4 ]; then
  echo "usage: $0 HELM REPO_ROOT [KINEX KINEXCTL]" >&2
  exit 2
fi
helm_bin=$1
repo=$(cd "$2" && pwd)
kinex_bin=${3:-}
kinexctl_bin=${4:-}
chart="$repo/helm/kinex"
here="$repo/tests/helm"

fail() { echo "chart_test: FAIL: $*" >&2; exit 1; }
step() { echo "chart_test: $*"; }

[ -x "$helm_bin" ] || fail "no helm at $helm_bin (run tools/install-helm.sh)"
"$helm_bin" version --short 2>/dev/null | grep -q '^v3\.' || fail "$helm_bin is not helm v3"

python=""
for p in /usr/bin/python3 python3; do
  if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import yaml' 2>/dev/null; then
    python=$p
    break
  fi
done
[ -n "$python" ] || fail "no python3 with PyYAML (install the Debian package python3-yaml)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# helm prints a notice for the files/policy symlink (it points at the repo's
# policy/ directory); drop exactly that line, keep every other message.
quiet_symlink() { grep -v 'found symbolic link in path: .*/files/policy resolves to' || true; }

# --- 1. lint ----------------------------------------------------------------
step "values.schema.json is up to date with helm/gen_values_schema.py"
"$python" "$repo/helm/gen_values_schema.py" --check || fail "values.schema.json is stale"

step "helm lint (default values)"
"$helm_bin" lint --strict "$chart" >"$work/lint.out" 2>&1 || {
  quiet_symlink <"$work/lint.out" >&2; fail "helm lint with default values"; }
step "helm lint (production values)"
"$helm_bin" lint --strict "$chart" -f "$here/values-production.yaml" >"$work/lint.out" 2>&1 || {
  quiet_symlink <"$work/lint.out" >&2; fail "helm lint with values-production.yaml"; }

# --- 2. template and check --------------------------------------------------
render() {  # render OUT [helm template args...]
  local out=$1
  shift
  if ! "$helm_bin" template kx "$chart" --namespace kinex "$@" >"$out" 2>"$work/err"; then
    quiet_symlink <"$work/err" >&2
    return 1
  fi
}
render "$work/default.yaml" || fail "helm template with default values"
render "$work/production.yaml" -f "$here/values-production.yaml" ||
  fail "helm template with values-production.yaml"
render "$work/trial.yaml" --set postgresql.mode=trial ||
  fail "helm template with postgresql.mode=trial"
render "$work/service.yaml" --set gateway.policyDecisions=service ||
  fail "helm template with gateway.policyDecisions=service"
for profile in default production trial service; do
  step "checking rendered YAML ($profile)"
  "$python" "$here/check_rendered.py" "$work/$profile.yaml" "$profile" "$repo" ||
    fail "rendered YAML ($profile values) breaks the rules above"
done

# --- 3. the checker must catch broken output --------------------------------
step "checking that the checker rejects broken renders"
"$python" "$here/check_rendered.py" "$work/default.yaml" self-test "$repo" ||
  fail "check_rendered.py accepted a broken render"

# --- 3b. alerts and dashboard -------------------------------------------------
step "checking the alert rules and the Grafana dashboard (production)"
"$python" "$here/check_monitoring.py" "$work/production.yaml" "$repo" ||
  fail "alert rules or Grafana dashboard use metrics Kinex does not export, or are malformed"
"$python" "$here/check_monitoring.py" "$work/production.yaml" "$repo" self-test ||
  fail "check_monitoring.py accepted a broken alert or dashboard"
step "checking that metrics.prometheusRule and metrics.grafanaDashboard values are rendered"
render "$work/monitoring.yaml" --set metrics.prometheusRule.enabled=true \
  --set metrics.prometheusRule.signedHeadMaxAgeSeconds=900 \
  --set metrics.prometheusRule.certificateExpiryWarningDays=21 \
  --set metrics.prometheusRule.errorRatio=0.2,metrics.prometheusRule.latencyP99Seconds=2.5 \
  --set metrics.prometheusRule.storeFailuresPer15m=0 \
  --set metrics.prometheusRule.auditNotGrowingEnabled=false \
  --set 'metrics.targets={gateway,audit}' \
  --set metrics.grafanaDashboard.enabled=true,metrics.grafanaDashboard.namespace=monitoring \
  --set metrics.grafanaDashboard.label=dashboards,metrics.grafanaDashboard.labelValue=kinex ||
  fail "helm template with metrics.prometheusRule and metrics.grafanaDashboard values"
"$python" - "$work/monitoring.yaml" <<'PY' || fail "monitoring values are not rendered"
import json, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
rules = {r["alert"]: r["expr"] for d in docs if d["kind"] == "PrometheusRule"
         for g in d["spec"]["groups"] for r in g["rules"]}
want = {"KinexAuditSignedHeadStale": "> 900", "KinexCertificateExpiring": "< 1814400",
        "KinexHighErrorRate": ") > 0.2", "KinexHighLatency": "> 2.5",
        "KinexStoreFailures": "> 0", "KinexTargetDown": 'job=~"kx-kinex-(gateway|audit)-metrics"'}
for alert, text in want.items():
    if text not in rules.get(alert, ""):
        raise SystemExit(f"{alert}: {text!r} not in {rules.get(alert)!r}")
if "KinexAuditLogNotGrowing" in rules:
    raise SystemExit("KinexAuditLogNotGrowing rendered with auditNotGrowingEnabled=false")
if any('namespace="kinex"' not in e for e in rules.values()):
    raise SystemExit("an alert does not select the release's namespace")
cms = [d for d in docs if d["kind"] == "ConfigMap" and "kinex.json" in (d.get("data") or {})]
if len(cms) != 1 or cms[0]["metadata"]["namespace"] != "monitoring" or \
        cms[0]["metadata"]["labels"].get("dashboards") != "kinex":
    raise SystemExit(f"dashboard ConfigMap not in monitoring with dashboards=kinex: "
                     f"{[c['metadata'] for c in cms]}")
json.loads(cms[0]["data"]["kinex.json"])
metric_services = sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Service"
                         and d["metadata"]["name"].endswith("-metrics"))
if metric_services != ["kx-kinex-audit-metrics", "kx-kinex-gateway-metrics"]:
    raise SystemExit(f"metrics Services {metric_services} for metrics.targets={{gateway,audit}}")
PY

# --- 4. bad values must fail ------------------------------------------------
expect_render_fails() {  # expect_render_fails EXPECTED_MESSAGE [helm args...]
  local want=$1
  shift
  if "$helm_bin" template kx "$chart" "$@" >/dev/null 2>"$work/err"; then
    fail "helm template accepted bad values: $*"
  fi
  grep -q -- "$want" "$work/err" ||
    fail "helm template rejected $* but not with \"$want\": $(quiet_symlink <"$work/err")"
}
step "checking that bad values are rejected"
expect_render_fails "gateway.replicas: Invalid type. Expected: integer" --set gateway.replicas=abc
expect_render_fails "Additional property gatewey is not allowed" --set gatewey.replicas=2
expect_render_fails "Additional property frontend is not allowed" --set frontend.port=7448
expect_render_fails 'metrics.targets.1 must be one of the following: "gateway"' \
  --set 'metrics.targets={gateway,frontend}'
expect_render_fails "tls.existingSecrets.audit: String length must be greater than or equal to 1" \
  --set tls.existingSecrets.audit=
# cert-manager without an issuer: the chart's own check names the value to set
# (a schema if/then rule would print only "Must validate \"then\"...").
expect_render_fails "certManager.enabled=true needs certManager.issuerRef.name: the Issuer or ClusterIssuer that signs with the Kinex CA" \
  --set certManager.enabled=true
if grep -q 'Must validate "then"' "$work/err"; then
  fail "certManager.enabled without an issuer still fails with the schema's if/then message"
fi
expect_render_fails "metrics.prometheusRule.errorRatio: Must be less than or equal to 1" \
  --set metrics.prometheusRule.errorRatio=2
expect_render_fails "metrics.grafanaDashboard.label: Does not match pattern" \
  --set 'metrics.grafanaDashboard.label=grafana dashboard'
expect_render_fails "server.maxConnectionAgeSeconds: Must be greater than or equal to 1" \
  --set server.maxConnectionAgeSeconds=0
expect_render_fails "server.maxConnectionAgeGraceSeconds: Invalid type. Expected: integer" \
  --set server.maxConnectionAgeGraceSeconds=soon
expect_render_fails "postgresql.external.existingSecret: String length" \
  --set postgresql.external.existingSecret=
expect_render_fails "audit.keys.existingSecret: String length" --set audit.keys.existingSecret=
expect_render_fails "audit.replicas: Must be less than or equal to 1" --set audit.replicas=2
expect_render_fails "postgresql.mode must be one of" --set postgresql.mode=sqlite
expect_render_fails "podSecurity.runAsUser: Must be greater than or equal to 1" \
  --set podSecurity.runAsUser=0
expect_render_fails "postgresql.external.host: Does not match pattern" \
  --set 'postgresql.external.host=db password=x'
expect_render_fails "minReplicas (5) is greater than maxReplicas (3)" \
  --set gateway.autoscaling.minReplicas=5,gateway.autoscaling.maxReplicas=3
expect_render_fails "audit.keys.retiredPublicKeys: existingConfigMap is set but keys is empty" \
  --set audit.keys.retiredPublicKeys.existingConfigMap=kinex-audit-retired-keys
expect_render_fails "audit.keys.retiredPublicKeys: keys are listed but existingConfigMap is empty" \
  --set 'audit.keys.retiredPublicKeys.keys={signing-2025.pub.pem}'
printf 'rules {}\n' >"$work/not-policy.txt"
expect_render_fails "Does not match pattern" --set-file "policy.files.rules\.txt=$work/not-policy.txt"
expect_render_fails "tls.existingSecrets.policy: String length must be greater than or equal to 1" \
  --set tls.existingSecrets.policy= --set gateway.policyDecisions=service
# ...and the good counterparts pass: certManager makes the Secret names optional,
# and without policy pods (local decisions) no policy Secret is needed.
"$helm_bin" template kx "$chart" --set certManager.enabled=true \
  --set certManager.issuerRef.name=kinex-ca --set tls.existingSecrets.audit= >/dev/null 2>&1 ||
  fail "certManager.enabled with an issuer should not need tls.existingSecrets"
"$helm_bin" template kx "$chart" --set tls.existingSecrets.policy= >/dev/null 2>&1 ||
  fail "gateway.policyDecisions=local renders no policy pods but still needs tls.existingSecrets.policy"

# --- 4b. connection lifetime values reach every target's config -------------
step "checking that server.* values are rendered into every target's config"
render "$work/server.yaml" --set server.maxConnectionAgeSeconds=120 \
  --set server.maxConnectionAgeGraceSeconds=15,server.maxConnectionIdleSeconds=90 \
  --set server.keepaliveTimeSeconds=45,server.keepaliveTimeoutSeconds=7 ||
  fail "helm template with server.* values"
"$python" - "$work/server.yaml" <<'PY' || fail "server.* values are not rendered into every config"
import re, sys, yaml
want = {"max_connection_age_seconds": "120", "max_connection_age_grace_seconds": "15",
        "max_connection_idle_seconds": "90", "keepalive_time_seconds": "45",
        "keepalive_timeout_seconds": "7"}
seen = set()
for d in yaml.safe_load_all(open(sys.argv[1])):
    if not d or d["kind"] != "ConfigMap" or "kinex.textproto" not in (d.get("data") or {}):
        continue
    t = d["metadata"]["labels"]["app.kubernetes.io/component"]
    m = re.search(r"^server \{\n(.*?)^\}", d["data"]["kinex.textproto"], re.S | re.M)
    got = dict(re.findall(r"^\s*([a-z_]+): (\S+)$", m.group(1), re.M)) if m else {}
    if got != want:
        raise SystemExit(f"{t}: server block {got}, want {want}")
    seen.add(t)
# Default values: the gateway decides locally, so there is no policy pod.
if seen != {"gateway", "consent", "audit", "records"}:
    raise SystemExit(f"configs found for {sorted(seen)}, want gateway, consent, audit, records")
PY

# --- 4c. where the gateway's policy decisions are made ---------------------
step "checking gateway.policyDecisions reaches the gateway's config, and only known values"
gateway_decisions() {  # gateway_decisions RENDERED -> the gateway config's policy_decisions
  "$python" - "$1" <<'PY'
import re, sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if (d and d["kind"] == "ConfigMap" and "kinex.textproto" in (d.get("data") or {})
            and d["metadata"]["labels"]["app.kubernetes.io/component"] == "gateway"):
        print(" ".join(re.findall(r"^\s*policy_decisions: (\S+)$", d["data"]["kinex.textproto"], re.M)))
PY
}
[ "$(gateway_decisions "$work/default.yaml")" = "LOCAL" ] ||
  fail "default gateway config: policy_decisions '$(gateway_decisions "$work/default.yaml")', want LOCAL"
[ "$(gateway_decisions "$work/service.yaml")" = "SERVICE" ] ||
  fail "gateway.policyDecisions=service rendered '$(gateway_decisions "$work/service.yaml")', want SERVICE"
# Whether the policy pods render, and whether the gateway may reach them, is
# check_rendered.py's (step 2, the default and service profiles).
# metrics.targets may list policy while it is not deployed: nothing renders for it.
render "$work/metrics-policy.yaml" --set 'metrics.targets={gateway,policy}' \
  --set metrics.prometheusRule.enabled=true || fail "helm template with metrics.targets listing policy"
"$python" - "$work/metrics-policy.yaml" <<'PY' || fail "metrics.targets listing policy renders for the undeployed policy target"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
comp = lambda d: (d["metadata"].get("labels") or {}).get("app.kubernetes.io/component")
policy = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs if comp(d) == "policy")
if policy != ["ConfigMap/kx-kinex-policy-set"]:
    raise SystemExit(f"objects for policy: {policy}, want only the policy set ConfigMap")
metrics = sorted(d["metadata"]["name"] for d in docs if d["kind"] == "Service"
                 and d["metadata"]["name"].endswith("-metrics"))
if metrics != ["kx-kinex-gateway-metrics"]:
    raise SystemExit(f"metrics Services {metrics}, want only the gateway's")
down = [r["expr"] for d in docs if d["kind"] == "PrometheusRule" for g in d["spec"]["groups"]
        for r in g["rules"] if r["alert"] == "KinexTargetDown"]
if len(down) != 1 or 'job=~"kx-kinex-(gateway)-metrics"' not in down[0]:
    raise SystemExit(f"KinexTargetDown: {down}, want the gateway's metrics job only")
PY
expect_render_fails 'gateway.policyDecisions must be one of the following: "local", "service"' \
  --set gateway.policyDecisions=remote

# --- 5. policy checksum -----------------------------------------------------
step "checking that a policy change rolls the pods that load the set"
checksums() {  # checksums RENDERED -> "target=checksum/config,checksum/policy" lines
  "$python" - "$1" <<'PY'
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] in ("Deployment", "StatefulSet"):
        a = d["spec"]["template"]["metadata"].get("annotations", {})
        print(d["metadata"]["labels"]["app.kubernetes.io/component"],
              a.get("checksum/config"), a.get("checksum/policy", "-"))
PY
}
# With service decisions, so that the policy pods render too.
cp "$repo/policy/roles.textproto" "$work/roles.textproto"
render "$work/p1.yaml" --set gateway.policyDecisions=service \
  --set-file "policy.files.roles\.textproto=$work/roles.textproto" || fail "helm template with policy.files"
printf '\n# edited\n' >>"$work/roles.textproto"
render "$work/p2.yaml" --set gateway.policyDecisions=service \
  --set-file "policy.files.roles\.textproto=$work/roles.textproto" ||
  fail "helm template with an edited policy file"
checksums "$work/service.yaml" >"$work/c0"
checksums "$work/p1.yaml" >"$work/c1"
checksums "$work/p2.yaml" >"$work/c2"
# The policy set is loaded by gateway, policy and consent: those roll on a
# change; audit and records (which never read it) must not.
col() { awk -v t="$2" '$1==t{print $3}' "$1"; }
for t in gateway policy consent; do
  [ "$(col "$work/c1" $t)" != "-" ] || fail "$t loads the policy set but has no checksum/policy"
  [ "$(col "$work/c1" $t)" != "$(col "$work/c2" $t)" ] ||
    fail "editing a policy file did not change $t's checksum/policy"
  [ "$(col "$work/c0" $t)" != "$(col "$work/c1" $t)" ] ||
    fail "replacing the policy set did not change $t's checksum/policy"
done
unaffected() { awk '$1=="audit"||$1=="records"' "$1"; }
[ "$(unaffected "$work/c1")" = "$(unaffected "$work/c2")" ] ||
  fail "a policy change rolled audit or records, which do not read it"
"$python" - "$work/p2.yaml" <<'PY' || fail "policy.files did not replace the bundled policy set"
import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-policy-set"):
        assert sorted(d["data"]) == ["roles.textproto"], sorted(d["data"])
        assert d["data"]["roles.textproto"].endswith("# edited\n")
        break
else:
    raise SystemExit("no policy-set ConfigMap")
PY
render "$work/p3.yaml" --set policy.existingConfigMap=my-policies || fail "helm template with policy.existingConfigMap"
grep -q 'name: my-policies' "$work/p3.yaml" || fail "policy.existingConfigMap is not mounted"
! grep -q -- '-policy-set$' "$work/p3.yaml" || fail "policy-set ConfigMap rendered despite policy.existingConfigMap"

# --- 6. run the pods' runtime contract with the real binaries ---------------
if [ -n "$kinex_bin" ]; then
  [ -x "$kinex_bin" ] || fail "no kinex binary at $kinex_bin"
  [ -x "$kinexctl_bin" ] || fail "no kinexctl binary at $kinexctl_bin"
  step "running the gateway pod (local decisions) and the gateway and policy pods (service decisions) locally (pod_sim.py)"
  bash "$repo/certs/make-dev-pki.sh" "$work/pki" >/dev/null || fail "certs/make-dev-pki.sh"
  # Renders `name` with free ports (and the extra helm arguments) and runs
  # pod `target` of it. The ports come from the ephemeral range, so another
  # process (a test beside this one, a client socket) can take one between
  # the pick and kinex's bind: that failure, and only that, is retried with
  # new ports, twice at most.
  sim_pod() {
    local name=$1 target=$2 attempt out
    shift 2
    for attempt in 1 2 3; do
      read -r p1 p2 p3 p4 p5 p6 < <("$python" -c '
import socket
socks = [socket.socket() for _ in range(6)]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))')
      render "$work/$name.yaml" --set gateway.port="$p1",policy.port="$p2",consent.port="$p3" \
        --set audit.port="$p4",records.port="$p5",metrics.port="$p6" \
        --set pageTokens.existingSecret=kinex-page-tokens "$@" || fail "helm template for pod_sim ($name)"
      if out=$("$python" "$here/pod_sim.py" "$work/$name.yaml" "$target" "$work/pki" "$kinex_bin" \
        "$kinexctl_bin" 2>&1); then
        echo "$out"
        return 0
      fi
      echo "$out" >&2
      grep -q -e "address in use" -e "binding to port" <<<"$out" || return 1
      echo "chart_test: a port was taken between its pick and kinex's bind (attempt $attempt); picking again" >&2
    done
    return 1
  }
  # consent, audit and records need PostgreSQL; the chart's PostgreSQL wiring
  # is checked on the rendered YAML above. The policy pod renders only with
  # service decisions.
  sim_pod sim gateway ||
    fail "the gateway pod ($work/sim.yaml) does not start and pass its probes as rendered"
  for t in gateway policy; do
    sim_pod sim-service "$t" --set gateway.policyDecisions=service ||
      fail "the $t pod ($work/sim-service.yaml) does not start and pass its probes as rendered"
  done
fi

# --- 7. the trial path: tools/trial-secrets.sh makes every Secret mounted ---
step "checking that tools/trial-secrets.sh makes every Secret the trial release mounts"
if [ ! -d "$work/pki" ]; then
  bash "$repo/certs/make-dev-pki.sh" "$work/pki" >/dev/null || fail "certs/make-dev-pki.sh"
fi
bash "$repo/tools/trial-secrets.sh" "$work/pki" --release kx --namespace kinex \
  >"$work/trial-secrets.yaml" 2>"$work/err" || fail "tools/trial-secrets.sh: $(cat "$work/err")"
# The script makes the policy Secret too, so a switch to service decisions
# needs no new Secret; the local release does not mount it.
for decisions in local service; do
render "$work/trial-path-$decisions.yaml" --set postgresql.mode=trial \
  --set pageTokens.existingSecret=kinex-page-tokens --set gateway.policyDecisions=$decisions ||
  fail "helm template for the trial path ($decisions decisions)"
"$python" - "$work/trial-path-$decisions.yaml" "$work/trial-secrets.yaml" "$work/pki/ca.pem" \
  "$decisions" <<'PY' ||
import base64, os, subprocess, sys, tempfile, yaml
rendered = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
made = {d["metadata"]["name"]: d for d in yaml.safe_load_all(open(sys.argv[2])) if d}
own = {d["metadata"]["name"] for d in rendered if d["kind"] == "Secret"}  # the chart's own
needed = {}  # Secret name -> keys the workloads read
for w in rendered:
    if w["kind"] not in ("Deployment", "StatefulSet"):
        continue
    pod = w["spec"]["template"]["spec"]
    for v in pod.get("volumes", []):
        if "secret" in v:
            keys = needed.setdefault(v["secret"]["secretName"], set())
            keys.update(i["key"] for i in v["secret"].get("items", []))
        for src in (v.get("projected") or {}).get("sources", []):
            if "secret" in src:
                keys = needed.setdefault(src["secret"]["name"], set())
                keys.update(i["key"] for i in src["secret"].get("items", []))
    for c in pod.get("initContainers", []) + pod["containers"]:
        for e in c.get("env", []):
            ref = (e.get("valueFrom") or {}).get("secretKeyRef")
            if ref:
                needed.setdefault(ref["name"], set()).add(ref["key"])
needed = {n: k for n, k in needed.items() if n not in own}
all_targets = ("gateway", "policy", "consent", "audit", "records")
deployed = [t for t in all_targets if t != "policy" or sys.argv[4] == "service"]
want_names = {f"kinex-{t}-tls" for t in deployed} | {"kinex-audit-keys", "kinex-page-tokens"}
if set(needed) != want_names:
    raise SystemExit(f"the trial release ({sys.argv[4]} decisions) mounts Secrets {sorted(needed)}, "
                     f"expected {sorted(want_names)}")
want_names |= {f"kinex-{t}-tls" for t in all_targets}
for name, keys in sorted(needed.items()):
    if name not in made:
        raise SystemExit(f"trial-secrets.sh does not make Secret {name}")
    data = made[name].get("data") or {}
    if not keys <= set(data):
        raise SystemExit(f"Secret {name}: the release reads keys {sorted(keys)}, "
                         f"trial-secrets.sh makes {sorted(data)}")
    if name.endswith("-tls") and made[name].get("type") != "kubernetes.io/tls":
        raise SystemExit(f"Secret {name} is not of type kubernetes.io/tls")
if set(made) != want_names:
    raise SystemExit(f"trial-secrets.sh makes {sorted(made)}, expected {sorted(want_names)}")
# Each service certificate chains to the PKI's CA and names the Service the
# other targets dial (kinex checks the upstream's host name) and its SPIFFE ID.
with tempfile.TemporaryDirectory() as tmp:
    for t in all_targets:
        pem = os.path.join(tmp, f"{t}.pem")
        with open(pem, "wb") as f:
            f.write(base64.b64decode(made[f"kinex-{t}-tls"]["data"]["tls.crt"]))
        ok = subprocess.run(["openssl", "verify", "-CAfile", sys.argv[3], pem],
                            capture_output=True, text=True)
        if ok.returncode != 0:
            raise SystemExit(f"kinex-{t}-tls: certificate does not verify: {ok.stdout}{ok.stderr}")
        san = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-ext", "subjectAltName"],
                             capture_output=True, text=True, check=True).stdout
        for want in (f"URI:spiffe://kinex.dev/service/{t}",
                     f"DNS:kx-kinex-{t}.kinex.svc.cluster.local", "DNS:localhost",
                     "IP Address:127.0.0.1"):
            if want not in san:
                raise SystemExit(f"kinex-{t}-tls: no SAN {want} in {san.strip()}")
        if san.count("URI:") != 1:
            raise SystemExit(f"kinex-{t}-tls: want exactly one URI SAN, got {san.strip()}")
    key = base64.b64decode(made["kinex-page-tokens"]["data"]["page-token.key"]).strip()
    if len(key) != 64:
        raise SystemExit(f"kinex-page-tokens: page-token.key is {len(key)} characters, want 64 hex")
print(f"trial-secrets: {len(made)} Secrets cover every Secret and key the trial release "
      f"({sys.argv[4]} decisions) reads")
PY
  fail "tools/trial-secrets.sh does not make the Secrets the chart mounts ($decisions decisions)"
done

step "PASS"
