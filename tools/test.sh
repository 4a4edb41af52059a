#!/usr/bin/env bash
# Sets up and runs every Kinex test: installs what is missing, builds, makes
# the test PKI (a ctest fixture) and runs ctest — unit, service, integration
# (real processes over mTLS), PostgreSQL (a real server started by the tests)
# and bounded fuzzing. Then, without arguments (CI), the same tests under
# ASan+UBSan and the TSan selection (tools/sanitize.sh). Extra arguments go
# to ctest for the normal build only (e.g. -L postgres, -R audit).
set -euo pipefail
cd "$(dirname "$0")/.."
# The test-only tools first: npm, then helm for the chart checks
# (helm_chart_test). Building and the demo need neither.
bash tools/install-deps.sh --tests
bash tools/install-helm.sh
bash tools/build.sh
# The tests' own directories (tests/testing/temp_dir.h, some left for
# post-mortems) go under build/test-tmp, emptied at each run: the last run's
# are there to read, and none pile up in /tmp. (PostgreSQL's, which the user
# 'nobody' must reach, stay under $TMPDIR and are removed by the tests.)
export TEST_TMPDIR="$PWD/build/test-tmp"
rm -rf "$TEST_TMPDIR"
mkdir -p "$TEST_TMPDIR"
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900 "$@"
if [ "$#" -eq 0 ]; then
  bash tools/sanitize.sh address
  bash tools/sanitize.sh thread
fi
