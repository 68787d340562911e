/*
 * test_budget.c — one memory budget for the memtables and the page cache:
 * past memtable_size the memtable grows into the part of cache_size the
 * cache does not use (up to memtable_size more), so the same writes take
 * fewer checkpoints; it does not when the cache holds its whole budget;
 * at every point what the memtables borrowed and what the cache may hold
 * stay within cache_size together, and a checkpoint gives the loan back.
 * The frozen memtable counts too: active + frozen stay within
 * memtable_size plus the loan (memtable_limit) while checkpoints lag
 * behind the writer, and when a checkpoint cannot run at all (the data
 * file refuses writes) commits fail with its error instead of growing the
 * memtable, and work again once it can.
 * Memory store (no mapping: the cache holds the tree's pages), no
 * background thread unless a test asks for one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/store_faulty.h"
#include "helpers/testutil.h"
#include "lightningdb.h"

#define MEMTABLE (512u << 10)
#define CACHE (4u << 20)
#define BATCH 100

/* 16 hex digits (and a NUL) of a bijection of i: keys in random order,
 * never repeated. */
static void key_of(uint64_t i, char k[17]) {
  uint64_t x = (i + 1) * 0x9e3779b97f4a7c15ull;
  x ^= x >> 31;
  snprintf(k, 17, "%016llx", (unsigned long long)x);
}

static ldb_db *open_db(ldb_store *s) {
  ldb_options o;
  tu_mem_options(&o, s);
  o.memtable_size = MEMTABLE;
  o.cache_size = CACHE;
  return tu_open("budget", &o);
}

static ldb_stats stats(ldb_db *db) {
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  return st;
}

/* What the borrowing may never break: the loan is within memtable_size,
 * and what the cache holds plus the active memtable's loan is within
 * cache_size. */
static void check_budget(const ldb_stats *st) {
  assert_true(st->memtable_limit >= MEMTABLE);
  assert_true(st->memtable_limit <= 2ull * MEMTABLE);
  assert_int_equal(st->cache_capacity, CACHE);
  assert_true(st->cache_bytes + (st->memtable_limit - MEMTABLE) <= CACHE);
}

static void get_some(ldb_db *db, uint64_t loaded, uint64_t n, uint64_t seed) {
  char k[17], v[128];
  size_t len;
  for (uint64_t j = 0; j < n; j++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    key_of((seed >> 33) % loaded, k);
    assert_int_equal(ldb_get_buf(db, k, 16, v, sizeof v, &len), LDB_OK);
    assert_int_equal(len, 100);
  }
}

/* Puts keys [first, first + n) in batches; after each batch, gets reads
 * random keys of [0, readable) (0: none) and the budget is checked.
 * Returns the checkpoints the writes took and the largest memtable_limit
 * seen. */
static uint64_t load(ldb_db *db, uint64_t first, uint64_t n, uint64_t readable,
                     uint64_t gets, uint64_t *max_limit) {
  ldb_batch *b;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  char k[17], v[100];
  memset(v, 'v', sizeof v);
  uint64_t cp0 = stats(db).checkpoints;
  *max_limit = 0;
  for (uint64_t i = first; i < first + n; i += BATCH) {
    ldb_batch_clear(b);
    for (uint64_t j = i; j < i + BATCH && j < first + n; j++) {
      key_of(j, k);
      assert_int_equal(ldb_batch_put(b, k, 16, v, sizeof v), LDB_OK);
    }
    assert_int_equal(ldb_write(db, b), LDB_OK);
    if (readable) get_some(db, readable, gets, i);
    ldb_stats st = stats(db);
    check_budget(&st);
    if (st.memtable_limit > *max_limit) *max_limit = st.memtable_limit;
  }
  ldb_batch_destroy(b);
  return stats(db).checkpoints - cp0;
}

/* The cache holds its whole budget: a tree larger than the cache, read
 * twice at random so that the cache keeps what it read. */
