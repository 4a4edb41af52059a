#!/usr/bin/env python3
"""Writes helm/kinex/values.schema.json (JSON Schema draft-07) from the
definitions below, which are easier to review than the JSON itself.

  python3 helm/gen_values_schema.py          # rewrite the schema
  python3 helm/gen_values_schema.py --check  # exit 1 if it is out of date
                                             # (tests/helm/chart_test.sh runs this)
Edit this file, not the JSON, when values.yaml changes.
"""
import json
import os
import sys

def obj(props, required=(), extra=False, **kw):
    d = {"type": "object", "properties": props, "additionalProperties": extra}
    if required: d["required"] = list(required)
    d.update(kw)
    return d

def s(desc=None, **kw):
    d = {"type": "string"}
    if desc: d["description"] = desc
    d.update(kw); return d

def i(desc=None, minimum=None, maximum=None):
    d = {"type": "integer"}
    if desc: d["description"] = desc
    if minimum is not None: d["minimum"] = minimum
    if maximum is not None: d["maximum"] = maximum
    return d

b = {"type": "boolean"}
# A number >= 0, or the string `helm --set` makes of a decimal ("0.05").
decimal = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$|^\\.[0-9]+$"}]}
anyobj = {"type": "object"}
strmap = {"type": "object", "additionalProperties": {"type": "string"}}
port = i("TCP port", 1, 65535)
quantity = {"anyOf": [{"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei)?$"}, {"type": "number", "minimum": 0}]}
resources_list = {"type": "object", "properties": {"cpu": quantity, "memory": quantity, "ephemeral-storage": quantity}, "additionalProperties": quantity}
resources = obj({"requests": resources_list, "limits": resources_list}, required=["requests", "limits"],
                description="Container resources; requests and limits are both required.")
pdb = obj({"enabled": b, "minAvailable": {"anyOf": [i(minimum=0), s(pattern="^[0-9]{1,3}%$")]}}, required=["enabled"])
dns_label = s(pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength=63)
k8s_name = s(pattern="^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", maxLength=253, minLength=1)
k8s_name_or_empty = {"type": "string", "pattern": "^([a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$", "maxLength": 253}
secret_key = s(pattern="^[-._a-zA-Z0-9]+$", minLength=1)
cidr = s(pattern="^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$|^[0-9a-fA-F:]+/[0-9]{1,3}$")
# libpq conninfo words: no spaces, quotes or backslashes (they would need quoting).
pg_word = s(pattern="^[A-Za-z0-9_.\\-]+$", minLength=1)
common_target = {
    "port": port,
    "resources": resources,
    "pdb": pdb,
    "nodeSelector": strmap,
    "tolerations": {"type": "array", "items": anyobj},
    "affinity": anyobj,
}
def target(extra_props, required=()):
    props = dict(common_target); props.update(extra_props)
    return obj(props, required=["port", "resources", "pdb"] + list(required))

DEFS = {
    "quantity": quantity, "resources": resources, "pdb": pdb, "port": port,
    "k8sName": k8s_name, "k8sNameOrEmpty": k8s_name_or_empty, "secretKey": secret_key,
    "cidr": cidr, "pgWord": pg_word, "stringMap": strmap,
}
ref = lambda n: {"$ref": f"#/definitions/{n}"}
quantity, resources, pdb, port = ref("quantity"), ref("resources"), ref("pdb"), ref("port")
k8s_name, k8s_name_or_empty, secret_key = ref("k8sName"), ref("k8sNameOrEmpty"), ref("secretKey")
cidr, pg_word, strmap = ref("cidr"), ref("pgWord"), ref("stringMap")
common_target = {
    "port": port,
    "resources": resources,
    "pdb": pdb,
    "nodeSelector": strmap,
    "tolerations": {"type": "array", "items": anyobj},
    "affinity": anyobj,
}
replicas = i("Number of pods", 0, 100)
per_stateful = lambda item: obj({"consent": item, "audit": item, "records": item},
                                required=["consent", "audit", "records"])
per_target = lambda item: obj({t: item for t in ["gateway", "policy", "consent", "audit", "records"]},
                              required=["gateway", "policy", "consent", "audit", "records"])

