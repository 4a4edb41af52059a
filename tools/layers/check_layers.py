#!/usr/bin/env python3
"""Checks Kinex's layers against the build's own target graph.

Inputs: the manifest CMake writes at configure time (every target, its
sources and headers, its direct link deps; tools/layers/manifest.cmake) and
the checked-in table tools/layers/layers.txt (which layer each production
target is in). Targets defined under tests/ or bench/ are test code.

Rules (each failure names the target, and file:line for includes):
  1. Every production target is in the table.
  2. api and core targets (and proto message libraries) neither include nor
     link gRPC or prometheus: no <grpcpp/...>, <grpc/...>, <prometheus/...>
     or "*.grpc.pb.h" in their files, no gRPC::*, prometheus-cpp::* or
     *_grpc_proto anywhere in their transitive link deps; api targets are
     header-only.
  3. Each layer links only what it may: api and core link api, core and
     proto targets; adapters link no binaries; nothing production links test
     code, and test doubles (fake_*, failing_*) are never in a production
     target.
  4. Includes follow links: every #include "services/...", "tools/...",
     "tests/..." or generated "*.pb.h" in a target's files names a header of
     the target itself or of a target in its transitive link deps. So a
     target reaches only the headers of what it links, although the project
     root is on every include path.
  5. `forbid` lines: a named target must not link (transitively) the named
     libraries (e.g. gateway_core: no SQLite, libpq or policy engine).

Usage: check_layers.py --manifest build/layers_manifest.jsonl
                       --layers tools/layers/layers.txt --source-dir .
Exit 0 when clean; 1 with one line per violation otherwise.
"""
import argparse
import fnmatch
import json
import os
import re
import sys

LAYERS = ("proto", "api", "core", "adapter", "binary")
# What each production layer may link (kinex targets only; test code is
# never linkable from production).
MAY_LINK = {
    "proto": {"proto"},
    "api": {"api", "core", "proto"},
    "core": {"api", "core", "proto"},
    "adapter": {"api", "core", "proto", "adapter"},
    "binary": {"api", "core", "proto", "adapter", "binary"},
}
PURE = {"proto", "api", "core"}
GRPC_OR_PROMETHEUS_INCLUDE = re.compile(
    r'^\s*#\s*include\s*(?:<((?:grpcpp|grpc|prometheus)/[^>]*)>|"([^"]*\.grpc\.pb\.h)")')
QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
FORBIDDEN_EXTERNAL = ("gRPC::", "prometheus-cpp::")
OWN_ROOTS = ("services/", "tools/", "tests/", "bench/")


def strip_genex(dep):
    m = re.fullmatch(r"\$<LINK_ONLY:(.*)>", dep)
    return m.group(1) if m else dep


def load_manifest(path, source_dir, gen_dir):
    targets = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            files = []
            for s in t["sources"]:
                p = s if os.path.isabs(s) else os.path.join(t["dir"], s)
                files.append(os.path.normpath(p))
            t["files"] = files
            t["deps"] = [strip_genex(d) for d in t["deps"]]
            rel_dir = os.path.relpath(t["dir"], source_dir)
            t["test"] = rel_dir.split(os.sep)[0] in ("tests", "bench")
            targets[t["name"]] = t
    return targets


def load_table(path):
    """Returns ([(pattern, layer, line)], [(target, [libs], line)])."""
    layers, forbids = [], []
    with open(path) as f:
        for n, raw in enumerate(f, 1):
            line = raw.split("#", 1)[0].split()
            if not line:
                continue
            if line[0] == "forbid":
                forbids.append((line[1], line[2:], n))
                continue
            if line[0] not in LAYERS:
                sys.exit(f"{path}:{n}: unknown layer {line[0]!r} (one of {', '.join(LAYERS)})")
            for pattern in line[1:]:
                layers.append((pattern, line[0], n))
    return layers, forbids


def target_key(dep, targets):
    """The manifest name of a kinex dep ('kinex::foo' -> 'kinex_foo'), or None."""
    if dep.startswith("kinex::"):
        name = "kinex_" + dep[len("kinex::"):]
        return name if name in targets else None
    return dep if dep in targets else None


def closure(name, targets, memo):
    """All deps (kinex target names and external names) reachable from `name`."""
    if name in memo:
        return memo[name]
    memo[name] = set()
    out = set()
    for dep in targets[name]["deps"]:
        key = target_key(dep, targets)
        if key is None:
            out.add(dep)
            continue
        out.add(key)
        out |= closure(key, targets, memo)
    memo[name] = out
    return out


