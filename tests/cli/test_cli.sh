#!/bin/sh
# End-to-end test of the ldb command-line tool: every command, exit codes,
# hex mode, and that data persists between invocations.
# Usage: test_cli.sh /path/to/ldb WORKDIR [/path/to/promtool]
# With promtool, `stats --prometheus` must pass `promtool check metrics`.
set -u
LDB=$1
DIR=$2
PROMTOOL=${3:-}
rm -rf "$DIR" && mkdir -p "$DIR"
DB=$DIR/db
pass=0
fail=0

check() { # name expected actual
  if [ "$2" = "$3" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $1: expected [$2] got [$3]"; fi
}

"$LDB" "$DB" get nothing >/dev/null 2>&1; check "get on missing db exits 3" 3 $?
"$LDB" "$DB" put user:1 Alice; check "put" 0 $?
"$LDB" "$DB" put user:2 Bob; check "put 2" 0 $?
"$LDB" "$DB" put user:3 Charlie; check "put 3" 0 $?
"$LDB" "$DB" put order:1 pizza; check "put 4" 0 $?
check "get" "Alice" "$("$LDB" "$DB" get user:1)"
"$LDB" "$DB" get user:9 >/dev/null 2>&1; check "get absent exits 1" 1 $?
# A miss prints no stale message from an earlier call (the open's).
check "get absent says only that" "ldb: get: not found (NOT_FOUND)" "$("$LDB" "$DB" get user:9 2>&1)"
check "count" "4" "$("$LDB" "$DB" count)"
check "scan prefix" "$(printf 'user:1\tAlice\nuser:2\tBob\nuser:3\tCharlie')" "$("$LDB" "$DB" scan --prefix user:)"
check "scan reverse limit" "$(printf 'user:3\tCharlie\nuser:2\tBob')" "$("$LDB" "$DB" scan --prefix user: --reverse --limit 2)"
check "scan bounds" "$(printf 'user:2\tBob')" "$("$LDB" "$DB" scan --gt user:1 --lt user:3)"
"$LDB" "$DB" del user:2; check "del" 0 $?
check "count after del" "3" "$("$LDB" "$DB" count)"
check "hex get" "416c696365" "$("$LDB" --hex "$DB" get 757365723a31)"
"$LDB" --hex "$DB" get zz >/dev/null 2>&1; check "bad hex exits 2" 2 $?
"$LDB" "$DB" checkpoint; check "checkpoint" 0 $?
check "check" "ok" "$("$LDB" "$DB" check | head -1 | cut -d: -f1)"
check "check: the tree's shape" "tree: 1 leaf page" "$("$LDB" "$DB" check | sed -n 2p | cut -d' ' -f1-4)"
"$LDB" "$DB" backup "$DIR/backup"; check "backup" 0 $?
check "backup content" "$(printf 'order:1\tpizza\nuser:1\tAlice\nuser:3\tCharlie')" "$("$LDB" "$DIR/backup" scan)"
"$LDB" "$DB" stats | grep -q '^puts'; check "stats" 0 $?
"$LDB" "$DB" stats --prometheus | grep -q '^# TYPE lightningdb_cache_hits_total counter'; check "prometheus" 0 $?
# Counters count since this process opened the database; sequence numbers
# are gauges of the database (4 puts and a delete so far).
"$LDB" "$DB" stats --prometheus | grep -q '^lightningdb_puts_total 0$'; check "prometheus puts_total" 0 $?
"$LDB" "$DB" stats --prometheus | grep -q '^lightningdb_last_seq 5$'; check "prometheus last_seq" 0 $?
"$LDB" "$DB" stats --prometheus | grep -q '^# TYPE lightningdb_last_seq gauge$'; check "prometheus seq is a gauge" 0 $?
check "prometheus: one family per series" "" "$("$LDB" "$DB" stats --prometheus | grep '^# TYPE' | awk '{print $3}' | sort | uniq -d)"
if [ -n "$PROMTOOL" ]; then
  "$LDB" "$DB" stats --prometheus | "$PROMTOOL" check metrics; check "promtool check metrics" 0 $?
else
  echo "note: no promtool given, exposition not checked by promtool"
fi
"$LDB" "$DB" frobnicate >/dev/null 2>&1; check "unknown command exits 2" 2 $?
"$LDB" --cache-sise 5 "$DB" count >/dev/null 2>&1; check "an unknown option before PATH exits 2" 2 $?
check "an unknown option is named" "ldb: unknown option '--cache-sise'" "$("$LDB" --cache-sise 5 "$DB" count 2>&1 | head -1)"
check "a failed open names the path" "ldb: open $DB.nope: not found" "$("$LDB" "$DB.nope" count 2>&1 | cut -d'(' -f1 | sed 's/ $//')"
"$LDB" "$DB" scan --limit abc >/dev/null 2>&1; check "scan --limit abc exits 2" 2 $?
"$LDB" "$DB" scan --limit -1 >/dev/null 2>&1; check "scan --limit -1 exits 2" 2 $?
check "scan --limit abc says why" "ldb: --limit must be an integer in 0..9007199254740991, got 'abc'" "$("$LDB" "$DB" scan --limit abc 2>&1 | head -1)"
check "an unknown scan option is named" "ldb: unknown scan option '--lmit'" "$("$LDB" "$DB" scan --lmit 3 2>&1 | head -1)"
"$LDB" >/dev/null 2>&1; check "no args exits 2" 2 $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
