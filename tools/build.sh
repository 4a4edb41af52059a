#!/usr/bin/env bash
# Installs what is missing and builds Kinex into build/ (one build directory,
# reused by every command). Extra arguments are ninja targets (default: all).
# Needs neither helm nor npm: only the chart checks do, and tools/test.sh
# installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build build -j "$(nproc)" ${1:+--target "$@"}
