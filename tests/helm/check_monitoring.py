#!/usr/bin/env python3
"""Checks the chart's alerts and Grafana dashboard against what Kinex exports.

usage: check_monitoring.py RENDERED.yaml REPO_ROOT [self-test]

RENDERED.yaml is `helm template` output with metrics.prometheusRule.enabled and
metrics.grafanaDashboard.enabled. Checks:
- every kinex_* metric an alert or a dashboard panel uses is registered in the
  C++ sources under services/ (`.Name("kinex_...")` of a prometheus-cpp
  builder, `Add("kinex_...", ...)` of ScrapeGauges, or a `{"kinex_...", "help",`
  member of its AddGroup), after stripping a
  histogram's _bucket/_sum/_count: a renamed metric fails here, not silently
  in production;
- every `reason` an expression matches is an ErrorInfo reason Kinex sends
  (a constant of services/common/error_reason.h, or a status code's name,
  which is the reason of a status without an explicit one); every grpc_code
  is a gRPC status code name;
- every expression parses as PromQL (a small parser of the PromQL this chart
  uses; promtool is not used: Debian's prometheus package, which ships it,
  needs over 300 MB with its dependencies): balanced brackets, known
  functions and aggregations, range vectors where rate/increase/delta want
  them, `le` kept by an aggregation inside histogram_quantile;
- the PrometheusRule's structure: unique alert names, the expected alerts,
  severity warning|critical, summary and description (and, in
  kinex-operations, a runbook) on each, valid `for` durations, no Helm
  template left in an expression, balanced {{ }} in annotations;
- the dashboard ConfigMap carries the sidecar label, its JSON parses, has
  the expected panels, each with queries, every panel and query on the
  ${datasource} variable, unique panel ids.
self-test: checks that broken variants of the render are rejected by name.
Every problem is printed as "check_monitoring: <what>"; exit 1 if any.
"""
import copy
import glob
import json
import os
import re
import sys

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

GRPC_CODES = {"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
              "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
              "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
              "UNAUTHENTICATED"}

# Alerts the chart must render (with metrics.prometheusRule's defaults).
WANT_ALERTS = {
    "kinex-write-path": ["KinexUnusualLinkClaims", "KinexPublishRefusals"],
    "kinex-operations": ["KinexHighErrorRate", "KinexHighLatency", "KinexStoreFailures",
                         "KinexAuditLogFailing", "KinexDataIntegrityFailure",
                         "KinexAuditSignedHeadStale", "KinexAuditLogNotGrowing",
                         "KinexCertificateExpiring", "KinexCertificateExpiryImminent",
                         "KinexPolicyReloadFailed", "KinexPolicyVersionsDiffer", "KinexCrlReloadFailed",
                         "KinexTargetDown"],
}
# Dashboard panels that must exist, and a metric each must query.
WANT_PANELS = {
    "Call rate by method": "kinex_grpc_server_handled_total",
    "Server-side error ratio by method": "kinex_grpc_server_handled_total",
    "Failed calls by reason": "kinex_grpc_server_errors_total",
    "p50 latency by method": "kinex_grpc_server_handling_seconds",
    "p99 latency by method": "kinex_grpc_server_handling_seconds",
    "Decisions (allow / deny)": "kinex_decisions_total",
    "Audit append latency (gateway)": "kinex_audit_append_seconds",
    "Audit tree size": "kinex_audit_tree_size",
    "Signed tree head age": "kinex_audit_signed_head_timestamp_seconds",
    "Certificate days left": "kinex_certificate_expiry_timestamp_seconds",
    "Policy version in force (pods per version)": "kinex_policy_info",
    "Policy reloads": "kinex_policy_reloads_total",
    "Break-glass disclosures (last hour)": "kinex_break_glass_total",
    "Link claims (last hour, top 10 agencies)": "kinex_link_claims_total",
}
DASHBOARD_LABEL = ("grafana_dashboard", "1")

problems = []


def problem(what):
    problems.append(what)


# --- what Kinex exports -------------------------------------------------------
REGISTER_RE = re.compile(r'(?:\.Name|(?:->|\.)Add)\(\s*"(kinex_[a-z0-9_]+)"', re.S)
# ScrapeGauges::AddGroup members: {"kinex_name", "help", ...}
GROUP_MEMBER_RE = re.compile(r'\{\s*"(kinex_[a-z0-9_]+)",\s*"', re.S)


