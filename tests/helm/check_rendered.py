#!/usr/bin/env python3
"""Checks the YAML `helm template` rendered from the kinex chart.

usage: check_rendered.py RENDERED.yaml PROFILE REPO_ROOT
  PROFILE: default | production | trial  (which values file rendered it; the
           gateway decides locally), service (default values with
           gateway.policyDecisions=service), or
           self-test: RENDERED.yaml is a good default render; checks that each
           of a list of broken variants of it is rejected with the right message

The policy target is deployed only when the gateway's config says
policy_decisions: SERVICE; the NetworkPolicies must follow the internal call
graph, which is the service ACL table in REPO_ROOT/services/common/service_acl.cc.

Every problem is printed as "check_rendered[PROFILE]: <kind>/<name>: <what>";
exit 1 if there is any, 0 otherwise.
"""
import copy
import glob
import os
import re
import sys

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

TARGETS = ["gateway", "policy", "consent", "audit", "records"]
INTERNAL = ["policy", "consent", "audit", "records"]
# Targets that load the policy set (and must roll when it changes).
POLICY_TARGETS = ["gateway", "policy", "consent"]
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicaSet", "Pod"}

problems = []


def gateway_decisions(docs):
    """policy_decisions in the gateway's rendered config (None if unset)."""
    for d in docs:
        if d["kind"] == "ConfigMap" and component(d) == "gateway" and \
                "kinex.textproto" in (d.get("data") or {}):
            m = re.search(r"^\s*policy_decisions:\s*(\w+)\s*$", d["data"]["kinex.textproto"], re.M)
            return m.group(1) if m else None
    return None


def deployed_targets(decisions):
    """Nothing calls the policy service unless the gateway asks it for decisions."""
    return [t for t in TARGETS if t != "policy" or decisions == "SERVICE"]


# A row of Table() in service_acl.cc: {"kinex.<svc>.v1.<Svc>/<Method>", {"caller", ...}},
ACL_ROW = re.compile(r'\{\s*"kinex\.([a-z_]+)\.v1\.\w+/\w+"\s*,\s*\{([^{}]*)\}\s*\}')


def acl_callers(repo):
    """svc -> the services the service ACL lets call any of its methods."""
    path = os.path.join(repo, "services", "common", "service_acl.cc")
    with open(path) as f:
        rows = ACL_ROW.findall(f.read())
    if not rows:
        raise SystemExit(f"check_rendered: no service ACL rows parsed from {path}: "
                         'expected rows like {"kinex.records.v1.Records/GetRecord", {"gateway"}}')
    callers = {}
    for svc, names in rows:
        callers.setdefault(svc, set()).update(re.findall(r'"([a-z_]+)"', names))
    return callers


def problem(obj, what):
    name = f"{obj.get('kind', '?')}/{obj.get('metadata', {}).get('name', '?')}" if obj else "-"
    problems.append(f"{name}: {what}")


