#!/usr/bin/env bash
# Checks the formatting of every C file in the repository, builds the C core
# and runs its cmocka tests (ctest) in the Release and the
# AddressSanitizer+UBSan configurations, then a bounded libFuzzer run.
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
finish() {
  [ "$fmt_rc" -eq 0 ] || echo "FAILED: some C files are not clang-formatted (listed above)" >&2
  exit "$fmt_rc"
}

echo "== C core: Release build"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$jobs"
(cd build/release && ctest --output-on-failure -j"$jobs")

[ "${1:-}" = "--quick" ] && finish

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

finish
