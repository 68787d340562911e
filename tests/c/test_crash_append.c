/*
 * test_crash_append.c — power cuts (the faulty store, DROP and TEAR)
 * during a workload of sorted appends, the write pattern test_crash.c's
 * random transactions do not make: batches of keys past every key (the
 * memtable's unindexed tail, the B+tree's rightmost-leaf finger, leaves
 * filled at the right edge), values up to 40 KiB (overflow chains written
 * as runs of consecutive pages: combined page writes of up to 128 KiB),
 * and now and then rewrites and deletes of older keys (leaf repacks in the
 * middle of the tree). Checkpoints run in bounded steps inside commits (a
 * small memtable) and explicitly; half of the runs read the data file
 * through the faulty store's mapping.
 *
 * Every batch writes a marker "~seq" = its number. After the cut the
 * image is reopened and must pass ldb_check; the marker j must be at
 * least the last batch acknowledged durable (FULL: every ldb_write that
 * returned OK; NORMAL: every batch before the last ldb_flush that
 * returned OK) and at most the last batch begun; the database must equal
 * the model after batches 1..j exactly.
 *
 * Replay a failure with LDB_SEED=<seed>.
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

#define PAGE 4096
#define MAXOPS 200
#define MAXV (40 * 1024)

typedef struct wop {
  char key[24];
  size_t kl;
  int del;
  uint32_t vlen;
  uint64_t vseed;
} wop;

static void value_bytes(uint64_t seed, uint32_t len, uint8_t *v) {
  tu_rng r;
  tu_rng_init(&r, seed);
  if (seed & 1) {
    tu_fill(&r, v, len);
  } else {
    for (uint32_t i = 0; i < len; i++)
      v[i] = (uint8_t)('a' + i % 11);
    if (len >= 8) tu_fill(&r, v, 8);
  }
}

static size_t batch_ops(uint64_t seed, uint64_t b, wop *ops) {
  tu_rng r;
  tu_rng_init(&r, seed * 1000003u + b);
  size_t n = 0;
  if (tu_below(&r, 10) < 8) { /* sorted append */
    size_t cnt = 1 + tu_below(&r, 120);
    for (size_t i = 0; i < cnt && n < MAXOPS; i++, n++) {
      wop *o = &ops[n];
      o->kl = (size_t)snprintf(o->key, sizeof o->key, "a%010llu",
                               (unsigned long long)(b * 1000 + i));
      o->del = 0;
      o->vlen = tu_chance(&r, 6) ? 4000 + (uint32_t)tu_below(&r, MAXV - 4000)
                                 : (uint32_t)tu_below(&r, 200);
      o->vseed = tu_next(&r);
    }
  } else { /* rewrites and deletes of earlier appends */
    size_t cnt = 1 + tu_below(&r, 40);
    for (size_t i = 0; i < cnt && n < MAXOPS && b > 1; i++, n++) {
      wop *o = &ops[n];
      uint64_t ob = 1 + tu_below(&r, b - 1);
      o->kl =
          (size_t)snprintf(o->key, sizeof o->key, "a%010llu",
                           (unsigned long long)(ob * 1000 + tu_below(&r, 4)));
      o->del = tu_chance(&r, 40);
      o->vlen = tu_chance(&r, 5) ? 4000 + (uint32_t)tu_below(&r, 9000)
                                 : (uint32_t)tu_below(&r, 300);
      o->vseed = tu_next(&r);
    }
  }
  return n;
}

static void options(ldb_options *o, ldb_store *s, int sync_mode) {
  ldb_options_default(o);
  o->store = s;
  o->page_size = PAGE;
  o->sync_mode = sync_mode;
  o->background_checkpoint = 0;
  o->memtable_size = 256 * 1024;
  o->cache_size = 64 * PAGE;
  o->mmap_bounded = 1;
}

/* Writes batches 1..nb, the power cut at sync `cut` (0: never). Returns
 * the syncs made; *acked the last batch acknowledged durable, *begun the
 * last one begun. */