def component(obj):
    return (obj.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/component")


def pod_spec(obj):
    spec = obj.get("spec", {})
    if obj["kind"] == "Pod":
        return spec
    if obj["kind"] == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    return spec["template"]["spec"]


def check_container_security(obj, pod, c):
    where = f"container {c['name']}"
    sc = c.get("securityContext")
    if not sc:
        problem(obj, f"{where}: no securityContext")
        return
    if sc.get("runAsNonRoot") is not True:
        problem(obj, f"{where}: securityContext.runAsNonRoot is not true")
    uid = sc.get("runAsUser", pod.get("securityContext", {}).get("runAsUser"))
    if uid is None or uid == 0:
        problem(obj, f"{where}: runAsUser is unset or 0 (want a non-zero uid)")
    if sc.get("readOnlyRootFilesystem") is not True:
        problem(obj, f"{where}: securityContext.readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problem(obj, f"{where}: securityContext.allowPrivilegeEscalation is not false")
    if sc.get("privileged"):
        problem(obj, f"{where}: privileged")
    drop = (sc.get("capabilities") or {}).get("drop") or []
    if "ALL" not in drop:
        problem(obj, f"{where}: capabilities.drop does not contain ALL (got {drop})")
    if (sc.get("capabilities") or {}).get("add"):
        problem(obj, f"{where}: adds capabilities {sc['capabilities']['add']}")
    seccomp = (sc.get("seccompProfile") or pod.get("securityContext", {}).get("seccompProfile") or {})
    if seccomp.get("type") != "RuntimeDefault":
        problem(obj, f"{where}: seccompProfile is not RuntimeDefault")
    # Whatever needs writing must be a volume, with the root filesystem read-only.
    for m in c.get("volumeMounts", []):
        if m["mountPath"] == "/":
            problem(obj, f"{where}: mounts a volume at /")


def check_workloads(docs, profile, deployed):
    workloads = [d for d in docs if d["kind"] in WORKLOAD_KINDS]
    if not workloads:
        problem(None, "no workloads rendered")
    for w in workloads:
        pod = pod_spec(w)
        if pod.get("automountServiceAccountToken") is not False:
            problem(w, "pod automountServiceAccountToken is not false")
        if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
            problem(w, "uses host namespaces")
        psc = pod.get("securityContext") or {}
        if psc.get("runAsNonRoot") is not True:
            problem(w, "pod securityContext.runAsNonRoot is not true")
        if (psc.get("seccompProfile") or {}).get("type") != "RuntimeDefault":
            problem(w, "pod seccompProfile is not RuntimeDefault")
        for v in pod.get("volumes", []):
            if "hostPath" in v:
                problem(w, f"volume {v['name']} is a hostPath")
        containers = pod.get("containers", [])
        for c in pod.get("initContainers", []) + containers:
            check_container_security(w, pod, c)
            if not (c.get("resources") or {}).get("requests") or \
                    not (c.get("resources") or {}).get("limits"):
                problem(w, f"container {c['name']}: resource requests and limits must both be set")
        if w["kind"] in ("Deployment", "StatefulSet"):
            for c in containers:
                for probe in ("livenessProbe", "readinessProbe"):
                    p = c.get(probe)
                    if not p:
                        problem(w, f"container {c['name']}: no {probe}")
                    elif "grpc" in p and component(w) in TARGETS:
                        # Kubernetes' native gRPC probe cannot do TLS; every
                        # Kinex port is mTLS only, so it would always fail.
                        problem(w, f"container {c['name']}: {probe} is a native gRPC "
                                   "probe, which cannot speak mTLS")

    by_target = {}
    for w in workloads:
        t = component(w)
        if t in TARGETS:
            if t in by_target:
                problem(w, f"second workload for target {t}")
            by_target[t] = w
    for t in deployed:
        w = by_target.get(t)
        if w is None:
            problem(None, f"no workload for target {t}")
            continue
        want = "StatefulSet" if t == "audit" else "Deployment"
        if w["kind"] != want:
            problem(w, f"target {t} should be a {want}")
        (c,) = [c for c in pod_spec(w)["containers"] if c["name"] == "kinex"]
        args = c.get("args", [])
        if f"--target={t}" not in args or "--config=/etc/kinex/kinex.textproto" not in args:
            problem(w, f"kinex args {args} do not select --target={t} with the rendered config")
        probe = c.get("readinessProbe", {}).get("exec", {}).get("command", [])
        if not probe or probe[0] != "/usr/local/bin/kinexctl" or probe[-1] != "health":
            problem(w, f"readiness probe is not an exec of kinexctl health: {probe}")
    for t in deployed:
        w = by_target.get(t)
        if w is None:
            continue
        pod = pod_spec(w)
        mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0].get("volumeMounts", [])}
        has_policy = mounts.get("policy") == "/etc/kinex/policy"
        checksum = "checksum/policy" in (w["spec"]["template"]["metadata"].get("annotations") or {})
        if t in POLICY_TARGETS and not (has_policy and checksum):
            problem(w, f"{t} loads the policy set: needs it at /etc/kinex/policy and a "
                       "checksum/policy annotation")
        if t not in POLICY_TARGETS and (has_policy or checksum):
            problem(w, f"{t} does not read the policy set but mounts or hashes it")
    audit = by_target.get("audit")
    if audit is not None and audit["spec"].get("replicas") not in (0, 1):
        problem(audit, "the audit log has one writer: replicas must be 0 or 1")
    gw = by_target.get("gateway")
    hpas = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    if len(hpas) != 1 or hpas[0]["spec"]["scaleTargetRef"]["name"] != (gw or {}).get("metadata", {}).get("name"):
        problem(None, "expected exactly one HorizontalPodAutoscaler, for the gateway Deployment")
    elif gw is not None and "replicas" in gw["spec"]:
        problem(gw, "sets replicas while an HPA owns the gateway's replica count")
    return by_target


def selects(selector, labels):
    """Whether a Kubernetes label selector selects an object with these labels."""
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
        if (op == "In" and labels.get(key) not in values) or \
                (op == "NotIn" and labels.get(key) in values) or \
                (op == "Exists" and key not in labels) or \
                (op == "DoesNotExist" and key in labels):
            return False
    return True