def short(name):
    return name[len("kinex_"):] if name.startswith("kinex_") else name


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--layers", required=True)
    ap.add_argument("--source-dir", required=True)
    args = ap.parse_args()
    source_dir = os.path.realpath(args.source_dir)
    gen_dir = os.path.join(os.path.dirname(os.path.realpath(args.manifest)), "gen")
    targets = load_manifest(args.manifest, source_dir, gen_dir)
    table, forbids = load_table(args.layers)
    errors = []

    # Layer of each target: test code by location, the rest from the table
    # (first matching line wins).
    layer = {}
    for name, t in targets.items():
        if t["test"]:
            layer[name] = "test"
            continue
        for pattern, lay, _ in table:
            if fnmatch.fnmatchcase(short(name), pattern):
                layer[name] = lay
                break
        else:
            errors.append(f"{args.layers}: target {short(name)} (in "
                          f"{os.path.relpath(t['dir'], source_dir)}) has no layer: add it")

    # Who owns each file (headers included).
    owner = {}
    for name, t in targets.items():
        for f in t["files"]:
            owner.setdefault(f, set()).add(name)

    memo = {}
    for name, t in sorted(targets.items()):
        lay = layer.get(name)
        if lay is None:
            continue
        deps = closure(name, targets, memo)
        if lay != "test":
            # Rule 3: what this layer may link; never test code.
            for d in sorted(deps):
                if d in targets:
                    dl = layer.get(d)
                    if dl == "test":
                        errors.append(f"{short(name)} ({lay}) links test code {short(d)}")
                    elif dl is not None and dl not in MAY_LINK[lay]:
                        errors.append(f"{short(name)} ({lay}) may not link {short(d)} ({dl})")
            for f in t["files"]:
                base = os.path.basename(f)
                if base.startswith(("fake_", "failing_")):
                    errors.append(f"{os.path.relpath(f, source_dir)}: a test double in production "
                                  f"target {short(name)}; move it to tests/testing")
        if lay in PURE:
            # Rule 2: no gRPC or prometheus, included or linked.
            bad = sorted(d for d in deps if d.startswith(FORBIDDEN_EXTERNAL) or
                         d.endswith("_grpc_proto"))
            for d in bad:
                errors.append(f"{short(name)} ({lay}) links {short(d)}: gRPC and prometheus "
                              f"belong in adapter and binary targets")
            if lay == "api" and t["type"] != "INTERFACE_LIBRARY":
                errors.append(f"{short(name)} (api) must be header-only (INTERFACE)")

        # Rule 4 (and the include half of rule 2): scan the target's files
        # and the unowned local headers they include.
        # A target that compiles another's source files (the fuzzers) may
        # include what those files include.
        reachable = {name} | {d for d in deps if d in targets}
        for f in t["files"]:
            reachable |= owner.get(f, set())
        seen = set()
        build_dir = os.path.dirname(gen_dir) + os.sep
        todo = [f for f in t["files"]
                if f.startswith(source_dir + os.sep) and not f.startswith(build_dir)]
        while todo:
            f = todo.pop()
            if f in seen or not os.path.exists(f):
                continue
            seen.add(f)
            rel = os.path.relpath(f, source_dir)
            with open(f, errors="replace") as fh:
                for n, text in enumerate(fh, 1):
                    if lay in PURE:
                        m = GRPC_OR_PROMETHEUS_INCLUDE.match(text)
                        if m:
                            errors.append(f"{rel}:{n}: {short(name)} is {lay}: it may not include "
                                          f"{m.group(1) or m.group(2)} (gRPC and prometheus belong "
                                          f"in adapter and binary targets)")
                    m = QUOTED_INCLUDE.match(text)
                    if not m:
                        continue
                    inc = m.group(1)
                    if inc.startswith(OWN_ROOTS):
                        path = os.path.join(source_dir, inc)
                    elif inc.endswith(".pb.h"):
                        path = os.path.join(gen_dir, inc)
                    else:
                        continue
                    path = os.path.normpath(path)
                    owners = owner.get(path)
                    if owners is None:
                        if inc.endswith(".pb.h"):
                            continue  # not a Kinex proto (e.g. a test's own)
                        if inc.startswith(("tests/", "bench/")) and os.path.exists(path):
                            todo.append(path)  # a test's local header: part of it
                            continue
                        errors.append(f"{rel}:{n}: {inc} is in no target's sources or HDRS")
                        continue
                    if not owners & reachable:
                        errors.append(
                            f"{rel}:{n}: {short(name)} includes {inc} of "
                            f"{', '.join(sorted(short(o) for o in owners))}, which it does not link")

    # Rule 5.
    for tname, libs, n in forbids:
        key = "kinex_" + tname
        if key not in targets:
            errors.append(f"{args.layers}:{n}: forbid names unknown target {tname}")
            continue
        deps = closure(key, targets, memo)
        for lib in libs:
            hits = [d for d in deps if fnmatch.fnmatchcase(short(d), lib)]
            for h in sorted(hits):
                errors.append(f"{tname} links {short(h)} ({args.layers}:{n} forbids it)")

    for e in sorted(set(errors)):
        print(e)
    if errors:
        print(f"check_layers: {len(set(errors))} violation(s); the layers are described in "
              f"docs/architecture.md")
        return 1
    print(f"check_layers: {len(targets)} targets, layers hold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
