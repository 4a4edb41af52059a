#!/usr/bin/env bash
# Soak: load against a real `kinex --target=all` (SQLite, durable audit) for
# --minutes (default 10). By default the realistic workload (README.md):
# --children (default 10,000) children seeded through the API, reads spread
# over them by the principals that may read each, ListChildren pages and
# republishes with current etags. With --workload=single: the mixed soak over
# the seven demo children (reads as several agencies and purposes, publishes
# with etags and stale etags, consent records and withdrawals, denials and
# break-glass reads). Reports operations by kind and outcome, unexpected
# outcomes (must be 0), the kinex process's resident memory every 10 s and
# its growth after a 1-minute warm-up (target <= 10%), the audit log's
# durability, and audit events against the events the calls imply (must be
# equal). Exit status 0 only if there were no unexpected outcomes and the
# audit check holds.
#
# Usage: bash bench/load/soak.sh [--minutes=10] [--callers=16] [--build_dir=DIR]
#                                [other kinex-bench flags, e.g. --children=10000
#                                 or --workload=single]
# The build dir (default: build/, or $KINEX_BUILD_DIR) must have kinex and
# kinex-bench built: ninja -C build kinex kinex-bench
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="${KINEX_BUILD_DIR:-$repo/build}"
minutes=10
callers=16
extra=()
for arg in "$@"; do
  case "$arg" in
    --minutes=*) minutes="${arg#*=}" ;;
    --callers=*) callers="${arg#*=}" ;;
    --build_dir=*) build_dir="${arg#*=}" ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) extra+=("$arg") ;;
  esac
done

bench="$build_dir/bin/kinex-bench"
if [[ ! -x "$bench" || ! -x "$build_dir/bin/kinex" ]]; then
  echo "soak.sh: $bench or $build_dir/bin/kinex is missing; build them first:" >&2
  echo "  ninja -C $build_dir kinex kinex-bench" >&2
  exit 2
fi

echo "soak: $(date -u +%FT%TZ) nproc=$(nproc) loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
# kinex-bench finds kinex and the test PKI (made if missing) in the build dir
# it was configured with; KINEX_BINARY_DIR points it at this one.
KINEX_BINARY_DIR="$build_dir" KINEX_SOURCE_DIR="$repo" exec "$bench" --soak \
  --minutes="$minutes" --callers="$callers" ${extra[@]+"${extra[@]}"}