def peer_reach(peer, pods, namespace, release):
    """The targets whose pods a NetworkPolicy peer (None: no from/to, any
    address) covers, and whether it picks them by this release's pod labels
    rather than by address or whole namespaces."""
    if peer is None or "ipBlock" in peer:  # an address range may hold pod addresses
        return set(pods), False
    ns = peer.get("namespaceSelector")
    name = namespace
    if ns is not None:
        # Only the namespace's name label is known here; other selectors may match it.
        name = (ns.get("matchLabels") or {}).get("kubernetes.io/metadata.name")
        if name is not None and name != namespace:
            return set(), True
    ps = peer.get("podSelector")
    if ps is None:
        return set(pods), False
    hit = {t for t, labels in pods.items() if selects(ps, labels)}
    # Pods with this release's labels in other namespaces are not this release's.
    by_release = name == namespace and \
        all((ps.get("matchLabels") or {}).get(k) == v for k, v in release.items())
    return hit, by_release


def rule_ports(rule):
    """The ports a rule allows, or None for every port."""
    ports = rule.get("ports") or []
    if not ports or any(p.get("port") is None for p in ports):
        return None
    return [p["port"] for p in ports]


def on_port(ports, port):
    """Whether a rule's ports include a target's gRPC port."""
    return ports is None or port in ports or "grpc" in ports


def grpc_ports(docs, by_target):
    """target -> the gRPC port of its pods: its container's, else its
    Service's, else the one the configs' upstream { } dial (a target not
    deployed has only that)."""
    ports = {}
    for d in docs:
        text = (d.get("data") or {}).get("kinex.textproto") if d["kind"] == "ConfigMap" else None
        m = re.search(r"^upstream \{\n(.*?)^\}", text or "", re.S | re.M)
        for t, port in re.findall(r'^\s*([a-z]+): "[^"]*:(\d+)"$', m.group(1) if m else "", re.M):
            ports.setdefault(t, int(port))
    for d in docs:
        if d["kind"] == "Service" and component(d) in TARGETS:
            for p in d["spec"].get("ports", []):
                if p.get("name") == "grpc":
                    ports[component(d)] = p["port"]
    for t, w in by_target.items():
        for c in pod_spec(w)["containers"]:
            for p in c.get("ports", []):
                if p.get("name") == "grpc":
                    ports[t] = p["containerPort"]
    return ports


def check_network_policies(docs, profile, by_target, deployed, callers):
    """One NetworkPolicy per deployed target, following the call graph:
    an internal target's gRPC port admits exactly its callers in the service
    ACL, and a target's egress to Kinex pods goes to exactly the targets it
    calls, each on its own gRPC port, selected by this release's labels."""
    nps = {component(d): d for d in docs if d["kind"] == "NetworkPolicy"}
    ports = grpc_ports(docs, by_target)
    for t in deployed:
        np = nps.get(t)
        if np is None:
            problem(None, f"no NetworkPolicy for target {t}")
            continue
        sel = np["spec"]["podSelector"].get("matchLabels", {})
        if sel.get("app.kubernetes.io/component") != t:
            problem(np, f"podSelector does not select the {t} pods")
        if sorted(np["spec"].get("policyTypes", [])) != ["Egress", "Ingress"]:
            problem(np, "policyTypes must be [Ingress, Egress]")
        release = {k: v for k, v in sel.items() if k != "app.kubernetes.io/component"}
        namespace = np["metadata"].get("namespace")
        # The labels of each target's pods; a target not deployed gets the
        # labels it would have, so a rule that would reach it is seen.
        pods = {}
        for u in TARGETS:
            w = by_target.get(u)
            pods[u] = (w["spec"]["template"]["metadata"].get("labels") if w else None) or \
                dict(release, **{"app.kubernetes.io/component": u})
        if t in INTERNAL:
            admitted = set()
            for r in np["spec"].get("ingress") or []:
                if not on_port(rule_ports(r), ports.get(t)):
                    continue
                peers = r.get("from")
                if not peers:
                    problem(np, "internal target's gRPC port is open to every source")
                    admitted |= set(TARGETS)
                    continue
                for peer in peers:
                    if "ipBlock" in peer or "namespaceSelector" in peer:
                        problem(np, f"internal target admits a peer outside the release: {peer}")
                    labels = (peer.get("podSelector") or {}).get("matchLabels", {})
                    if "app.kubernetes.io/instance" not in labels:
                        problem(np, f"internal target admits pods not selected by release: {peer}")
                    admitted |= peer_reach(peer, pods, namespace, release)[0]
            want = {c for c in callers.get(t, ()) if c in deployed}
            if admitted != want:
                problem(np, f"gRPC port {ports.get(t)} admits {sorted(admitted)}, want exactly "
                            f"{t}'s callers in the service ACL: {sorted(want)}")
        egress = np["spec"].get("egress") or []
        reached, wide, every_port = set(), set(), set()
        for r in egress:
            rp = rule_ports(r)
            for peer in r.get("to") or [None]:
                hit, by_release = peer_reach(peer, pods, namespace, release)
                for u in sorted(hit):
                    if not on_port(rp, ports.get(u)):
                        if by_release and rp is not None:
                            problem(np, f"egress to {u} on ports {rp}, not its gRPC port {ports[u]}")
                        continue
                    reached.add(u)
                    if not by_release:
                        wide.add(u)
                    if rp is None:
                        every_port.add(u)
        want = {u for u in deployed if t in callers.get(u, ())}
        if reached != want:
            problem(np, f"internal egress to {sorted(reached)}, want exactly the targets {t} "
                        f"calls in the service ACL: {sorted(want)}")
        if wide:
            problem(np, f"egress reaches the gRPC ports of {sorted(wide)} without selecting this "
                        "release's pods (a rule with ports but no `to`, an ipBlock or a namespace)")
        if every_port:
            problem(np, f"egress to {sorted(every_port)} on every port (a rule with `to` but no ports)")
        if not any(any(p.get("port") == 53 for p in r.get("ports", [])) for r in egress):
            problem(np, "no DNS egress")
        if t in ("consent", "audit", "records"):
            pg_ports = {5432}
            if not any(any(p.get("port") in pg_ports for p in r.get("ports", [])) for r in egress):
                problem(np, "no PostgreSQL egress for a stateful target")
        elif any(any(p.get("port") == 5432 for p in r.get("ports", [])) for r in egress):
            problem(np, f"{t} has no store but may reach PostgreSQL")
    if profile == "production":
        gw = nps.get("gateway")
        if gw is not None:
            first = gw["spec"]["ingress"][0]
            if not first.get("from"):
                problem(gw, "production values restrict the gateway to CIDRs, but it is open")


