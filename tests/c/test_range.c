/*
 * test_range.c — what issue 15 added to the engine: the empty key (a key
 * like any other, through the memtable, the log, the B+tree, iterators and
 * recovery), ldb_count and ldb_delete_range (bounds, prefix, reverse,
 * limit, inside transactions, statistics), and the value codecs snappy and
 * auto (round trips, what auto picks, files written with one codec read
 * with another setting).
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

static ldb_db *open_mem(ldb_store *s, int compression) {
  ldb_options o;
  tu_mem_options(&o, s);
  o.compression = compression;
  return tu_open("mem", &o);
}

static int has(ldb_db *db, const void *k, size_t kl) {
  size_t n = 0;
  int rc = ldb_get_buf(db, k, kl, NULL, 0, &n);
  assert_true(rc == LDB_OK || rc == LDB_NOTFOUND);
  return rc == LDB_OK;
}

static uint64_t count(ldb_db *db, ldb_txn *t, const ldb_iter_options *o) {
  uint64_t n = 99999;
  assert_int_equal(ldb_count(db, t, o, &n), LDB_OK);
  return n;
}

/* The empty key sorts first, survives checkpoint and reopen (log replay
 * and the B+tree), and works as an iterator bound and in batches and
 * transactions. */
static void test_empty_key(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, LDB_COMPRESSION_NONE);
  assert_int_equal(ldb_put(db, NULL, 0, "empty", 5), LDB_OK);
  tu_put_s(db, "a", "1");
  char buf[16];
  size_t n = 0;
  assert_int_equal(ldb_get_buf(db, "", 0, buf, sizeof buf, &n), LDB_OK);
  assert_int_equal(n, 5);
  assert_memory_equal(buf, "empty", 5);
  /* first in order; an empty inclusive lower bound includes it, an
   * empty exclusive one skips it, an empty exclusive upper bound is
   * nothing */
  ldb_iter *it;
  assert_int_equal(ldb_iter_create(db, NULL, NULL, &it), LDB_OK);
  assert_int_equal(ldb_iter_first(it), LDB_OK);
  const void *k;
  size_t kl;
  assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
  assert_int_equal(kl, 0);
  ldb_iter_destroy(it);
  ldb_iter_options o = {0};
  o.lower = "";
  assert_int_equal(count(db, NULL, &o), 2);
  o.lower_exclusive = 1;
  assert_int_equal(count(db, NULL, &o), 1);
  memset(&o, 0, sizeof o);
  o.upper = "";
  o.upper_exclusive = 1;
  assert_int_equal(count(db, NULL, &o), 0);
  o.upper_exclusive = 0;
  assert_int_equal(count(db, NULL, &o), 1);
  /* through the log (reopen replays it) and the B+tree (checkpoint) */
  assert_int_equal(ldb_close(db), LDB_OK);
  db = open_mem(s, LDB_COMPRESSION_NONE);
  assert_true(has(db, "", 0));
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  db = open_mem(s, LDB_COMPRESSION_NONE);
  assert_true(has(db, "", 0));
  /* batches and transactions */
  ldb_batch *b;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  assert_int_equal(ldb_batch_delete(b, "", 0), LDB_OK);
  assert_int_equal(ldb_write(db, b), LDB_OK);
  ldb_batch_destroy(b);
  assert_false(has(db, "", 0));
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "", 0, "", 0), LDB_OK);
  assert_int_equal(ldb_txn_get_buf(t, "", 0, buf, sizeof buf, &n), LDB_OK);
  assert_int_equal(n, 0);
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  assert_true(has(db, "", 0));
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(ldb_delete(db, "", 0), LDB_OK);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_false(has(db, "", 0));
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

