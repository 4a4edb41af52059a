#!/usr/bin/env bash
# Sets up and runs every Kinex test: installs what is missing, builds, makes
# the test PKI (a ctest fixture) and runs ctest — unit, service, integration
# (real processes over mTLS), PostgreSQL (a real server started by the tests)
# and bounded fuzzing. Extra arguments go to ctest (e.g. -L postgres, -R audit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900 "$@"