def check_policy_decisions(docs, profile, decisions):
    """The service profile asks the policy service; every other profile
    leaves the default, local decisions. With local nothing calls the policy
    service, so nothing of it renders but the policy set ConfigMap (gateway
    and consent load the set)."""
    want = "SERVICE" if profile == "service" else "LOCAL"
    if decisions != want:
        problem(None, f"{profile}: the gateway's config says policy_decisions: {decisions}, "
                      f"want {want}")
    if decisions == "SERVICE":
        return
    for d in docs:
        if component(d) == "policy" and not (
                d["kind"] == "ConfigMap" and "kinex.textproto" not in (d.get("data") or {})):
            problem(d, "renders for the policy target, which nothing calls while the gateway "
                       "decides locally (policy_decisions: LOCAL)")


def check_no_key_material(text, docs, profile):
    if "PRIVATE KEY" in text:
        problems.append("rendered output contains 'PRIVATE KEY': key material must never be inline")
    if "BEGIN CERTIFICATE" in text:
        problems.append("rendered output contains a certificate: TLS material comes from Secrets")
    for d in docs:
        if d["kind"] != "Secret":
            continue
        labels = d["metadata"].get("labels") or {}
        if profile != "trial" or labels.get("kinex.dev/not-for-production") != "true":
            problem(d, "the chart renders a Secret; only the opt-in trial PostgreSQL may")
        if d.get("stringData"):
            problem(d, "has inline stringData")
        if set((d.get("data") or {}).keys()) - {"password"}:
            problem(d, "holds more than the trial database password")


# Chart value (under `server:`) -> the ServerConfig field it renders.
SERVER_FIELDS = {
    "maxConnectionAgeSeconds": "max_connection_age_seconds",
    "maxConnectionAgeGraceSeconds": "max_connection_age_grace_seconds",
    "maxConnectionIdleSeconds": "max_connection_idle_seconds",
    "keepaliveTimeSeconds": "keepalive_time_seconds",
    "keepaliveTimeoutSeconds": "keepalive_timeout_seconds",
}


def expected_server_values(repo, profile):
    """The chart's `server:` values for a profile: values.yaml's defaults,
    overlaid with tests/helm/values-production.yaml for production."""
    with open(os.path.join(repo, "helm", "kinex", "values.yaml")) as f:
        want = dict(yaml.safe_load(f).get("server") or {})
    if profile == "production":
        with open(os.path.join(repo, "tests", "helm", "values-production.yaml")) as f:
            want.update((yaml.safe_load(f) or {}).get("server") or {})
    return want


def check_server_block(obj, text, want):
    """Every target's config sets the connection lifetime from the chart's
    values: without max_connection_age long-lived gRPC connections never
    leave the replica they first reached, so new replicas get no traffic."""
    m = re.search(r"^server \{\n(.*?)^\}", text, re.S | re.M)
    if not m:
        problem(obj, "config has no server { } block (max_connection_age_seconds is unset: "
                     "clients never rebalance across replicas)")
        return
    got = dict(re.findall(r"^\s*([a-z_]+):\s*(\S+)\s*$", m.group(1), re.M))
    for value, field in SERVER_FIELDS.items():
        if value not in want:
            problem(obj, f"values.yaml has no server.{value}")
        elif got.get(field) != str(want[value]):
            problem(obj, f"config server.{field} is {got.get(field)}, want {want[value]} "
                         f"(server.{value})")