def registered_metrics(repo):
    names = set()
    for path in glob.glob(os.path.join(repo, "services", "**", "*"), recursive=True):
        if not path.endswith((".cc", ".h")) or path.endswith(("_test.cc", "_test.h")):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
            names.update(REGISTER_RE.findall(text))
            names.update(GROUP_MEMBER_RE.findall(text))
    return names


def error_reasons(repo):
    text = open(os.path.join(repo, "services", "common", "error_reason.h")).read()
    return set(re.findall(r'constexpr absl::string_view k\w+\s*=\s*"([A-Z0-9_]+)"', text))


def metric_names(expr):
    """kinex_* names in an expression (string literals, e.g. label values, removed)."""
    return set(re.findall(r"\bkinex_[a-z0-9_]+", re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)))


def base_name(name, known):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in known:
            return name[: -len(suffix)]
    return name


# --- a parser for the PromQL the chart uses -----------------------------------
AGGREGATIONS = {"sum", "min", "max", "avg", "count", "stddev", "stdvar", "group", "topk", "bottomk",
                "quantile", "count_values"}
RANGE_FUNCTIONS = {"rate", "irate", "increase", "delta", "idelta", "deriv", "changes", "resets",
                   "avg_over_time", "min_over_time", "max_over_time", "sum_over_time",
                   "count_over_time", "last_over_time", "quantile_over_time", "stddev_over_time",
                   "present_over_time", "absent_over_time", "predict_linear", "holt_winters"}
FUNCTIONS = RANGE_FUNCTIONS | {"abs", "absent", "ceil", "floor", "round", "clamp", "clamp_min",
                               "clamp_max", "exp", "ln", "log2", "log10", "sqrt", "time",
                               "timestamp", "vector", "scalar", "sort", "sort_desc",
                               "histogram_quantile", "label_replace", "label_join", "day_of_week",
                               "hour", "minute", "month", "year", "days_in_month", "sgn"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
            "and", "or", "unless"}
TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<duration>(?:\d+(?:ms|s|m|h|d|w|y))+(?![\w.]))
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<ident>[A-Za-z_][A-Za-z0-9_:]*)
  | (?P<op>==|!=|>=|<=|=~|!~|[-+*/%^<>=(){}\[\],:])