static uint64_t workload(ldb_store *fs, uint64_t seed, uint64_t nb,
                         int sync_mode, uint64_t *acked, uint64_t *begun) {
  static wop ops[MAXOPS];
  static uint8_t v[MAXV];
  ldb_options o;
  ldb_db *db = NULL;
  options(&o, fs, sync_mode);
  *acked = *begun = 0;
  tu_rng r;
  tu_rng_init(&r, seed ^ 0x5eed);
  if (ldb_open("append", &o, &db) != LDB_OK) {
    assert_true(ldb_faulty_crashed(fs));
    return ldb_faulty_count(fs, LDB_FAULT_SYNC);
  }
  ldb_batch *bt = NULL;
  assert_int_equal(ldb_batch_create(db, &bt), LDB_OK);
  uint64_t written = 0; /* NORMAL: last batch whose ldb_write returned */
  for (uint64_t b = 1; b <= nb; b++) {
    ldb_batch_clear(bt);
    size_t n = batch_ops(seed, b, ops);
    for (size_t i = 0; i < n; i++) {
      if (ops[i].del) {
        assert_int_equal(ldb_batch_delete(bt, ops[i].key, ops[i].kl), LDB_OK);
      } else {
        value_bytes(ops[i].vseed, ops[i].vlen, v);
        assert_int_equal(
            ldb_batch_put(bt, ops[i].key, ops[i].kl, v, ops[i].vlen), LDB_OK);
      }
    }
    assert_int_equal(ldb_batch_put(bt, "~seq", 4, &b, 8), LDB_OK);
    *begun = b;
    int rc = ldb_write(db, bt);
    if (rc != LDB_OK) {
      if (!ldb_faulty_crashed(fs))
        fail_msg("write %llu: %s (%s)", (unsigned long long)b,
                 ldb_code_name(rc), ldb_errmsg(NULL));
      break;
    }
    written = b;
    if (sync_mode == LDB_SYNC_FULL) *acked = b;
    if (tu_chance(&r, 8)) {
      rc = ldb_flush(db);
      if (rc == LDB_OK)
        *acked = written;
      else if (!ldb_faulty_crashed(fs))
        fail_msg("flush: %s", ldb_code_name(rc));
      if (rc) break;
    }
    if (tu_chance(&r, 4)) {
      rc = ldb_checkpoint(db);
      if (rc != LDB_OK) {
        if (!ldb_faulty_crashed(fs))
          fail_msg("checkpoint: %s (%s)", ldb_code_name(rc), ldb_errmsg(NULL));
        break;
      }
      *acked = written; /* a checkpoint syncs the log first */
    }
  }
  ldb_batch_destroy(bt);
  int rc = ldb_close(db);
  if (rc == LDB_OK && !ldb_faulty_crashed(fs)) *acked = written;
  return ldb_faulty_count(fs, LDB_FAULT_SYNC);
}