def check_configs(docs, repo, profile, deployed):
    cms = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ConfigMap"}
    want_server = expected_server_values(repo, profile)
    if not want_server.get("maxConnectionAgeSeconds"):
        problem(None, "values.yaml sets no server.maxConnectionAgeSeconds")
    for t in deployed:
        found = [d for d in cms.values()
                 if component(d) == t and "kinex.textproto" in (d.get("data") or {})]
        if len(found) != 1:
            problem(None, f"expected one kinex.textproto ConfigMap for {t}, found {len(found)}")
            continue
        text = found[0]["data"]["kinex.textproto"]
        if f'target: "{t}"' not in text:
            problem(found[0], f"config does not say target: \"{t}\"")
        if "password" in text.lower():
            problem(found[0], "config mentions a password: it belongs in a Secret")
        check_server_block(found[0], text, want_server)
        if t in ("consent", "audit", "records") and "postgres_conninfo" not in text:
            problem(found[0], "stateful target not configured with PostgreSQL")
        # Production runs replicas: they must share the page-token key, or a
        # next page served by another replica is refused.
        if profile == "production" and \
                'page_token_key_file: "/etc/kinex/private/page-token.key"' not in text:
            problem(found[0], "production: no shared page_token_key_file")
    for t in POLICY_TARGETS:
        found = [d for d in cms.values()
                 if component(d) == t and "kinex.textproto" in (d.get("data") or {})]
        if found and 'policy_dir: "/etc/kinex/policy"' not in found[0]["data"]["kinex.textproto"]:
            problem(found[0], f"{t} loads the policy set but its config has no policy_dir")
    policy_cms = [d for d in cms.values() if component(d) == "policy"
                  and "kinex.textproto" not in (d.get("data") or {})]
    if len(policy_cms) != 1:
        problem(None, f"expected one policy set ConfigMap, found {len(policy_cms)}")
        return
    data = policy_cms[0].get("data") or {}
    repo_files = {os.path.basename(p): open(p).read()
                  for p in glob.glob(os.path.join(repo, "policy", "*.textproto"))}
    if not repo_files:
        problem(None, f"no policy files found in {repo}/policy")
    if set(data) != set(repo_files):
        problem(policy_cms[0], f"policy files {sorted(data)} differ from the repository's "
                               f"policy/*.textproto {sorted(repo_files)}")
    for name, content in repo_files.items():
        if name in data and data[name].rstrip("\n") != content.rstrip("\n"):
            problem(policy_cms[0], f"{name} differs from policy/{name}")


def check_retired_keys(docs, by_target, profile):
    """Every retired public key the audit config names is a file the pod
    mounts from a ConfigMap item (a missing one would stop the audit target)."""
    audit = by_target.get("audit")
    cms = [d for d in docs if d["kind"] == "ConfigMap" and component(d) == "audit"
           and "kinex.textproto" in (d.get("data") or {})]
    if audit is None or len(cms) != 1:
        return
    files = re.findall(r'retired_public_key_files: "([^"]*)"', cms[0]["data"]["kinex.textproto"])
    pod = pod_spec(audit)
    (c,) = [c for c in pod["containers"] if c["name"] == "kinex"]
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    for f in files:
        ok = False
        for m in c.get("volumeMounts", []):
            cm = vols.get(m["name"], {}).get("configMap")
            prefix = m["mountPath"].rstrip("/") + "/"
            if cm and f.startswith(prefix) and \
                    any(i["path"] == f[len(prefix):] for i in cm.get("items", [])):
                ok = True
        if not ok:
            problem(audit, f"retired public key {f} is not mounted from a ConfigMap item")
    if profile == "production" and not files:
        problem(audit, "production values retire a signing key, but the config lists none")