static void test_count_delete_range(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, LDB_COMPRESSION_NONE);
  char k[16];
  for (int i = 0; i < 1000; i++) {
    snprintf(k, sizeof k, "k%04d", i);
    tu_put_s(db, k, "v");
    if (i == 500) assert_int_equal(ldb_checkpoint(db), LDB_OK);
  }
  tu_put_s(db, "z", "v");
  ldb_stats s0, s1;
  assert_int_equal(ldb_stats_get(db, &s0), LDB_OK);
  assert_int_equal(count(db, NULL, NULL), 1001);
  ldb_iter_options o = {0};
  o.prefix = "k";
  o.prefix_len = 1;
  assert_int_equal(count(db, NULL, &o), 1000);
  o.lower = "k0100";
  o.lower_len = 5;
  o.upper = "k0200";
  o.upper_len = 5;
  o.upper_exclusive = 1;
  assert_int_equal(count(db, NULL, &o), 100);
  /* [k0100, k0200): limit 10 from the top (reverse) */
  uint64_t del = 0;
  o.reverse = 1;
  assert_int_equal(ldb_delete_range(db, NULL, &o, 10, &del), LDB_OK);
  assert_int_equal(del, 10);
  assert_true(has(db, "k0189", 5));
  assert_false(has(db, "k0190", 5));
  o.reverse = 0;
  assert_int_equal(ldb_delete_range(db, NULL, &o, UINT64_MAX, &del), LDB_OK);
  assert_int_equal(del, 90);
  assert_int_equal(count(db, NULL, &o), 0);
  assert_true(has(db, "k0099", 5));
  assert_true(has(db, "k0200", 5));
  /* an empty range deletes nothing and is not counted as a call */
  assert_int_equal(ldb_delete_range(db, NULL, &o, UINT64_MAX, &del), LDB_OK);
  assert_int_equal(del, 0);
  assert_int_equal(ldb_stats_get(db, &s1), LDB_OK);
  assert_int_equal(s1.range_deletes - s0.range_deletes, 2);
  assert_int_equal(s1.deletes - s0.deletes, 100);
  assert_int_equal(s1.commits - s0.commits, 2);
  assert_int_equal(s1.batches - s0.batches, 0);
  assert_int_equal(s1.counts - s0.counts, 4);

  /* inside a transaction: buffered until commit, seen by its own count */
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  memset(&o, 0, sizeof o);
  o.lower = "k0900";
  o.lower_len = 5;
  assert_int_equal(ldb_txn_put(t, "k0950x", 6, "new", 3), LDB_OK);
  assert_int_equal(ldb_delete_range(db, t, &o, UINT64_MAX, &del), LDB_OK);
  assert_int_equal(del, 102); /* k0900..k0999, k0950x, z */
  assert_int_equal(count(db, t, &o), 0);
  assert_int_equal(count(db, NULL, &o), 101); /* not committed yet */
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  assert_int_equal(count(db, NULL, &o), 0);
  assert_int_equal(count(db, NULL, NULL), 800);
  /* an aborted one applies nothing; a read-only one refuses */
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  assert_int_equal(ldb_delete_range(db, t, NULL, UINT64_MAX, &del), LDB_OK);
  assert_int_equal(del, 800);
  ldb_txn_abort(t);
  assert_int_equal(count(db, NULL, NULL), 800);
  assert_int_equal(ldb_txn_begin(db, LDB_TXN_READONLY, &t), LDB_OK);
  assert_int_equal(ldb_delete_range(db, t, NULL, UINT64_MAX, &del),
                   LDB_READONLY);
  assert_int_equal(count(db, t, NULL), 800);
  ldb_txn_abort(t);
  /* a concurrent commit into a range a transaction cleared conflicts */
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  assert_int_equal(ldb_delete_range(db, t, NULL, UINT64_MAX, &del), LDB_OK);
  tu_put_s(db, "k0000", "changed");
  assert_int_equal(ldb_txn_commit(t), LDB_CONFLICT);
  /* everything, then the survivors of a checkpoint */
  assert_int_equal(ldb_delete_range(db, NULL, NULL, UINT64_MAX, &del), LDB_OK);
  assert_int_equal(del, 800);
  int crc = ldb_checkpoint(db);
  if (crc) fprintf(stderr, "checkpoint: %s\n", ldb_errmsg(db));
  assert_int_equal(crc, LDB_OK);
  assert_int_equal(count(db, NULL, NULL), 0);
  assert_int_equal(ldb_check(db), LDB_OK);
  /* refusals */
  assert_int_equal(ldb_count(db, NULL, NULL, NULL), LDB_INVALID);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_options ro;
  ldb_options_default(&ro);
  ro.store = s;
  ro.read_only = 1;
  assert_int_equal(ldb_open("mem", &ro, &db), LDB_OK);
  assert_int_equal(ldb_delete_range(db, NULL, NULL, UINT64_MAX, &del),
                   LDB_READONLY);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

/* Values that compress (repeated text), that do not (random bytes), and
 * small ones. */