static void fill_cache(ldb_db *db, uint64_t *loaded) {
  uint64_t max_limit;
  (void)load(db, 0, 50000, 0, 0, &max_limit);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  *loaded = 50000;
  get_some(db, *loaded, 100000, 7);
  ldb_stats st = stats(db);
  assert_int_equal(st.cache_capacity, CACHE);
  assert_true(st.cache_bytes > CACHE - 16 * 4096);
}

static void test_grows_into_unused_cache(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_db(s);
  ldb_stats st = stats(db);
  assert_int_equal(st.memtable_limit, MEMTABLE);
  assert_int_equal(st.cache_capacity, CACHE);

  /* The same writes with the cache nearly empty (it holds only what the
   * checkpoints read: a smaller tree than the cache)... */
  uint64_t grown_limit;
  uint64_t grown = load(db, 0, 20000, 0, 0, &grown_limit);
  /* ...the memtable took the most it may. */
  assert_int_equal(grown_limit, 2ull * MEMTABLE);
  /* A checkpoint repays the loan. */
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  st = stats(db);
  assert_int_equal(st.memtable_limit, MEMTABLE);
  assert_int_equal(st.cache_capacity, CACHE);
  ldb_close(db);
  ldb_store_destroy(s);

  /* ...and with the cache full, kept full by reads between the writes. */
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  db = open_db(s);
  uint64_t loaded;
  fill_cache(db, &loaded);
  uint64_t kept_limit;
  uint64_t kept = load(db, loaded, 20000, loaded, 200, &kept_limit);
  assert_int_equal(kept_limit, MEMTABLE);
  st = stats(db);
  assert_int_equal(st.cache_capacity, CACHE);

  /* About 4 MB of memtable heap: some 7 checkpoints at 512 KiB, about
   * half as many with the memtable at up to 1 MiB. */
  print_message("checkpoints: %llu with the cache unused, %llu with it "
                "full\n",
                (unsigned long long)grown, (unsigned long long)kept);
  assert_true(kept >= 5);
  assert_true(grown * 3 <= kept * 2);
  ldb_close(db);
  ldb_store_destroy(s);
}

/* A cache that fills while the memtable is borrowing keeps what it holds:
 * reads fill the cache only up to cache_size less the loan, and once the
 * cache holds that, the memtable borrows no more. */
static void test_cache_keeps_its_part(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_db(s);
  uint64_t loaded, limit;
  (void)load(db, 0, 50000, 0, 0, &limit);
  loaded = 50000;
  ldb_close(db);
  /* Reopened, the cache is empty: writes without reads borrow. */
  db = open_db(s);
  (void)load(db, loaded, 3500, 0, 0, &limit);
  ldb_stats st = stats(db);
  uint64_t lent = st.memtable_limit - MEMTABLE;
  assert_true(lent > 0);
  assert_int_equal(st.checkpoints, 0);
  assert_int_equal(st.cache_capacity, CACHE);
  /* Reads of the tree (larger than the cache) fill what is left. */
  get_some(db, loaded, 100000, 11);
  st = stats(db);
  check_budget(&st);
  assert_true(st.cache_bytes + lent <= CACHE);
  assert_true(st.cache_bytes > CACHE - lent - 16 * 4096);
  /* With reads between the writes the cache stays full: the memtable
   * checkpoints at the limit it had, borrowing no more. */
  uint64_t cp = load(db, loaded + 3500, 10000, loaded, 200, &limit);
  assert_true(cp >= 1);
  assert_int_equal(limit, MEMTABLE + lent);
  ldb_close(db);
  ldb_store_destroy(s);
}

/* What the memtables may exceed their limit by: the commit that reaches it
 * (BATCH versions, under 20 KB) and the arena block it opens (the block
 * is memtable_size / 16, counted whole). */
#define SLACK (64u << 10)

/* The one budget, frozen memtable included: the memtables (active +
 * frozen, memtable_bytes) within memtable_limit, the limit's loan and the
 * cache within cache_size, so memtables and cache together within
 * cache_size + memtable_size. Returns how far the memtables are from
 * their limit (negative: over it). */