static void verify(const char *label, ldb_store *inner, uint64_t seed,
                   int sync_mode, uint64_t acked, uint64_t begun) {
  static wop ops[MAXOPS];
  static uint8_t v[MAXV];
  ldb_options o;
  ldb_db *db = NULL;
  options(&o, inner, sync_mode);
  int rc = ldb_open("append", &o, &db);
  if (rc)
    fail_msg("%s: reopen: %s (%s)", label, ldb_code_name(rc), ldb_errmsg(NULL));
  if ((rc = ldb_check(db)))
    fail_msg("%s: ldb_check: %s", label, ldb_errmsg(NULL));
  uint64_t j = 0;
  void *mv = NULL;
  size_t ml = 0;
  rc = ldb_get(db, "~seq", 4, &mv, &ml);
  if (rc == LDB_OK) {
    assert_int_equal(ml, 8);
    memcpy(&j, mv, 8);
  } else if (rc != LDB_NOTFOUND) {
    fail_msg("%s: get marker: %s", label, ldb_code_name(rc));
  }
  ldb_free(db, mv);
  if (j < acked || j > begun)
    fail_msg("%s: the database holds batch %llu; acknowledged %llu, begun %llu",
             label, (unsigned long long)j, (unsigned long long)acked,
             (unsigned long long)begun);
  tu_model *m = tu_model_new();
  for (uint64_t b = 1; b <= j; b++) {
    size_t n = batch_ops(seed, b, ops);
    for (size_t i = 0; i < n; i++) {
      if (ops[i].del) {
        tu_model_del(m, ops[i].key, ops[i].kl);
      } else {
        value_bytes(ops[i].vseed, ops[i].vlen, v);
        tu_model_put(m, ops[i].key, ops[i].kl, v, ops[i].vlen);
      }
    }
    tu_model_put(m, "~seq", 4, &b, 8);
  }
  ldb_iter *it = NULL;
  assert_int_equal(ldb_iter_create(db, NULL, NULL, &it), LDB_OK);
  size_t i = 0, cnt = tu_model_count(m);
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it), i++) {
    const void *k, *val, *mk, *mvv;
    size_t kl, vl, mkl, mvl;
    assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
    assert_int_equal(ldb_iter_value(it, &val, &vl), LDB_OK);
    if (i >= cnt) fail_msg("%s: extra key %.*s", label, (int)kl, (char *)k);
    tu_model_at(m, i, &mk, &mkl, &mvv, &mvl);
    if (kl != mkl || memcmp(k, mk, kl))
      fail_msg("%s: key %zu is %.*s, the model's %.*s", label, i, (int)kl,
               (char *)k, (int)mkl, (char *)mk);
    if (vl != mvl || memcmp(val, mvv, vl))
      fail_msg("%s: value of %.*s differs", label, (int)kl, (char *)k);
  }
  if (rc != LDB_NOTFOUND) fail_msg("%s: scan: %s", label, ldb_code_name(rc));
  if (i != cnt) fail_msg("%s: %zu keys, the model %zu", label, i, cnt);
  ldb_iter_destroy(it);
  /* It keeps working. */
  assert_int_equal(ldb_put(db, "zz", 2, "1", 1), LDB_OK);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  tu_model_free(m);
}

static void run(const char *tag, int sync_mode) {
  uint64_t seed = tu_seed(tag);
  tu_rng r;
  tu_rng_init(&r, seed);
  uint64_t nb = tu_scale(160, 4, 30), acked, begun;
  ldb_store *inner = NULL, *fs = NULL;
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  uint64_t total = workload(fs, seed, nb, sync_mode, &acked, &begun);
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
  uint64_t points = tu_scale(30, 4, 6);
  char label[160];
  for (uint64_t p = 0; p < points; p++) {
    uint64_t cut = 1 + tu_below(&r, total);
    int mode = (int)tu_below(&r, 2), mapped = (int)tu_below(&r, 2);
    snprintf(label, sizeof label,
             "%s seed %llu: cut at sync %llu of %llu (%s%s)", tag,
             (unsigned long long)seed, (unsigned long long)cut,
             (unsigned long long)total, mode ? "TEAR" : "DROP",
             mapped ? ", mapped" : "");
    assert_int_equal(ldb_store_memory(&inner), LDB_OK);
    assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
    ldb_faulty_set_map(fs, mapped);
    ldb_faulty_crash_at_sync(fs, cut, mode, seed ^ (cut * 7919));
    workload(fs, seed, nb, sync_mode, &acked, &begun);
    if (!ldb_faulty_crashed(fs)) ldb_faulty_crash_now(fs, LDB_CRASH_DROP, 0);
    ldb_store_destroy(fs);
    verify(label, inner, seed, sync_mode, acked, begun);
    ldb_store_destroy(inner);
  }
  printf("%s: %llu batches, %llu syncs, %llu power cuts verified\n", tag,
         (unsigned long long)nb, (unsigned long long)total,
         (unsigned long long)points);
}

static void test_append_full(void **state) {
  (void)state;
  run("crash_append_full", LDB_SYNC_FULL);
}

static void test_append_normal(void **state) {
  (void)state;
  run("crash_append_normal", LDB_SYNC_NORMAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_full),
      cmocka_unit_test(test_append_normal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