""", re.X)


class PromQLError(Exception):
    pass


def tokenize(expr):
    pos, out = 0, []
    while pos < len(expr):
        m = TOKEN_RE.match(expr, pos)
        if not m:
            raise PromQLError(f"unexpected character {expr[pos]!r} at {pos}")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    out.append(("end", ""))
    return out


class Parser:
    """Recursive descent; returns a small tree of dicts: {"t": kind, ...}."""
    BINARY = [("or",), ("and", "unless"), ("==", "!=", ">", "<", ">=", "<="), ("+", "-"),
              ("*", "/", "%"), ("^",)]

    def __init__(self, expr):
        self.toks = tokenize(expr)
        self.i = 0

    def peek(self, k=0):
        return self.toks[self.i + k]

    def take(self, value=None, kind=None):
        tok = self.peek()
        if (value is not None and tok[1] != value) or (kind is not None and tok[0] != kind):
            raise PromQLError(f"expected {value or kind}, got {tok[1] or 'the end'!r}")
        self.i += 1
        return tok

    def parse(self):
        node = self.expr(0)
        if self.peek()[0] != "end":
            raise PromQLError(f"unexpected {self.peek()[1]!r} after a complete expression")
        return node

    def expr(self, level):
        if level == len(self.BINARY):
            return self.unary()
        left = self.expr(level + 1)
        while self.peek()[1] in self.BINARY[level] and self.peek()[0] in ("op", "ident"):
            op = self.take()[1]
            if op in ("==", "!=", ">", "<", ">=", "<=") and self.peek()[1] == "bool":
                self.take()
            if self.peek()[1] in ("on", "ignoring"):
                self.take()
                self.labels()
            if self.peek()[1] in ("group_left", "group_right"):
                self.take()
                if self.peek()[1] == "(":
                    self.labels()
            right = self.expr(level + 1) if op != "^" else self.expr(level)
            left = {"t": "binary", "op": op, "args": [left, right]}
            if op == "^":
                break
        return left

    def unary(self):
        if self.peek()[1] in ("-", "+"):
            self.take()
            return {"t": "unary", "args": [self.unary()]}
        return self.postfix(self.primary())

    def postfix(self, node):
        if self.peek()[1] == "[":
            if node["t"] != "selector":
                raise PromQLError("a range [..] follows something that is not a selector "
                                  "(subqueries are not used here)")
            self.take("[")
            self.take(kind="duration")
            if self.peek()[1] == ":":
                raise PromQLError("subqueries are not supported by this check")
            self.take("]")
            node = dict(node, t="range")
        if self.peek()[1] == "offset":
            self.take()
            self.take(kind="duration")
        return node

    def labels(self):
        self.take("(")
        names = []
        while self.peek()[1] != ")":
            names.append(self.take(kind="ident")[1])
            if self.peek()[1] != ")":
                self.take(",")
        self.take(")")
        return names

    def primary(self):
        kind, value = self.peek()
        if kind == "number":
            self.take()
            return {"t": "number"}
        if kind == "string":
            self.take()
            return {"t": "string"}
        if value == "(":
            self.take()
            node = self.expr(0)
            self.take(")")
            return {"t": "paren", "args": [node]}
        if value == "{":
            return self.selector(None)
        if kind != "ident":
            raise PromQLError(f"unexpected {value or 'end of expression'!r}")
        if value in AGGREGATIONS and self.peek(1)[1] in ("(", "by", "without"):
            return self.aggregation()
        if self.peek(1)[1] == "(":
            if value not in FUNCTIONS:
                raise PromQLError(f"unknown function {value}()")
            self.take()
            self.take("(")
            args = []
            while self.peek()[1] != ")":
                args.append(self.expr(0))
                if self.peek()[1] != ")":
                    self.take(",")
            self.take(")")
            return self.check_function(value, args)
        if value in KEYWORDS:
            raise PromQLError(f"keyword {value!r} where an expression belongs")
        self.take()
        return self.selector(value)

    def aggregation(self):
        op = self.take()[1]
        grouping = None
        if self.peek()[1] in ("by", "without"):
            grouping = (self.take()[1], self.labels())
        self.take("(")
        args = [self.expr(0)]
        if self.peek()[1] == ",":
            self.take()
            args.append(self.expr(0))
        self.take(")")
        if self.peek()[1] in ("by", "without"):
            if grouping:
                raise PromQLError(f"{op}: two grouping clauses")
            grouping = (self.take()[1], self.labels())
        if op in ("topk", "bottomk", "quantile", "count_values") and len(args) != 2:
            raise PromQLError(f"{op} takes a parameter and an expression")
        if op not in ("topk", "bottomk", "quantile", "count_values") and len(args) != 1:
            raise PromQLError(f"{op} takes one expression")
        if args[-1]["t"] == "range":
            raise PromQLError(f"{op} over a range vector (missing rate/increase?)")
        return {"t": "aggregation", "op": op, "grouping": grouping, "args": args}

    def selector(self, name):
        matchers = []
        if self.peek()[1] == "{":
            self.take("{")
            while self.peek()[1] != "}":
                label = self.take(kind="ident")[1]
                op = self.take(kind="op")[1]
                if op not in ("=", "!=", "=~", "!~"):
                    raise PromQLError(f"bad label matcher operator {op!r}")
                text = self.take(kind="string")[1][1:-1]
                if op in ("=~", "!~"):
                    try:
                        re.compile(text)
                    except re.error as e:
                        raise PromQLError(f"bad regex {text!r}: {e}")
                matchers.append((label, op, text))
                if self.peek()[1] != "}":
                    self.take(",")
            self.take("}")
        if name is None and not matchers:
            raise PromQLError("empty selector {}")
        return {"t": "selector", "name": name, "matchers": matchers}

    @staticmethod
    def check_function(name, args):
        if name in RANGE_FUNCTIONS:
            if not args or args[0]["t"] != "range":
                raise PromQLError(f"{name}() needs a range vector selector, e.g. metric[5m]")
        elif any(a["t"] == "range" for a in args):
            raise PromQLError(f"{name}() does not take a range vector")
        if name == "time" and args:
            raise PromQLError("time() takes no argument")
        if name == "histogram_quantile":
            if len(args) != 2:
                raise PromQLError("histogram_quantile(φ, buckets) takes two arguments")
            inner = args[1]
            while inner["t"] == "paren":
                inner = inner["args"][0]
            if inner["t"] == "aggregation":
                kind, labels = inner["grouping"] or ("without", [])
                if (kind == "by" and "le" not in labels) or (kind == "without" and "le" in labels):
                    raise PromQLError("histogram_quantile over an aggregation that drops `le`")
        return {"t": "call", "name": name, "args": args}


def walk(node):
    yield node
    for a in node.get("args", []):
        yield from walk(a)


GRAFANA_VARS = [("$__rate_interval", "5m"), ("$__interval", "1m"), ("$__range", "1h")]


def grafana_to_promql(expr):
    for var, value in GRAFANA_VARS:
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?[A-Za-z_]\w*\}?", "x", expr)


def check_expr(where, expr, known, reasons):
    if "{{" in expr or "}}" in expr:
        problem(f"{where}: a template is left in the expression: {expr!r}")
        return
    try:
        tree = Parser(expr).parse()
    except PromQLError as e:
        problem(f"{where}: does not parse as PromQL: {e}: {expr!r}")
        return
    for name in sorted(metric_names(expr)):
        if base_name(name, known) not in known:
            problem(f"{where}: uses metric {name}, which Kinex does not export "
                    f"(not registered under services/)")
    for node in walk(tree):
        if node["t"] not in ("selector", "range"):
            continue
        name = node["name"] or ""
        if name.endswith("_bucket") and node["t"] != "range":
            problem(f"{where}: {name} used without a range (histogram buckets need rate())")
        for label, op, text in node["matchers"]:
            if label == "reason":
                values = set(text.split("|")) if op in ("=~", "!~") else {text}
                for v in sorted(values - reasons - GRPC_CODES):
                    problem(f"{where}: reason {v!r} is not an ErrorInfo reason Kinex sends "
                            "(services/common/error_reason.h)")
            if label == "grpc_code":
                values = set(text.split("|")) if op in ("=~", "!~") else {text}
                for v in sorted(values - GRPC_CODES):
                    problem(f"{where}: grpc_code {v!r} is not a gRPC status code name")


# --- the PrometheusRule -------------------------------------------------------
DURATION_RE = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def check_rules(rule_docs, known, reasons):
    if len(rule_docs) != 1:
        problem(f"expected one PrometheusRule, found {len(rule_docs)}")
        return
    pr = rule_docs[0]
    if pr.get("apiVersion") != "monitoring.coreos.com/v1":
        problem(f"PrometheusRule apiVersion {pr.get('apiVersion')}")
    groups = pr.get("spec", {}).get("groups") or []
    seen = {}
    for g in groups:
        gname = g.get("name")
        if not gname:
            problem("a rule group has no name")
        for r in g.get("rules") or []:
            alert = r.get("alert")
            where = f"alert {alert}"
            if not alert or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", alert):
                problem(f"group {gname}: a rule has no valid alert name ({alert!r})")
                continue
            if alert in seen:
                problem(f"{where}: defined twice")
            seen[alert] = gname
            unknown = set(r) - {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
            if unknown:
                problem(f"{where}: unknown fields {sorted(unknown)}")
            if not isinstance(r.get("expr"), str) or not r["expr"].strip():
                problem(f"{where}: no expr")
            else:
                check_expr(where, r["expr"], known, reasons)
            if "for" in r and not DURATION_RE.match(str(r["for"])):
                problem(f"{where}: for {r['for']!r} is not a duration")
            sev = (r.get("labels") or {}).get("severity")
            if sev not in ("warning", "critical"):
                problem(f"{where}: severity {sev!r}, want warning or critical")
            ann = r.get("annotations") or {}
            want = ["summary", "description"] + (["runbook"] if gname == "kinex-operations" else [])
            for a in want:
                if not str(ann.get(a, "")).strip():
                    problem(f"{where}: no {a} annotation")
            for a, text in ann.items():
                if str(text).count("{{") != str(text).count("}}"):
                    problem(f"{where}: annotation {a} has unbalanced {{{{ }}}}")
    for gname, alerts in WANT_ALERTS.items():
        for a in alerts:
            if a not in seen:
                problem(f"no alert {a} (group {gname})")
            elif seen[a] != gname:
                problem(f"alert {a} is in group {seen[a]}, want {gname}")


# --- the dashboard ------------------------------------------------------------
def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels") or [])


def check_dashboard(cm_docs, known, reasons):
    if len(cm_docs) != 1:
        problem(f"expected one Grafana dashboard ConfigMap, found {len(cm_docs)}")
        return
    cm = cm_docs[0]
    key, value = DASHBOARD_LABEL
    if (cm["metadata"].get("labels") or {}).get(key) != value:
        problem(f"dashboard ConfigMap lacks the sidecar label {key}: \"{value}\"")
    data = cm.get("data") or {}
    if len(data) != 1 or not next(iter(data)).endswith(".json"):
        problem(f"dashboard ConfigMap should hold one *.json key, holds {sorted(data)}")
        return
    try:
        dash = json.loads(next(iter(data.values())))
    except ValueError as e:
        problem(f"dashboard JSON does not parse: {e}")
        return
    for k in ("title", "uid", "panels", "templating", "schemaVersion"):
        if k not in dash:
            problem(f"dashboard has no {k}")
    variables = {v.get("name"): v for v in (dash.get("templating") or {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problem("dashboard has no Prometheus datasource variable named datasource")
    want_ds = {"type": "prometheus", "uid": "${datasource}"}
    for name, v in variables.items():
        if v.get("type") == "query" and v.get("datasource") != want_ds:
            problem(f"dashboard variable {name} is not on the ${{datasource}} variable")
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else q or ""
            m = re.match(r"^label_values\((.*),\s*\w+\)$", q)
            if m:
                check_expr(f"dashboard variable {name}", m.group(1), known, reasons)
    ids = set()
    by_title = {}
    for p in all_panels(dash.get("panels") or []):
        title = p.get("title", "?")
        if p.get("id") in ids:
            problem(f"panel {title}: id {p.get('id')} used twice")
        ids.add(p.get("id"))
        if "gridPos" not in p:
            problem(f"panel {title}: no gridPos")
        if p.get("type") == "row":
            continue
        by_title[title] = p
        if p.get("datasource") != want_ds:
            problem(f"panel {title}: datasource {p.get('datasource')} is not the ${{datasource}} variable")
        targets = p.get("targets") or []
        if not targets:
            problem(f"panel {title}: no queries")
        for i, t in enumerate(targets):
            if t.get("datasource", want_ds) != want_ds:
                problem(f"panel {title}: query {i} is not on the ${{datasource}} variable")
            expr = t.get("expr", "")
            if not expr:
                problem(f"panel {title}: query {i} has no expr")
                continue
            if "$namespace" not in expr:
                problem(f"panel {title}: query {i} does not select namespace=\"$namespace\"")
            check_expr(f"panel {title}", grafana_to_promql(expr), known, reasons)
    for title, metric in WANT_PANELS.items():
        p = by_title.get(title)
        if p is None:
            problem(f"dashboard has no panel {title!r}")
        elif not any(metric in metric_names(t.get("expr", "")) or
                     any(base_name(n, {metric}) == metric for n in metric_names(t.get("expr", "")))
                     for t in p.get("targets") or []):
            problem(f"panel {title!r} does not query {metric}")


def check(docs, repo, known=None):
    problems.clear()
    known = registered_metrics(repo) if known is None else known
    if len(known) < 5:
        problem(f"found only {sorted(known)} registered under {repo}/services: "
                "the registration pattern changed? (update REGISTER_RE)")
    reasons = error_reasons(repo)
    if len(reasons) < 10:
        problem(f"found only {len(reasons)} reasons in services/common/error_reason.h")
    check_rules([d for d in docs if d["kind"] == "PrometheusRule"], known, reasons)
    check_dashboard([d for d in docs if d["kind"] == "ConfigMap" and
                     any(k.endswith(".json") for k in (d.get("data") or {}))], known, reasons)
    return list(problems)


# --- self-test ----------------------------------------------------------------
def _rule(docs, alert):
    pr = [d for d in docs if d["kind"] == "PrometheusRule"][0]
    return [r for g in pr["spec"]["groups"] for r in g["rules"] if r["alert"] == alert][0]


def _dash_cm(docs):
    return [d for d in docs if d["kind"] == "ConfigMap" and "kinex.json" in (d.get("data") or {})][0]


def _edit_dash(docs, edit):
    cm = _dash_cm(docs)
    dash = json.loads(cm["data"]["kinex.json"])
    edit(dash)
    cm["data"]["kinex.json"] = json.dumps(dash)


def _panel(dash, title):
    return [p for p in all_panels(dash["panels"]) if p.get("title") == title][0]


def _sub(rule, old, new):
    assert old in rule["expr"], (old, rule["expr"])
    rule["expr"] = rule["expr"].replace(old, new)


MUTATIONS = [
    ("alert on a renamed metric", "uses metric kinex_audit_signed_head_time_seconds",
     lambda docs, known: _sub(_rule(docs, "KinexAuditSignedHeadStale"),
                              "kinex_audit_signed_head_timestamp_seconds",
                              "kinex_audit_signed_head_time_seconds")),
    ("metric renamed in the C++ sources", "uses metric kinex_policy_reloads_total",
     lambda docs, known: known.discard("kinex_policy_reloads_total")),
    ("histogram renamed in the C++ sources", "uses metric kinex_grpc_server_handling_seconds_bucket",
     lambda docs, known: known.discard("kinex_grpc_server_handling_seconds")),
    ("panel on a renamed metric", "uses metric kinex_audit_tree_leaves",
     lambda docs, known: _edit_dash(docs, lambda d: _panel(d, "Audit tree size")["targets"][0].update(
         expr='max(kinex_audit_tree_leaves{namespace="$namespace"})'))),
    ("unknown error reason", "reason 'STORAGE_DOWN' is not an ErrorInfo reason",
     lambda docs, known: _sub(_rule(docs, "KinexStoreFailures"), "STORAGE_FAILED", "STORAGE_DOWN")),
    ("unknown grpc code", "grpc_code 'SERVER_ERROR' is not a gRPC status code",
     lambda docs, known: _sub(_rule(docs, "KinexHighErrorRate"), "DATA_LOSS", "SERVER_ERROR")),
    ("unbalanced parenthesis", "does not parse as PromQL",
     lambda docs, known: _sub(_rule(docs, "KinexPolicyVersionsDiffer"), "count by (namespace) (",
                              "count by (namespace) ((")),
    ("rate over an instant vector", "rate() needs a range vector",
     lambda docs, known: _sub(_rule(docs, "KinexHighErrorRate"), "[5m]", "")),
    ("histogram_quantile without le", "drops `le`",
     lambda docs, known: _sub(_rule(docs, "KinexHighLatency"), "grpc_method, le)", "grpc_method)")),
    ("helm template left in expr", "a template is left",
     lambda docs, known: _sub(_rule(docs, "KinexStoreFailures"), "> 5", "> {{ .Values.x }}")),
    ("alert without a runbook", "KinexTargetDown: no runbook annotation",
     lambda docs, known: _rule(docs, "KinexTargetDown")["annotations"].pop("runbook")),
    ("bad severity", "severity 'page'",
     lambda docs, known: _rule(docs, "KinexAuditLogFailing")["labels"].update(severity="page")),
    ("alert missing", "no alert KinexCertificateExpiring",
     lambda docs, known: _rule(docs, "KinexCertificateExpiring").update(alert="KinexCertExpiring")),
    ("dashboard not JSON", "dashboard JSON does not parse",
     lambda docs, known: _dash_cm(docs)["data"].update({"kinex.json": "{\"panels\": ["})),
    ("dashboard panel missing", "dashboard has no panel 'Certificate days left'",
     lambda docs, known: _edit_dash(docs, lambda d: _panel(d, "Certificate days left").update(
         title="Certificates"))),
    ("panel on a fixed datasource", "is not the ${datasource} variable",
     lambda docs, known: _edit_dash(docs, lambda d: _panel(d, "Policy reloads").update(
         datasource={"type": "prometheus", "uid": "prom-1"}))),
    ("no sidecar label", "lacks the sidecar label",
     lambda docs, known: _dash_cm(docs)["metadata"]["labels"].pop("grafana_dashboard")),
]


def self_test(docs, repo):
    failures = []
    base_known = registered_metrics(repo)
    found = check(copy.deepcopy(docs), repo, set(base_known))
    if found:
        print("check_monitoring[self-test]: the unmutated render fails; fix that first:",
              *found, sep="\n  ", file=sys.stderr)
        return 1
    for name, want, mutate in MUTATIONS:
        mutated, known = copy.deepcopy(docs), set(base_known)
        mutate(mutated, known)
        found = check(mutated, repo, known)
        if not any(want in f for f in found):
            failures.append(f"mutation '{name}' was not caught (want '{want}', got {found})")
    for f in failures:
        print(f"check_monitoring[self-test]: {f}", file=sys.stderr)
    if failures:
        return 1
    print(f"check_monitoring[self-test]: all {len(MUTATIONS)} broken variants rejected")
    return 0


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] != "self-test"):
        print(__doc__, file=sys.stderr)
        return 2
    path, repo = sys.argv[1:3]
    docs = [d for d in yaml.load_all(open(path), Loader=Loader) if d]
    if len(sys.argv) == 4:
        return self_test(docs, repo)
    found = check(docs, repo)
    for p in found:
        print(f"check_monitoring: {p}", file=sys.stderr)
    if found:
        return 1
    known = registered_metrics(repo)
    print(f"check_monitoring: alerts and dashboard use only the {len(known)} metrics Kinex "
          "registers, parse, and have what they need")
    return 0


if __name__ == "__main__":
    sys.exit(main())
