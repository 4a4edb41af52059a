#!/usr/bin/env bash
# Builds Kinex under sanitizers, each in its own build directory (reused
# between runs), and runs its tests there; any sanitizer report fails the run.
# tools/test.sh runs both after the normal suite. Extra arguments go to ctest.
#
#   bash tools/sanitize.sh address   ASan+UBSan in build-asan/: every test
#                                    but helm and the memory bounds (unit,
#                                    service, integration, PostgreSQL), kinex
#                                    processes included
#   bash tools/sanitize.sh thread    TSan in build-tsan/: only TSAN_TESTS
#                                    below, whose threads meet in Kinex code
set -euo pipefail
cd "$(dirname "$0")/.."

# Threads that meet only in Kinex code, the C++ library and absl::Mutex (seen
# by TSan through tools/sanitizers/tsan_absl_sync.cc): the audit log's
# sequencer and signer under concurrent appends, policy reloads under
# concurrent decisions, concurrent record writes to SQLite, a store's readers
# beside its writer (sql::Connections, its Pool; the consent store's reads),
# callers handing batches to each other through a Coalescer, SQLite's WAL
# checkpointed on a thread of its own (sql::WalCheckpointer), one child
# pseudonymiser (its keyed HMAC context) shared by eight threads.
# Not tests through gRPC: its lock-free queues are not instrumented, so TSan
# would report hand-offs through them as races.
TSAN_TESTS=(audit_log_test audit_chain_index_test policy_engine_test records_conformance_test
  sql_db_test consent_conformance_test audit_stored_leaf_test coalescer_test wal_checkpointer_test
  audit_event_codec_test)

kind=${1:?usage: tools/sanitize.sh address|thread [ctest arguments]}
shift
case "$kind" in
  address)
    dir=build-asan sanitize=address,undefined
    targets=(all)
    # Not server_bounds_e2e_test: it asserts resident memory, which ASan's
    # shadow memory and quarantine inflate (peak 678 MiB there).
    select=(-LE helm -E '^server_bounds_e2e_test$') ;;
  thread)
    dir=build-tsan sanitize=thread
    targets=("${TSAN_TESTS[@]}")
    select=(-R "^($(IFS='|'; echo "${TSAN_TESTS[*]}"))\\.") ;;
  *) echo "tools/sanitize.sh: unknown sanitizer '$kind' (address or thread)" >&2; exit 2 ;;
esac

bash tools/install-deps.sh
# -O1 and line tables only: a faster build, and enough for the reports.
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" \
    -DKINEX_SANITIZE="$sanitize" -DKINEX_BUILD_BENCHMARKS=OFF -DKINEX_BUILD_FUZZERS=OFF
fi
cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"

# Reports go to files, so those of kinex processes the tests start (whose
# stderr the tests may not show) fail the run too.
logs="$PWD/$dir/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
common="halt_on_error=1:log_path=$logs/report"
export ASAN_OPTIONS="$common:detect_leaks=1:strict_init_order=1"
export UBSAN_OPTIONS="$common:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$PWD/tools/sanitizers/lsan.supp:print_suppressions=0"
export TSAN_OPTIONS="$common:second_deadlock_stack=1"

status=0
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" --timeout 900 \
  "${select[@]}" "$@" || status=$?
if compgen -G "$logs/report.*" >/dev/null; then
  for f in "$logs"/report.*; do
    echo "=== $f"
    # A process a test started: name the test (its output, with the line
    # tests/testing/subprocess.cc prints for each start, is in LastTest.log).
    pid=${f##*.}
    awk -v line="subprocess: started pid $pid:" '
      /^[0-9]+\/[0-9]+ Testing: / { test = substr($0, index($0, "Testing: ") + 9) }
      index($0, line) == 1 { print "    started by " test ": " $0 }' \
      "$dir/Testing/Temporary/LastTest.log" 2>/dev/null || true
    cat "$f"
  done
  echo "tools/sanitize.sh: $kind sanitizer reports above" >&2
  status=1
fi
exit "$status"
