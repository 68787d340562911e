#!/usr/bin/env bash
# Checks the formatting of every C file in the repository, builds the C core,
# checks that its files do not depend on each other in a cycle
# (scripts/check-core-deps.mjs), and runs its cmocka tests (ctest) in the
# Release and the
# AddressSanitizer+UBSan configurations, the multi-threaded ones under
# ThreadSanitizer, then a bounded libFuzzer run.
# Usage: scripts/test-c.sh [--quick]   (quick: Release only)
# A formatting failure does not stop the tests; it fails the script at the
# end (fix with: clang-format -i FILE, .clang-format at the root).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

scripts/setup-system.sh

echo "== C sources: clang-format --dry-run --Werror"
fmt_rc=0
mapfile -t c_files < <(git ls-files '*.c' '*.h' | grep -v '^third_party/')
if ! clang-format --dry-run --Werror "${c_files[@]}" 2>/tmp/ldb-clang-format.$$; then
  fmt_rc=1
  echo "not clang-formatted:" >&2
  grep -oE '^[^: ]+\.[ch]:' /tmp/ldb-clang-format.$$ | sort -u | sed 's/:$//;s/^/  /' >&2
fi
rm -f /tmp/ldb-clang-format.$$
deps_rc=0
finish() {
  [ "$fmt_rc" -eq 0 ] || echo "FAILED: some C files are not clang-formatted (listed above)" >&2
  [ "$deps_rc" -eq 0 ] || echo "FAILED: the core's files depend on each other in a cycle (listed above)" >&2
  [ "$fmt_rc" -eq 0 ] && [ "$deps_rc" -eq 0 ]
  exit $?
}

echo "== C core: Release build"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs"
node scripts/check-core-deps.mjs build/release/CMakeFiles/ldb_objects.dir/core/src || deps_rc=1
(cd build/release && ctest --output-on-failure -j"$jobs")

[ "${1:-}" = "--quick" ] && finish

echo "== C core: ASan + UBSan build"
# ASan runs the tests 3-5x slower: at load 20 test_mmap needed more than 600 s
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DLDB_SANITIZE=ON -DLDB_BENCH=OFF -DLDB_TEST_TIMEOUT=1500 -DCMAKE_C_COMPILER=clang >/dev/null
cmake --build build/asan -j"$jobs"
(cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 LDB_TEST_QUICK=1 ctest --output-on-failure -j"$jobs")

echo "== C core: ThreadSanitizer (the multi-threaded tests: readers against a writer and checkpoints, through the page cache and the mapping; memtable lookups and scans while the writer inserts and indexes the tail; bank transfers and audits across checkpoints; a change-feed reader while the log rotates)"
cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLDB_TSAN=ON -DLDB_BENCH=OFF -DLDB_TOOLS=OFF -DCMAKE_C_COMPILER=clang >/dev/null
tsan_tests=(test_concurrency test_mmap test_btree test_readers_big test_memtable test_memtable_race test_feed_model test_txn)
cmake --build build/tsan --target "${tsan_tests[@]}" -j"$jobs"
mkdir -p build/tsan/tmp
for t in "${tsan_tests[@]}"; do
  echo "-- $t (TSan)"
  LDB_TEST_TMP="$PWD/build/tsan/tmp" LDB_TEST_QUICK=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 "build/tsan/$t"
done

if [ -f tests/fuzz/fuzz.cmake ]; then
  echo "== C core: libFuzzer (bounded run)"
  cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=Debug -DLDB_FUZZ=ON -DLDB_TESTS=OFF -DLDB_BENCH=OFF -DCMAKE_C_COMPILER=clang >/dev/null
  cmake --build build/fuzz -j"$jobs"
  for f in build/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    "$f" -max_total_time="${LDB_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 -print_final_stats=1 2>&1 | tail -n 12
  done
fi

finish