schema = {
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "kinex chart values",
  "description": "Values of the kinex Helm chart. Unknown keys are errors (a typo must not silently fall back to a default).",
  "type": "object",
  "additionalProperties": False,
  "required": ["image", "trustDomain", "tls", "certManager", "postgresql", "probes", "metrics",
               "networkPolicy", "server", "gateway", "policy", "consent", "audit", "records", "podSecurity"],
  "properties": {
    "global": anyobj,
    "nameOverride": {"type": "string", "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", "maxLength": 40},
    "fullnameOverride": {"type": "string", "pattern": "^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$", "maxLength": 50},
    "image": obj({
        "repository": s(minLength=1),
        "tag": s(pattern="^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$|^$"),
        "digest": s(pattern="^(sha256:[a-f0-9]{64})?$"),
        "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
        "pullSecrets": {"type": "array", "items": k8s_name},
    }, required=["repository", "pullPolicy"]),
    "trustDomain": s("SPIFFE trust domain (a bare DNS name)", pattern="^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", minLength=1),
    "clusterDomain": s(pattern="^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", minLength=1),
    "listenHost": {"enum": ["0.0.0.0", "[::]"]},
    "maxMessageBytes": i(minimum=65536, maximum=2147483647),
    "podSecurity": obj({
        "runAsUser": i("Must not be root", 1),
        "runAsGroup": i(minimum=1),
        "fsGroup": i(minimum=1),
    }, required=["runAsUser", "runAsGroup", "fsGroup"]),
    "tls": obj({
        "existingSecrets": obj({t: k8s_name_or_empty for t in ["gateway", "policy", "consent", "audit", "records"]},
                               required=["gateway", "policy", "consent", "audit", "records"]),
        "caKey": secret_key, "certKey": secret_key, "keyKey": secret_key,
        "crl": obj({"existingConfigMap": k8s_name_or_empty}),
    }, required=["existingSecrets", "caKey", "certKey", "keyKey"]),
    "pageTokens": obj({"existingSecret": k8s_name_or_empty, "key": secret_key},
                      required=["existingSecret", "key"]),
    "certManager": obj({
        "enabled": b,
        "issuerRef": obj({"name": k8s_name_or_empty, "kind": s(minLength=1), "group": s(minLength=1)},
                         required=["name", "kind", "group"]),
        "duration": s(pattern="^([0-9]+(\\.[0-9]+)?(h|m|s))+$"),
        "renewBefore": s(pattern="^([0-9]+(\\.[0-9]+)?(h|m|s))+$"),
        "privateKey": obj({"algorithm": {"enum": ["ECDSA", "RSA", "Ed25519"]}, "size": i(minimum=0)},
                          required=["algorithm"]),
        "gatewayDnsNames": {"type": "array", "items": s(pattern="^(\\*\\.)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")},
    }, required=["enabled", "issuerRef"]),
    "postgresql": obj({
        "mode": {"enum": ["external", "trial"], "description": "external (production) or trial (single pod, NOT for production)"},
        "external": obj({
            "host": pg_word,
            "port": port,
            "sslmode": {"enum": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]},
            "sslRootCert": obj({"secretName": k8s_name_or_empty, "key": secret_key}),
            "databases": per_stateful(pg_word),
            "users": per_stateful(pg_word),
            "existingSecret": k8s_name_or_empty,
            "passwordMode": {"enum": ["env", "passfile"]},
            "passwordKeys": per_stateful(secret_key),
            "egressCIDRs": {"type": "array", "items": cidr},
            "connectTimeoutSeconds": i(minimum=1, maximum=300),
        }, required=["host", "port", "sslmode", "databases", "users", "existingSecret", "passwordMode", "passwordKeys"]),
        "trial": obj({
            "image": obj({"repository": s(minLength=1), "tag": s(minLength=1),
                          "pullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]}}),
            "persistence": obj({"enabled": b, "size": quantity, "storageClassName": {"type": "string"}}),
            "resources": resources,
        }),
    }, required=["mode", "external"]),
    "probes": obj({
        "address": s(pattern="^(127\\.0\\.0\\.1|\\[::1\\]|localhost)$"),
        **{k: obj({"periodSeconds": i(minimum=1), "timeoutSeconds": i(minimum=1),
                   "failureThreshold": i(minimum=1)},
                  required=["periodSeconds", "timeoutSeconds", "failureThreshold"])
           for k in ["startup", "readiness", "liveness"]},
    }, required=["address", "startup", "readiness", "liveness"]),
    # Seconds; kinex multiplies them by 1000 into a 32-bit gRPC channel
    # argument, hence the maximum (about 24 days).
    "server": obj({k: i(minimum=1, maximum=2147483) for k in [
        "maxConnectionAgeSeconds", "maxConnectionAgeGraceSeconds", "maxConnectionIdleSeconds",
        "keepaliveTimeSeconds", "keepaliveTimeoutSeconds"]},
        required=["maxConnectionAgeSeconds", "maxConnectionAgeGraceSeconds",
                  "maxConnectionIdleSeconds", "keepaliveTimeSeconds", "keepaliveTimeoutSeconds"]),
    "preStopSleepSeconds": i(minimum=0, maximum=120),
    "terminationGracePeriodSeconds": i(minimum=1),
    "metrics": obj({
        "port": port,
        "targets": {"type": "array", "uniqueItems": True,
                    "items": {"enum": ["gateway", "policy", "consent", "audit", "records"]}},
        "serviceMonitor": obj({"enabled": b, "interval": s(pattern="^[0-9]+(ms|s|m|h)$"),
                               "scrapeTimeout": s(pattern="^[0-9]+(ms|s|m|h)$"), "labels": strmap}),
        "prometheusRule": obj({
            "enabled": b,
            "linkClaimsPerHour": i(minimum=1),
            "publishRefusalsPerHour": i(minimum=1),
            # `helm --set` passes decimals as strings: accept both forms.
            "errorRatio": {"anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                                     s(pattern="^(0?\\.[0-9]*[1-9][0-9]*|1(\\.0*)?)$")],
                           "description": "A fraction of calls, above 0 and at most 1"},
            "errorMinCallsPerSecond": decimal,
            "latencyP99Seconds": {"anyOf": [{"type": "number", "exclusiveMinimum": 0},
                                            s(pattern="^[0-9]*\\.?[0-9]*[1-9][0-9]*$")],
                                  "description": "Seconds, above 0"},
            "latencyMinCallsPerSecond": decimal,
            "signedHeadMaxAgeSeconds": i(minimum=1),
            "auditNotGrowingEnabled": b,
            "certificateExpiryWarningDays": i(minimum=1),
            "certificateExpiryCriticalDays": i(minimum=1),
            "storeFailuresPer15m": i(minimum=0),
            "labels": strmap,
        }, required=["enabled", "linkClaimsPerHour", "publishRefusalsPerHour", "errorRatio",
                     "errorMinCallsPerSecond", "latencyP99Seconds", "latencyMinCallsPerSecond",
                     "signedHeadMaxAgeSeconds", "certificateExpiryWarningDays",
                     "certificateExpiryCriticalDays", "storeFailuresPer15m"]),
        "grafanaDashboard": obj({
            "enabled": b,
            "namespace": k8s_name_or_empty,
            # A label key (optionally prefixed) and value, as Kubernetes allows.
            "label": s(pattern="^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$",
                       minLength=1, maxLength=316),
            "labelValue": s(pattern="^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$", maxLength=63),
            "labels": strmap,
            "annotations": strmap,
        }, required=["enabled", "label", "labelValue"]),
    }, required=["port", "targets"]),
    "networkPolicy": obj({
        "enabled": b,
        "gateway": obj({"allowedCIDRs": {"type": "array", "items": cidr},
                        "allowedNamespaceSelectors": {"type": "array", "items": anyobj}}),
        "metrics": obj({"from": {"type": "array", "items": anyobj}}),
        "dns": obj({"to": {"type": "array", "items": anyobj, "minItems": 1}}),
    }, required=["enabled"]),
    "serviceAccount": obj({"create": b, "name": k8s_name_or_empty, "annotations": strmap}),
    "podAnnotations": strmap,
    "podLabels": strmap,
    "spreadAcrossNodes": b,
    "gateway": target({
        "replicas": replicas,
        "rateLimitPerAgency": {"type": "number", "exclusiveMinimum": 0},
        "rateLimitBurst": i(minimum=1),
        "breakGlassMinJustification": i(minimum=1),
        "factsCacheEntries": i(minimum=0, maximum=16777216),
        "policyDecisions": {"enum": ["local", "service"]},
        "autoscaling": obj({"enabled": b, "minReplicas": i(minimum=1), "maxReplicas": i(minimum=1),
                            "targetCPUUtilizationPercentage": i(minimum=1, maximum=100)},
                           required=["enabled", "minReplicas", "maxReplicas", "targetCPUUtilizationPercentage"]),
        "service": obj({"type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                        "annotations": strmap,
                        "loadBalancerSourceRanges": {"type": "array", "items": cidr},
                        "externalTrafficPolicy": {"enum": ["", "Cluster", "Local"]}},
                       required=["type"]),
    }, required=["replicas", "autoscaling", "service"]),
    "policy": target({
        "replicas": replicas,
        "files": {"type": "object", "description": "Policy files: name (*.textproto) -> content",
                  "propertyNames": {"pattern": "^[-_a-zA-Z0-9]+(\\.[-_a-zA-Z0-9]+)*\\.textproto$"},
                  "additionalProperties": {"type": "string", "minLength": 1}},
        "existingConfigMap": k8s_name_or_empty,
        "rolloutToken": {"type": "string"},
    }, required=["replicas"]),
    "consent": target({"replicas": replicas}, required=["replicas"]),
    "audit": target({
        "replicas": i("The audit log has one writer: 0 (stopped) or 1", 0, 1),
        "signIntervalSeconds": i(minimum=1),
        "keys": obj({"existingSecret": k8s_name, "signingKeyKey": secret_key, "pseudonymKeyKey": secret_key,
                     "retiredPublicKeys": obj({
                         "existingConfigMap": k8s_name_or_empty,
                         "keys": {"type": "array", "items": secret_key, "uniqueItems": True},
                     }, required=["existingConfigMap", "keys"])},
                    required=["existingSecret", "signingKeyKey", "pseudonymKeyKey"]),
        "startupFailureThreshold": i(minimum=1),
    }, required=["replicas", "keys"]),
    "records": target({"replicas": replicas, "maxPartBytes": i(minimum=1024, maximum=2147483647),
                       "viewCacheMib": i(minimum=0, maximum=65536)},
                      required=["replicas"]),
  },
  "definitions": DEFS,
  # certManager.enabled without certManager.issuerRef.name is refused by
  # templates/_validate.tpl, not here: helm prints a schema if/then failure as
  # "Must validate \"then\" as \"if\" was valid" (it never prints the rule's
  # description), and the template's fail message names the value to set.
  "allOf": [
    {
      "description": "Without cert-manager every deployed service needs an existing TLS Secret name.",
      "if": {"properties": {"certManager": {"properties": {"enabled": {"const": False}}}}},
      "then": {"properties": {"tls": {"properties": {"existingSecrets": {
          "properties": {t: {"minLength": 1} for t in ["gateway", "consent", "audit", "records"]}}}}}},
    },
    {
      # The policy pods render only when the gateway asks them for decisions.
      "description": "Without cert-manager the policy service (gateway.policyDecisions service) needs an existing TLS Secret name.",
      "if": {"properties": {"certManager": {"properties": {"enabled": {"const": False}}},
                            "gateway": {"properties": {"policyDecisions": {"const": "service"}}}}},
      "then": {"properties": {"tls": {"properties": {"existingSecrets": {
          "properties": {"policy": {"minLength": 1}}}}}}},
    },
    {
      "description": "External PostgreSQL needs the password Secret's name.",
      "if": {"properties": {"postgresql": {"properties": {"mode": {"const": "external"}}}}},
      "then": {"properties": {"postgresql": {"properties": {"external": {"properties": {"existingSecret": {"minLength": 1}}}}}}},
    },
    {
      "description": "sslmode verify-ca / verify-full needs the server's CA (sslRootCert.secretName) unless a system root is intended; we require it.",
      "if": {"properties": {"postgresql": {"properties": {
          "mode": {"const": "external"},
          "external": {"properties": {"sslmode": {"enum": ["verify-ca", "verify-full"]}}}}}}},
      "then": {"properties": {"postgresql": {"properties": {"external": {"properties": {
          "sslRootCert": {"properties": {"secretName": {"minLength": 1}}, "required": ["secretName"]}},
          "required": ["sslRootCert"]}}}}},
    },
  ],
}


def main():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kinex", "values.schema.json")
    text = json.dumps(schema, indent=2) + "\n"
    if sys.argv[1:] == ["--check"]:
        current = open(path).read() if os.path.exists(path) else ""
        if current != text:
            print(f"{path} is out of date: run python3 helm/gen_values_schema.py",
                  file=sys.stderr)
            return 1
        return 0
    with open(path, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