def check_profile_specifics(docs, by_target, profile, deployed):
    kinds = {}
    for d in docs:
        kinds.setdefault(d["kind"], []).append(d)
    services = {component(s) for s in kinds.get("Service", [])}
    for t in deployed:
        if t not in services:
            problem(None, f"no Service for target {t}")
    for s in kinds.get("Service", []):
        ports = [p["name"] for p in s["spec"]["ports"]]
        if s["spec"].get("type", "ClusterIP") != "ClusterIP" and "metrics" in ports:
            problem(s, "exposes the plain-HTTP metrics port outside the cluster")
        if component(s) in INTERNAL and s["spec"].get("type", "ClusterIP") != "ClusterIP":
            problem(s, "internal target's Service is not ClusterIP")
    pdbs = {component(p) for p in kinds.get("PodDisruptionBudget", [])}
    for t in deployed:
        if t != "audit" and t not in pdbs:
            problem(None, f"no PodDisruptionBudget for {t}")
    # Every target serves /metrics (services/kinex/process_metrics.h), and
    # metrics.targets lists them all by default.
    metric_services = {component(s) for s in kinds.get("Service", [])
                       if any(p["name"] == "metrics" for p in s["spec"]["ports"])}
    for t in deployed:
        if t not in metric_services:
            problem(None, f"no metrics Service for target {t}")
    sms = kinds.get("ServiceMonitor", [])
    certs = kinds.get("Certificate", [])
    rules = kinds.get("PrometheusRule", [])
    dashboards = [c for c in kinds.get("ConfigMap", [])
                  if (c["metadata"].get("labels") or {}).get("grafana_dashboard") == "1"]
    if profile == "production":
        if len(sms) != 1 or sms[0]["apiVersion"] != "monitoring.coreos.com/v1":
            problem(None, "production: expected one monitoring.coreos.com/v1 ServiceMonitor")
        if len(rules) != 1:
            problem(None, "production: expected one PrometheusRule")
        else:
            alerts = {r["alert"]: r for g in rules[0]["spec"]["groups"] for r in g["rules"]}
            for name, metric in [("KinexUnusualLinkClaims", "kinex_link_claims_total"),
                                 ("KinexPublishRefusals", "kinex_requests_total")]:
                if name not in alerts:
                    problem(rules[0], f"no alert {name}")
                elif metric not in alerts[name]["expr"] or "{{" in alerts[name]["expr"]:
                    problem(rules[0], f"alert {name}: expression does not use {metric}")
        if len(dashboards) != 1:
            problem(None, "production: expected one Grafana dashboard ConfigMap (label grafana_dashboard: \"1\")")
        by_cert = {component(c): c for c in certs}
        for t in deployed:
            c = by_cert.get(t)
            if c is None:
                problem(None, f"production: no cert-manager Certificate for {t}")
                continue
            uris = c["spec"].get("uris", [])
            if uris != [f"spiffe://exchange.example.gov.uk/service/{t}"]:
                problem(c, f"URI SANs {uris}: want exactly the SPIFFE ID of service {t}")
            if "localhost" not in c["spec"].get("dnsNames", []) or \
                    "127.0.0.1" not in c["spec"].get("ipAddresses", []):
                problem(c, "no localhost / 127.0.0.1 SAN: the exec probes dial 127.0.0.1")
            w = by_target.get(t)
            if w is not None:
                vols = {v["name"]: v for v in pod_spec(w)["volumes"]}
                if vols["tls-src"]["secret"]["secretName"] != c["spec"]["secretName"]:
                    problem(w, "does not mount its cert-manager Certificate's Secret")
    else:
        if sms:
            problem(None, f"{profile}: ServiceMonitor rendered although not enabled")
        if rules:
            problem(None, f"{profile}: PrometheusRule rendered although not enabled")
        if dashboards:
            problem(None, f"{profile}: Grafana dashboard rendered although not enabled")
        if certs:
            problem(None, f"{profile}: Certificates rendered although certManager is off")
    trial = [d for d in docs if component(d) == "postgresql-trial"]
    if profile == "trial":
        if not any(d["kind"] == "StatefulSet" for d in trial):
            problem(None, "trial: no PostgreSQL StatefulSet")
        for d in trial:
            if d["kind"] in ("StatefulSet", "Service", "Secret", "ConfigMap") and \
                    (d["metadata"].get("labels") or {}).get("kinex.dev/not-for-production") != "true":
                problem(d, "trial PostgreSQL object not labelled kinex.dev/not-for-production")
    elif trial:
        problem(None, f"{profile}: trial PostgreSQL rendered although postgresql.mode is external")


def check(text, profile, repo):
    """All checks on one render; returns the list of problems."""
    problems.clear()
    docs = [d for d in yaml.load_all(text, Loader=Loader) if d]
    decisions = gateway_decisions(docs)
    deployed = deployed_targets(decisions)
    # The policy service is called only by a gateway that asks it for decisions.
    callers = {svc: c for svc, c in acl_callers(repo).items() if svc in deployed}
    check_policy_decisions(docs, profile, decisions)
    by_target = check_workloads(docs, profile, deployed)
    check_network_policies(docs, profile, by_target, deployed, callers)
    check_no_key_material(text, docs, profile)
    check_configs(docs, repo, profile, deployed)
    check_profile_specifics(docs, by_target, profile, deployed)
    check_retired_keys(docs, by_target, profile)
    return list(problems), len(docs)


def _deployment_pod(docs):
    return [d for d in docs if d["kind"] == "Deployment"][0]["spec"]["template"]["spec"]


def _netpol(docs, target):
    return [d for d in docs if d["kind"] == "NetworkPolicy" and component(d) == target][0]


