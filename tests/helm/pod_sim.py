#!/usr/bin/env python3
"""Runs one Kinex pod of a rendered chart as local processes, without Kubernetes.

It checks the runtime contract the chart relies on, with the real binaries:
  1. the Secret volumes (written mode 0440, as the kubelet leaves them with
     fsGroup) are readable and the install-keys init container's script turns
     them into the 0600 files kinex insists on;
  2. kinex starts with exactly the container's args and the chart-rendered
     kinex.textproto (the strict textproto parser accepts it);
  3. the pod's exec startup/readiness/liveness probe command (kinexctl health
     over mTLS with the pod's own certificate) reports SERVING.

Paths under /etc/kinex, /var/lib/kinex and /usr/local/bin are mapped into a
temporary root; the service listens on the ports rendered into the chart
(chart_test.sh renders them with free ports).

usage: pod_sim.py RENDERED.yaml TARGET PKI_DIR KINEX KINEXCTL
Exit 0 when the probe passes; 1 with a message otherwise.
"""
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import yaml


def fail(msg):
    print(f"pod_sim: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 6:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    rendered, target, pki, kinex, kinexctl = sys.argv[1:]
    pki, kinex, kinexctl = (os.path.abspath(p) for p in (pki, kinex, kinexctl))
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    workload = None
    configmaps = {}
    for d in docs:
        labels = d.get("metadata", {}).get("labels", {}) or {}
        if d["kind"] in ("Deployment", "StatefulSet") and \
                labels.get("app.kubernetes.io/component") == target:
            workload = d
        if d["kind"] == "ConfigMap":
            configmaps[d["metadata"]["name"]] = d.get("data", {}) or {}
    if workload is None:
        # The policy pods render only with gateway.policyDecisions=service.
        have = sorted((d["metadata"].get("labels") or {}).get("app.kubernetes.io/component", "?")
                      for d in docs if d["kind"] in ("Deployment", "StatefulSet"))
        fail(f"no Deployment or StatefulSet for target {target} in {rendered} "
             f"(it has {', '.join(have)})")
    spec = workload["spec"]["template"]["spec"]

    # What each Secret holds, from the dev PKI (certs/make-dev-pki.sh).
    secret_files = {
        "ca.crt": os.path.join(pki, "ca.pem"),
        "tls.crt": os.path.join(pki, "services", f"{target}.pem"),
        "tls.key": os.path.join(pki, "services", f"{target}.key"),
        "signing.key": os.path.join(pki, "audit-signing.key"),
        "pseudonym.key": os.path.join(pki, "audit-pseudonym.key"),
        "page-token.key": os.path.join(pki, "page-token.key"),
    }

    root = tempfile.mkdtemp(prefix=f"kinex-pod-{target}-")
    proc = None
    try:
        def host(path):
            for prefix in ("/etc/kinex", "/var/lib/kinex", "/tmp"):
                if path == prefix or path.startswith(prefix + "/"):
                    return root + path
            return path

        def rewrite(text):
            text = text.replace("/usr/local/bin/kinexctl", kinexctl)
            text = text.replace("/usr/local/bin/kinex", kinex)
            for prefix in ("/etc/kinex/", "/var/lib/kinex"):
                text = text.replace(prefix, root + prefix)
            return text

        volumes = {v["name"]: v for v in spec["volumes"]}

        def mount(container):
            for m in container.get("volumeMounts", []):
                vol = volumes[m["name"]]
                dest = host(m["mountPath"])
                if "subPath" in m:
                    data = configmaps[vol["configMap"]["name"]][m["subPath"]]
                    os.makedirs(os.path.dirname(dest), exist_ok=True)
                    with open(dest, "w") as f:
                        f.write(rewrite(data))
                    continue
                os.makedirs(dest, exist_ok=True)
                if "secret" in vol:
                    for item in vol["secret"]["items"]:
                        src = secret_files.get(item["key"])
                        if src is None:
                            fail(f"no test material for Secret key {item['key']}")
                        out = os.path.join(dest, item["path"])
                        shutil.copyfile(src, out)
                        # What the kubelet leaves with fsGroup: defaultMode | 0440.
                        os.chmod(out, vol["secret"].get("defaultMode", 0o644) | 0o440)
                elif "configMap" in vol:
                    for key, data in configmaps[vol["configMap"]["name"]].items():
                        with open(os.path.join(dest, key), "w") as f:
                            f.write(data)

        for init in spec.get("initContainers", []):
            mount(init)
            cmd = [rewrite(w) for w in init.get("command", []) + init.get("args", [])]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
            if r.returncode != 0:
                fail(f"init container {init['name']} failed: {r.stderr.strip()}")

        (main_c,) = [c for c in spec["containers"] if c["name"] == "kinex"]
        mount(main_c)
        for f in os.listdir(host("/etc/kinex/private")):
            mode = os.stat(os.path.join(host("/etc/kinex/private"), f)).st_mode & 0o777
            if mode & 0o077:
                fail(f"/etc/kinex/private/{f} has mode {mode:04o}: kinex refuses "
                     "private keys readable by group or others")

        args = [kinex] + [rewrite(a) for a in main_c.get("args", [])]
        log = open(os.path.join(root, "kinex.log"), "w+")
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, cwd=root,
                                text=True)

        def died(why):
            proc.wait(timeout=10)
            log.seek(0)
            fail(f"kinex --target={target} {why} (exit {proc.returncode}): {log.read().strip()}")

        # Wait for the one "serving" line kinex prints once it listens (no
        # polling: like the kubelet, we probe once the process is up).
        deadline = time.time() + 20
        while True:
            if time.time() > deadline:
                proc.kill()
                died("did not report serving within 20 s")
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if not ready:
                continue
            line = proc.stdout.readline()
            if not line:
                died("exited before serving")
            if '"serving"' in line:
                break

        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            probe = [rewrite(w) for w in main_c[kind]["exec"]["command"]]
            r = subprocess.run(probe, capture_output=True, text=True, timeout=15)
            out = (r.stdout + r.stderr).strip()
            if r.returncode != 0 or r.stdout.strip() != "SERVING":
                log.seek(0)
                fail(f"{target}: {kind} failed (exit {r.returncode}): {out}; "
                     f"kinex log: {log.read().strip()}")
        print(f"pod_sim: {target}: key install, rendered config and exec probes OK (SERVING)")
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