static int64_t check_total(const ldb_stats *st) {
  check_budget(st);
  if (st->memtable_bytes > st->memtable_limit + SLACK ||
      st->memtable_bytes + st->cache_bytes > CACHE + MEMTABLE + SLACK)
    fail_msg("memtables hold %llu bytes with the limit at %llu and the "
             "cache at %llu (budget %u)",
             (unsigned long long)st->memtable_bytes,
             (unsigned long long)st->memtable_limit,
             (unsigned long long)st->cache_bytes, CACHE + MEMTABLE);
  return (int64_t)st->memtable_limit - (int64_t)st->memtable_bytes;
}

/* Puts keys [first, first + n) in batches, reading `gets` random keys of
 * [0, readable) after each, and checks the whole budget after every batch.
 * Returns the checkpoints taken; *closest: the least distance seen between
 * the memtables and their limit. */
static uint64_t load_checked(ldb_db *db, uint64_t first, uint64_t n,
                             uint64_t readable, uint64_t gets,
                             int64_t *closest) {
  ldb_batch *b;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  char k[17], v[100];
  memset(v, 'v', sizeof v);
  uint64_t cp0 = stats(db).checkpoints;
  *closest = INT64_MAX;
  for (uint64_t i = first; i < first + n; i += BATCH) {
    ldb_batch_clear(b);
    for (uint64_t j = i; j < i + BATCH && j < first + n; j++) {
      key_of(j, k);
      assert_int_equal(ldb_batch_put(b, k, 16, v, sizeof v), LDB_OK);
    }
    assert_int_equal(ldb_write(db, b), LDB_OK);
    if (readable) get_some(db, readable, gets, i);
    ldb_stats st = stats(db);
    int64_t d = check_total(&st);
    if (d < *closest) *closest = d;
  }
  ldb_batch_destroy(b);
  return stats(db).checkpoints - cp0;
}

/* Without a background thread the checkpoint of a frozen memtable only
 * advances a few keys per key each commit writes: the writer outpaces it,
 * and the frozen memtable and the next one are both in memory. They stay
 * within the limit together, with the cache unused (the memtables borrow
 * up to memtable_size of it) and with the cache full (no loan: together
 * they stay within memtable_size), over several freezes. */
static void test_frozen_counts(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_db(s);
  int64_t closest;
  uint64_t cp = load_checked(db, 0, 30000, 0, 0, &closest);
  print_message("cache unused: %llu checkpoints, memtables came within %lld "
                "bytes of their limit\n",
                (unsigned long long)cp, (long long)closest);
  assert_true(cp >= 3);
  /* The memtables used the budget (the check is not vacuous). */
  assert_true(closest < (int64_t)MEMTABLE / 2);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(stats(db).memtable_limit, MEMTABLE);
  ldb_close(db);
  ldb_store_destroy(s);

  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  db = open_db(s);
  uint64_t loaded;
  fill_cache(db, &loaded);
  cp = load_checked(db, loaded, 20000, loaded, 200, &closest);
  print_message("cache full: %llu checkpoints, memtables came within %lld "
                "bytes of their limit\n",
                (unsigned long long)cp, (long long)closest);
  assert_true(cp >= 3);
  assert_true(closest < (int64_t)MEMTABLE / 2);
  assert_int_equal(stats(db).memtable_limit, MEMTABLE);
  get_some(db, loaded + 20000, 20000, 3);
  ldb_close(db);
  ldb_store_destroy(s);
}

/* A checkpoint that cannot run (every write of the data file fails with
 * code; the log still takes commits): commits go on until the memtables
 * reach their limit, then fail with code (the background error) and leave
 * the memtables as they are; reads keep working; once the data file takes
 * writes again, the retried checkpoint succeeds and commits work without a
 * reopen. threaded: a background thread retries the checkpoint; else the
 * commits retry it once its back-off has passed. */
