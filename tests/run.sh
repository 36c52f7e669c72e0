#!/usr/bin/env bash
# Installs every dependency (Debian packages, npm test clients), builds Spindle with its tests and runs the whole
# suite: unit and integration tests (real OTLP clients, loopback, port 0), then the cross-shard queue tests
# under ThreadSanitizer.
#   tests/run.sh             the suite (what CI runs)
#   tests/run.sh --asan      the suite under ASan+UBSan as well
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
"$root/deploy/install_deps.sh" --test

configure() {  # configure DIR [cmake args...]
  local dir=$1; shift
  cmake -S "$root" -B "$dir" "$@" >/dev/null
}

configure "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "$root/build" -j"$jobs"
ctest --test-dir "$root/build" --output-on-failure -L 'unit|integration' -j"$jobs"

# The cross-thread code is what TSan exists for: the shard runtime (SPSC mesh), the WAL (its sync thread) and the
# trace store (block writes and compaction on libuv's thread pool, reading cuts the loop keeps using).
configure "$root/build-tsan" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSPINDLE_SANITIZE=thread
cmake --build "$root/build-tsan" -j"$jobs" --target spsc_queue_test shard_set_test wal_test \
  trace_store_test
ctest --test-dir "$root/build-tsan" --output-on-failure -R 'SpscQueue|ShardSet|WalTest|TraceStoreTest' -E 'NOT_BUILT' \
  -j"$jobs"

if [ "${1:-}" = "--asan" ]; then
  configure "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DSPINDLE_SANITIZE=address
  cmake --build "$root/build-asan" -j"$jobs"
  ctest --test-dir "$root/build-asan" --output-on-failure -L 'unit|integration' -j"$jobs"
fi
