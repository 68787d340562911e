/*
 * test_space.c — space reuse: 10,000 keys overwritten 50 times on the
 * posix store with checkpoints in between. Copy-on-write pages freed by
 * each checkpoint must be reused, so the data file stays under 3x its size
 * after the first load; the log is trimmed by checkpoints. And leaf fill:
 * sparse random inserts per checkpoint keep the leaves mostly full.
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

static void load(ldb_db *db, int nkeys, int round, tu_rng *r) {
  ldb_batch *b = NULL;
  uint8_t v[120];
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  for (int i = 0; i < nkeys; i++) {
    char k[16];
    snprintf(k, sizeof k, "key%06d", i);
    tu_fill(r, v, sizeof v);
    memcpy(v, &round, sizeof round);
    assert_int_equal(ldb_batch_put(b, k, strlen(k), v, 60 + i % 60), LDB_OK);
    if (ldb_batch_count(b) == 1000) {
      assert_int_equal(ldb_write(db, b), LDB_OK);
      ldb_batch_clear(b);
    }
  }
  if (ldb_batch_count(b)) assert_int_equal(ldb_write(db, b), LDB_OK);
  ldb_batch_destroy(b);
}

static void test_space_reuse(void **state) {
  (void)state;
  uint64_t seed = tu_seed("space");
  tu_rng r;
  tu_rng_init(&r, seed);
  char *dir = tu_tmpdir("space");
  char path[4200];
  snprintf(path, sizeof path, "%s/data.ldb", dir);
  ldb_options o;
  ldb_options_default(&o);
  o.sync_mode = LDB_SYNC_OFF;
  o.memtable_size = 4u << 20;
  ldb_db *db = NULL;
  int nkeys = 10000, rounds = (int)tu_scale(50, 5, 10);
  assert_int_equal(ldb_open(dir, &o, &db), LDB_OK);
  load(db, nkeys, 0, &r);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  long long first = tu_file_size(path);
  assert_true(first > 0);
  long long peak = first;
  for (int round = 1; round <= rounds; round++) {
    load(db, nkeys, round, &r);
    if (round % 2 == 0 || round == rounds)
      assert_int_equal(ldb_checkpoint(db), LDB_OK);
    long long sz = tu_file_size(path);
    if (sz > peak) peak = sz;
  }
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  printf("space: data file %lld bytes after the first load, peak %lld, "
         "final %lld (%llu pages, %llu free); log %llu bytes\n",
         first, peak, tu_file_size(path), (unsigned long long)st.page_count,
         (unsigned long long)st.free_pages,
         (unsigned long long)st.log_file_size);
  if (peak >= 3 * first)
    fprintf(stderr,
            "space: data file grew to %lld bytes, over 3x the %lld "
            "bytes after the first load (seed %llu)\n",
            peak, first, (unsigned long long)seed);
  assert_true(peak < 3 * first);
  /* The log does not grow without bound either. */
  assert_true(st.log_file_size < 64ull << 20);
  /* Every key holds the last round's value. */
  for (int i = 0; i < nkeys; i += 97) {
    char k[16];
    void *v = NULL;
    size_t vl;
    int round;
    snprintf(k, sizeof k, "key%06d", i);
    assert_int_equal(ldb_get(db, k, strlen(k), &v, &vl), LDB_OK);
    memcpy(&round, v, sizeof round);
    assert_int_equal(round, rounds);
    ldb_free(db, v);
  }
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  tu_rmrf(dir);
  free(dir);
}

/* Random inserts into a tree many times larger than what each checkpoint
 * merges (about one key per leaf per checkpoint, as a 10M-key load with
 * the default memtable): the leaves stay mostly full. Leaves repacked full
 * one after another left a leaf of a few cells after each one that split,
 * and the tree ended a third full (ldb_check_report counts the bytes). */
static void test_leaf_fill_sparse_inserts(void **state) {
  (void)state;
  uint64_t seed = tu_seed("leaf_fill");
  tu_rng r;
  tu_rng_init(&r, seed);
  char *dir = tu_tmpdir("leaf_fill");
  ldb_options o;
  ldb_options_default(&o);
  o.sync_mode = LDB_SYNC_OFF;
  ldb_db *db = NULL;
  assert_int_equal(ldb_open(dir, &o, &db), LDB_OK);
  /* 16-byte keys, 100-byte values: 31 cells fill a 4 KiB leaf */
  const int per_ckpt = 2000, ckpts = (int)tu_scale(48, 2, 24);
  ldb_batch *b = NULL;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  uint8_t k[16], v[100];
  for (int c = 0; c < ckpts; c++) {
    for (int i = 0; i < per_ckpt; i++) {
      tu_fill(&r, k, sizeof k);
      tu_fill(&r, v, sizeof v);
      assert_int_equal(ldb_batch_put(b, k, sizeof k, v, sizeof v), LDB_OK);
      if (ldb_batch_count(b) == 500) {
        assert_int_equal(ldb_write(db, b), LDB_OK);
        ldb_batch_clear(b);
      }
    }
    assert_int_equal(ldb_checkpoint(db), LDB_OK);
  }
  ldb_batch_destroy(b);
  ldb_check_result res;
  assert_int_equal(ldb_check_report(db, &res), LDB_OK);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  double fill = (double)res.leaf_bytes /
                ((double)res.leaf_pages * (double)(st.page_size - 16));
  printf("leaf fill: %llu puts, %llu leaves %.1f%% full; %llu branches\n",
         (unsigned long long)st.puts, (unsigned long long)res.leaf_pages,
         100 * fill, (unsigned long long)res.branch_pages);
  if (fill < 0.8)
    fprintf(stderr, "leaf fill %.3f under 0.8 (seed %llu)\n", fill,
            (unsigned long long)seed);
  assert_true(fill >= 0.8);
  /* what a full tree needs, and no leaf page left out of the count */
  assert_true(res.leaf_pages >= (uint64_t)per_ckpt * ckpts / 31);
  assert_true(res.leaf_pages + res.branch_pages + 2 <= res.pages);
  assert_int_equal(ldb_close(db), LDB_OK);
  tu_rmrf(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_space_reuse),
      cmocka_unit_test(test_leaf_fill_sparse_inserts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