def _egress_to(docs, target, callee):
    """The egress rule of target's NetworkPolicy to callee's pods."""
    return [r for r in _netpol(docs, target)["spec"]["egress"] for peer in r.get("to") or []
            if ((peer.get("podSelector") or {}).get("matchLabels") or {})
            .get("app.kubernetes.io/component") == callee][0]


def _add_policy_deployment(docs):
    """A policy Deployment, as the chart renders one with service decisions."""
    d = copy.deepcopy([d for d in docs if d["kind"] == "Deployment" and component(d) == "gateway"][0])
    d["metadata"]["name"] = d["metadata"]["name"].replace("-gateway", "-policy")
    for labels in (d["metadata"]["labels"], d["spec"]["selector"]["matchLabels"],
                   d["spec"]["template"]["metadata"]["labels"]):
        labels["app.kubernetes.io/component"] = "policy"
    docs.append(d)


def _gateway_config(docs):
    return [d for d in docs if d["kind"] == "ConfigMap" and component(d) == "gateway"
            and "kinex.textproto" in d["data"]][0]["data"]


# Broken variants of a good render, and the message the checks must give for
# each: proves the checks can fail (a check that cannot fail is a defect).
MUTATIONS = [
    ("writable root filesystem", "readOnlyRootFilesystem is not true",
     lambda docs: _deployment_pod(docs)["containers"][0]["securityContext"].update(
         readOnlyRootFilesystem=False)),
    ("init container may run as root", "runAsNonRoot is not true",
     lambda docs: _deployment_pod(docs)["initContainers"][0]["securityContext"].update(
         runAsNonRoot=False)),
    ("runs as uid 0", "runAsUser is unset or 0",
     lambda docs: _deployment_pod(docs)["containers"][0]["securityContext"].update(runAsUser=0)),
    ("privilege escalation", "allowPrivilegeEscalation is not false",
     lambda docs: _deployment_pod(docs)["containers"][0]["securityContext"].update(
         allowPrivilegeEscalation=True)),
    ("capabilities kept", "capabilities.drop does not contain ALL",
     lambda docs: _deployment_pod(docs)["containers"][0]["securityContext"].update(
         capabilities={"drop": ["NET_RAW"]})),
    ("no seccomp", "seccompProfile is not RuntimeDefault",
     lambda docs: [_deployment_pod(docs)["containers"][0]["securityContext"].pop("seccompProfile"),
                   _deployment_pod(docs)["securityContext"].pop("seccompProfile")]),
    ("no liveness probe", "no livenessProbe",
     lambda docs: _deployment_pod(docs)["containers"][0].pop("livenessProbe")),
    ("no readiness probe", "no readinessProbe",
     lambda docs: [d for d in docs if d["kind"] == "StatefulSet"][0]["spec"]["template"]["spec"]
     ["containers"][0].pop("readinessProbe")),
    ("native gRPC probe", "native gRPC probe",
     lambda docs: _deployment_pod(docs)["containers"][0].update(
         readinessProbe={"grpc": {"port": 7443}})),
    ("missing NetworkPolicy", "no NetworkPolicy for target records",
     lambda docs: docs.remove(_netpol(docs, "records"))),
    ("internal target open to all", "gRPC port is open to every source",
     lambda docs: _netpol(docs, "audit")["spec"]["ingress"][0].pop("from")),
    ("internal target open to a CIDR", "admits a peer outside the release",
     lambda docs: _netpol(docs, "consent")["spec"]["ingress"][0]["from"].append(
         {"ipBlock": {"cidr": "0.0.0.0/0"}})),
    ("inline private key", "PRIVATE KEY",
     lambda docs: docs.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k"},
                               "stringData": {"tls.key": "-----BEGIN " + "PRIVATE KEY-----"}})),
    ("service account token", "automountServiceAccountToken is not false",
     lambda docs: _deployment_pod(docs).update(automountServiceAccountToken=True)),
    ("no resource limits", "requests and limits must both be set",
     lambda docs: _deployment_pod(docs)["containers"][0]["resources"].pop("limits")),
    ("gateway without the policy set", "gateway loads the policy set",
     lambda docs: [d for d in docs if d["kind"] == "Deployment" and component(d) == "gateway"][0]
     ["spec"]["template"]["metadata"]["annotations"].pop("checksum/policy")),
    ("stale policy set", "differs from policy/",
     lambda docs: [d for d in docs if d["kind"] == "ConfigMap" and
                   d["metadata"]["name"].endswith("-policy-set")][0]["data"].update(
         {"roles.textproto": "# stale\n"})),
    ("no connection age", "config has no server { } block",
     lambda docs: (lambda data: data.update(
         {"kinex.textproto": re.sub(r"(?ms)^server \{\n.*?^\}\n", "",
                                    data["kinex.textproto"])}))(
         [d for d in docs if d["kind"] == "ConfigMap" and component(d) == "gateway"
          and "kinex.textproto" in d["data"]][0]["data"])),
    ("wrong connection age", "config server.max_connection_age_seconds is 1800, want",
     lambda docs: (lambda data: data.update(
         {"kinex.textproto": re.sub(r"max_connection_age_seconds: \d+",
                                    "max_connection_age_seconds: 1800",
                                    data["kinex.textproto"])}))(
         [d for d in docs if d["kind"] == "ConfigMap" and component(d) == "records"
          and "kinex.textproto" in d["data"]][0]["data"])),
    ("a target's metrics not exposed", "no metrics Service for target consent",
     lambda docs: docs.remove([d for d in docs if d["kind"] == "Service" and component(d) == "consent"
                               and any(p["name"] == "metrics" for p in d["spec"]["ports"])][0])),
    # The NetworkPolicies follow the call graph of the service ACL.
    ("gateway cannot reach records",
     "NetworkPolicy/kx-kinex-gateway: internal egress to ['audit', 'consent'], want exactly the "
     "targets gateway calls in the service ACL: ['audit', 'consent', 'records']",
     lambda docs: _netpol(docs, "gateway")["spec"]["egress"].remove(
         _egress_to(docs, "gateway", "records"))),
    ("records admits policy",
     "NetworkPolicy/kx-kinex-records: gRPC port 7447 admits ['consent', 'gateway', 'policy'], "
     "want exactly records's callers in the service ACL: ['consent', 'gateway']",
     lambda docs: _netpol(docs, "records")["spec"]["ingress"][0]["from"][0]["podSelector"]
     ["matchExpressions"][0]["values"].append("policy")),
    ("audit may call consent",
     "NetworkPolicy/kx-kinex-audit: internal egress to ['consent'], want exactly the targets "
     "audit calls in the service ACL: []",
     lambda docs: _netpol(docs, "audit")["spec"]["egress"].append(
         copy.deepcopy(_egress_to(docs, "gateway", "consent")))),
    ("egress by port only",
     "NetworkPolicy/kx-kinex-gateway: egress reaches the gRPC ports of ['records'] without "
     "selecting this release's pods (a rule with ports but no `to`, an ipBlock or a namespace)",
     lambda docs: _egress_to(docs, "gateway", "records").pop("to")),
    ("egress to pods on every port",
     "NetworkPolicy/kx-kinex-records: egress to ['audit'] on every port (a rule with `to` but no ports)",
     lambda docs: _egress_to(docs, "records", "audit").pop("ports")),
    ("egress on another target's port",
     "NetworkPolicy/kx-kinex-consent: egress to audit on ports [7447], not its gRPC port 7446",
     lambda docs: _egress_to(docs, "consent", "audit")["ports"][0].update(port=7447)),
    ("policy pods while the gateway decides locally",
     "Deployment/kx-kinex-policy: renders for the policy target, which nothing calls while the "
     "gateway decides locally (policy_decisions: LOCAL)",
     _add_policy_deployment),
    ("default gateway asks the policy service",
     "default: the gateway's config says policy_decisions: SERVICE, want LOCAL",
     lambda docs: (lambda data: data.update(
         {"kinex.textproto": data["kinex.textproto"].replace(
             "policy_decisions: LOCAL", "policy_decisions: SERVICE")}))(_gateway_config(docs))),
    ("retired key not mounted", "is not mounted from a ConfigMap item",
     lambda docs: (lambda data: data.update(
         {"kinex.textproto": data["kinex.textproto"] +
          'retired_public_key_files: "/etc/kinex/audit-retired-keys/a.pem"\n'}))(
         [d for d in docs if d["kind"] == "ConfigMap" and component(d) == "audit"
          and "kinex.textproto" in d["data"]][0]["data"])),
]


def self_test(path, repo):
    """Each mutation of a good default render must be rejected, by name."""
    text = open(path).read()
    failures = []
    for name, want, mutate in MUTATIONS:
        docs = [d for d in yaml.load_all(text, Loader=Loader) if d]
        mutate(docs)
        found, _ = check(yaml.dump_all(docs, Dumper=Dumper), "default", repo)
        if not any(want in f for f in found):
            failures.append(f"mutation '{name}' was not caught (want '{want}', got {found})")
    for f in failures:
        print(f"check_rendered[self-test]: {f}", file=sys.stderr)
    if failures:
        return 1
    print(f"check_rendered[self-test]: all {len(MUTATIONS)} broken renders rejected")
    return 0


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    path, profile, repo = sys.argv[1:]
    if profile == "self-test":
        return self_test(path, repo)
    found, count = check(open(path).read(), profile, repo)
    for p in found:
        print(f"check_rendered[{profile}]: {p}", file=sys.stderr)
    if found:
        return 1
    print(f"check_rendered[{profile}]: {count} objects OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