static void blocked_checkpoint(int code, int threaded) {
  ldb_store *inner, *fs;
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  ldb_options o;
  tu_mem_options(&o, fs);
  o.memtable_size = MEMTABLE;
  o.cache_size = CACHE;
  o.background_checkpoint = threaded;
  ldb_db *db = tu_open("blocked", &o);
  ldb_faulty_only_file(fs, "data.ldb");
  ldb_faulty_fail_nth(fs, 1, LDB_FAULT_WRITE, code, 1);

  char k[17], v[100];
  memset(v, 'v', sizeof v);
  ldb_batch *b;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  uint64_t acked = 0;
  int rc = LDB_OK;
  while (acked < 200000) {
    ldb_batch_clear(b);
    for (uint64_t j = acked; j < acked + BATCH; j++) {
      key_of(j, k);
      assert_int_equal(ldb_batch_put(b, k, 16, v, sizeof v), LDB_OK);
    }
    rc = ldb_write(db, b);
    ldb_stats st = stats(db);
    (void)check_total(&st);
    if (rc) break;
    acked += BATCH;
  }
  print_message("%s, %s: %llu keys accepted, then %s (%s)\n",
                ldb_code_name(code), threaded ? "threaded" : "no thread",
                (unsigned long long)acked, ldb_code_name(rc), ldb_errmsg(NULL));
  assert_int_equal(rc, code);
  assert_non_null(strstr(ldb_errmsg(NULL), "write refused"));
  ldb_stats st = stats(db);
  assert_int_equal(st.background_error, code);
  /* The limit was reached: several memtables' worth of writes were taken
   * first, not refused at once. */
  assert_true(acked >= 2000);
  /* Refusals write nothing and hold the memtables where they are; the
   * checkpoint is retried meanwhile (its back-off is 200 ms). */
  uint64_t mem = st.memtable_bytes, seq = st.last_seq;
  for (int i = 0; i < 5; i++) {
    tu_sleep_ms(100);
    assert_int_equal(ldb_put(db, "x", 1, "y", 1), code);
    assert_int_equal(ldb_write(db, b), code);
  }
  st = stats(db);
  assert_int_equal(st.memtable_bytes, mem);
  assert_int_equal(st.last_seq, seq);
  /* Reads work: every acknowledged key is there. */
  get_some(db, acked, 5000, 5);
  size_t len;
  assert_int_equal(ldb_get_buf(db, "x", 1, v, sizeof v, &len), LDB_NOTFOUND);

  /* Space returns: writes work again without a reopen (threaded, once the
   * background thread's retry succeeded; else the commit retries). */
  ldb_faulty_clear(fs);
  int tries = 0;
  while ((rc = ldb_write(db, b)) == code && tries++ < 100)
    tu_sleep_ms(50);
  assert_int_equal(rc, LDB_OK);
  acked += BATCH;
  int64_t closest;
  (void)load_checked(db, acked, 10000, acked, 20, &closest);
  acked += 10000;
  st = stats(db);
  assert_int_equal(st.background_error, LDB_OK);
  /* An I/O error of automatic work is reported once by the next
   * ldb_checkpoint (the store refused a write); a full disk is not. */
  rc = ldb_checkpoint(db);
  if (rc == LDB_IOERR && code == LDB_IOERR) rc = ldb_checkpoint(db);
  assert_int_equal(rc, LDB_OK);
  ldb_batch_destroy(b);
  ldb_close(db);
  db = tu_open("blocked", &o);
  get_some(db, acked, 20000, 9);
  ldb_close(db);
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
}

static void test_blocked_full(void **state) {
  (void)state;
  blocked_checkpoint(LDB_FULL, 0);
}

static void test_blocked_full_threaded(void **state) {
  (void)state;
  blocked_checkpoint(LDB_FULL, 1);
}

static void test_blocked_ioerr(void **state) {
  (void)state;
  blocked_checkpoint(LDB_IOERR, 0);
}

static void test_blocked_ioerr_threaded(void **state) {
  (void)state;
  blocked_checkpoint(LDB_IOERR, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grows_into_unused_cache),
      cmocka_unit_test(test_cache_keeps_its_part),
      cmocka_unit_test(test_frozen_counts),
      cmocka_unit_test(test_blocked_full),
      cmocka_unit_test(test_blocked_full_threaded),
      cmocka_unit_test(test_blocked_ioerr),
      cmocka_unit_test(test_blocked_ioerr_threaded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