static void make_value(int kind, uint32_t seed, uint8_t *v, size_t n) {
  static const char words[] = "lightning database values compress well ";
  uint64_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v[i] = kind == 0 ? (uint8_t)words[(i + seed) % (sizeof words - 1)]
                     : (uint8_t)x;
  }
}

static void check_values(ldb_db *db, int nvals) {
  uint8_t want[3000], got[3000];
  char k[16];
  for (int i = 0; i < nvals; i++) {
    snprintf(k, sizeof k, "v%04d", i);
    size_t n = (size_t)(i % 3 == 2 ? 40 : 3000);
    make_value(i % 3 == 1, (uint32_t)i, want, n);
    size_t len = 0;
    assert_int_equal(ldb_get_buf(db, k, strlen(k), got, sizeof got, &len),
                     LDB_OK);
    assert_int_equal(len, n);
    assert_memory_equal(got, want, n);
  }
}

/* Every codec round-trips through the B+tree; a file written with one
 * codec reads under every other setting (the codec is stored per value);
 * auto compresses the compressible values and stores the random ones raw,
 * and the values_* statistics say so. */
static void test_codecs(void **st) {
  (void)st;
  static const int codecs[] = {LDB_COMPRESSION_SNAPPY, LDB_COMPRESSION_AUTO,
                               LDB_COMPRESSION_LZ4, LDB_COMPRESSION_ZSTD,
                               LDB_COMPRESSION_NONE};
  const int nvals = 90;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  uint8_t v[3000];
  char k[16];
  for (size_t c = 0; c < sizeof codecs / sizeof codecs[0]; c++) {
    ldb_db *db = open_mem(s, codecs[c]);
    check_values(db, (int)c ? nvals : 0); /* written under earlier codecs */
    ldb_stats s0, s1;
    assert_int_equal(ldb_stats_get(db, &s0), LDB_OK);
    for (int i = 0; i < nvals; i++) {
      snprintf(k, sizeof k, "v%04d", i);
      size_t n = (size_t)(i % 3 == 2 ? 40 : 3000);
      make_value(i % 3 == 1, (uint32_t)i, v, n);
      assert_int_equal(ldb_put(db, k, strlen(k), v, n), LDB_OK);
    }
    assert_int_equal(ldb_checkpoint(db), LDB_OK);
    assert_int_equal(ldb_check(db), LDB_OK);
    check_values(db, nvals);
    assert_int_equal(ldb_stats_get(db, &s1), LDB_OK);
    uint64_t raw = s1.values_raw - s0.values_raw;
    uint64_t lz4 = s1.values_lz4 - s0.values_lz4;
    uint64_t zstd = s1.values_zstd - s0.values_zstd;
    uint64_t snappy = s1.values_snappy - s0.values_snappy;
    /* 30 compressible, 30 random of 3000 bytes; 30 of 40 bytes (too
     * small: not counted) */
    switch (codecs[c]) {
    case LDB_COMPRESSION_NONE:
      assert_int_equal(raw + lz4 + zstd + snappy, 0);
      break;
    case LDB_COMPRESSION_SNAPPY:
      assert_int_equal(snappy, 30);
      assert_int_equal(raw, 30);
      assert_int_equal(lz4 + zstd, 0);
      break;
    case LDB_COMPRESSION_LZ4:
      assert_int_equal(lz4, 30);
      assert_int_equal(raw, 30);
      break;
    case LDB_COMPRESSION_ZSTD:
      assert_int_equal(zstd, 30);
      assert_int_equal(raw, 30);
      break;
    case LDB_COMPRESSION_AUTO:
      assert_int_equal(lz4 + zstd + snappy, 30);
      assert_int_equal(raw, 30);
      break;
    }
    assert_int_equal(ldb_close(db), LDB_OK);
  }
  /* an unknown codec number is refused at open */
  ldb_options o;
  ldb_options_default(&o);
  o.store = s;
  o.compression = 5;
  ldb_db *db = NULL;
  assert_int_equal(ldb_open("mem", &o, &db), LDB_INVALID);
  assert_int_equal(ldb_options_set_string(&o, "compression", "snappy"), LDB_OK);
  assert_int_equal(o.compression, LDB_COMPRESSION_SNAPPY);
  assert_int_equal(ldb_options_set_string(&o, "compression", "auto"), LDB_OK);
  assert_int_equal(o.compression, LDB_COMPRESSION_AUTO);
  ldb_store_destroy(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_key),
      cmocka_unit_test(test_count_delete_range),
      cmocka_unit_test(test_codecs),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
