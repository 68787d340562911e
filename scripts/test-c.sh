#!/usr/bin/env bash
# Builds the C core and runs its cmocka tests (ctest) in the Release and the
# AddressSanitizer+UBSan configurations, then a bounded libFuzzer run.
# Usage: scripts/test-c.sh [--quick]   (quick: Release only)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

scripts/setup-system.sh

echo "== C core: Release build"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs"
(cd build/release && ctest --output-on-failure -j"$jobs")

[ "${1:-}" = "--quick" ] && exit 0

echo "== C core: ASan + UBSan build"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DLDB_SANITIZE=ON -DLDB_BENCH=OFF -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build/asan -j"$jobs"
(cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 LDB_TEST_QUICK=1 ctest --output-on-failure -j"$jobs")

if [ -f tests/fuzz/fuzz.cmake ]; then
  echo "== C core: libFuzzer (bounded run)"
  cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DLDB_FUZZ=ON -DLDB_TESTS=OFF -DLDB_BENCH=OFF -DCMAKE_C_COMPILER=clang >/dev/null
  cmake --build build/fuzz -j"$jobs"
  for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    "$f" -max_total_time="${LDB_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 12
  done
fi
