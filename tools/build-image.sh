#!/usr/bin/env bash
# Builds the Kinex container image without any public container registry, and
# checks it: a Debian 12 base made with mmdebstrap from Debian's own mirror,
# imported with podman, then the project's build in it (tools/Dockerfile),
# then `kinex --version` and a real mTLS health check in the built image.
#
#   tools/build-image.sh [--ref GIT_REF] [--tag kinex:0.1.0] [--mirror URL]
#                        [--work DIR] [--keep-base]
#
# The build context is the working tree, or with --ref (e.g. HEAD) that
# commit's tree (`git archive`), so uncommitted edits stay out of the image.
# --keep-base reuses the imported base image of an earlier run.
# Needs root (or a rootless podman set-up) and the Debian 12 packages podman
# and mmdebstrap (`apt-get install podman mmdebstrap`; runc as well on hosts
# whose cgroups are in hybrid v1/v2 mode, which crun refuses). Network access
# to the Debian mirror only (apt inside the build). Prints each step's
# duration and the total.
#
# tools/Dockerfile stays the description of the image; this script builds a
# copy of it whose two `FROM debian:12-slim` lines name the mmdebstrap base
# instead (podman build --pull=never, so nothing is fetched from a registry).
#
# Host quirks handled (both seen on the Firecracker build VM): podman's default
# ulimits exceed what an unprivileged-for-rlimits root may set (no
# CAP_SYS_RESOURCE), so containers get explicit lower ulimits; and crun refuses
# hybrid cgroups, so runc is used when it is installed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
tag="kinex:$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$repo/helm/kinex/Chart.yaml")"
mirror="http://deb.debian.org/debian"
work=""
ref=""
keep_base=0
while [ $# -gt 0 ]; do
  case "$1" in
    --ref) ref=${2:?}; shift 2 ;;
    --tag) tag=${2:?}; shift 2 ;;
    --mirror) mirror=${2:?}; shift 2 ;;
    --work) work=${2:?}; shift 2 ;;
    --keep-base) keep_base=1; shift ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done

fail() { echo "build-image: FAIL: $*" >&2; exit 1; }
t_start=$(date +%s)
step() { echo "build-image: [$(($(date +%s) - t_start))s] $*"; }

for c in podman mmdebstrap openssl; do
  command -v "$c" >/dev/null 2>&1 ||
    fail "$c is not installed (Debian 12: apt-get install podman mmdebstrap openssl)"
done
if [ -z "$work" ]; then
  work=$(mktemp -d /tmp/kinex-image.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
base="localhost/kinex-debian-base:12"

podman_args=()
if command -v runc >/dev/null 2>&1; then
  podman_args+=(--runtime "$(command -v runc)")
fi
# Below the host's limits: podman's defaults (1048576 files) need
# CAP_SYS_RESOURCE to set.
nofile=$(ulimit -Hn)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nofile" -gt 65536 ] && nofile=65536
limits=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=16384:16384")

# --- 1. the base: Debian 12 from Debian's mirror ----------------------------
if [ $keep_base -eq 1 ] && podman image exists "$base"; then
  step "reusing $base"
else
  step "mmdebstrap: Debian 12 (bookworm) minbase from $mirror"
  mmdebstrap --quiet --variant=minbase --include=ca-certificates \
    --aptopt='APT::Install-Recommends "false"' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
    bookworm "$work/base.tar" "deb $mirror bookworm main" \
    "deb $mirror bookworm-updates main" "deb http://security.debian.org/debian-security bookworm-security main" ||
    fail "mmdebstrap"
  step "podman import -> $base ($(du -h "$work/base.tar" | cut -f1) tar)"
  podman import --quiet "$work/base.tar" "$base" >/dev/null || fail "podman import"
  rm -f "$work/base.tar"
fi

# --- 2. the project's build (tools/Dockerfile, from the local base) ---------
df="$work/Containerfile"
sed "s#^FROM debian:12-slim#FROM $base#" "$repo/tools/Dockerfile" >"$df"
grep -q "^FROM $base AS build" "$df" || fail "tools/Dockerfile has no 'FROM debian:12-slim AS build'"
context=$repo
if [ -n "$ref" ]; then
  rev=$(git -C "$repo" rev-parse --verify "$ref^{commit}") || fail "--ref $ref is not a commit"
  context="$work/src"
  rm -rf "$context"
  mkdir -p "$context"
  git -C "$repo" archive "$rev" | tar -x -C "$context" || fail "git archive $rev"
  step "build context: $ref ($rev)"
fi
step "podman build -t $tag (install-deps + build of kinex and kinexctl inside)"
podman "${podman_args[@]}" build --pull=never "${limits[@]}" -f "$df" -t "$tag" \
  "$context" || fail "podman build"

# --- 3. check the image -----------------------------------------------------
run() { podman "${podman_args[@]}" run --rm "${limits[@]}" --network=none "$@"; }
step "kinex --version in $tag"
version=$(run "$tag" --version) || fail "kinex --version in the image"
echo "build-image: kinex --version: ${version//$'\n'/ | }"
case "$version" in kinex*) ;; *) fail "unexpected kinex --version output: $version" ;; esac

step "health check: the policy target in $tag, probed with kinexctl health over mTLS"
bash "$repo/certs/make-dev-pki.sh" "$work/pki" >/dev/null || fail "certs/make-dev-pki.sh"
hc="$work/hc"
mkdir -p "$hc"
cp "$work/pki/ca.pem" "$work/pki/services/policy.pem" "$work/pki/services/policy.key" "$hc/"
cat >"$hc/kinex.textproto" <<'EOF'
target: "policy"
data_dir: "/tmp/kinex"
trust_domain: "kinex.dev"
tls {
  ca_file: "/hc/ca.pem"
  cert_file: "/hc/policy.pem"
  key_file: "/hc/policy.key"
}
listen { policy: "127.0.0.1:7444" metrics: "127.0.0.1:9464" }
policy { policy_dir: "/usr/share/kinex/policy" }
EOF
# The image runs as uid 65532, and kinex wants its key 0600 and its own.
chown -R 65532:65532 "$hc"
chmod 0600 "$hc/policy.key"
health=$(run --read-only --tmpfs /tmp --cap-drop=ALL --security-opt=no-new-privileges \
  -v "$hc:/hc:ro" --entrypoint /bin/sh "$tag" -ec '
    mkdir -p /tmp/kinex
    /usr/local/bin/kinex --target=policy --config=/hc/kinex.textproto >/tmp/kinex.log 2>&1 &
    pid=$!
    for i in $(seq 60); do
      if out=$(/usr/local/bin/kinexctl --address=127.0.0.1:7444 --ca=/hc/ca.pem \
               --cert=/hc/policy.pem --key=/hc/policy.key health 2>&1); then
        echo "$out"; kill $pid; wait $pid || true; exit 0
      fi
      sleep 0.5
    done
    echo "no SERVING after 30 s: $out" >&2; cat /tmp/kinex.log >&2; exit 1') ||
  fail "health check in the image"
[ "$health" = SERVING ] || fail "kinexctl health answered \"$health\", want SERVING"
echo "build-image: kinexctl health: $health"

size=$(podman image inspect "$tag" --format '{{.Size}}')
step "PASS: $tag ($((size / 1024 / 1024)) MiB), total $(( $(date +%s) - t_start )) s"
