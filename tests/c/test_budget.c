/*
 * test_budget.c — one memory budget for the memtable and the page cache:
 * past memtable_size the memtable grows into the part of cache_size the
 * cache does not use (up to memtable_size more), so the same writes take
 * fewer checkpoints; it does not when the cache holds its whole budget;
 * at every point what the memtable borrowed and what the cache may hold
 * stay within cache_size together, and a checkpoint gives the loan back.
 * Memory store (no mapping: the cache holds the tree's pages), no
 * background thread, so every run is the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_grows_into_unused_cache),
      cmocka_unit_test(test_cache_keeps_its_part),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
