/*
 * test_crash.c — power-loss tests through the faulty store. A workload of
 * transactions (each writes several keys plus a marker, see workload.h) is
 * run with the power cut at one sync point after another: log syncs, data
 * file syncs and meta page syncs (every data-file sync is covered, log
 * syncs are sampled when there are too many), in DROP and TEAR mode, in
 * FULL and NORMAL sync mode. After each cut the database is reopened on
 * the inner store (the image a reboot would see) and must pass ldb_check,
 * contain no partial transaction, hold every commit acknowledged in FULL
 * mode, and (in every mode) hold a prefix of the commit sequence.
 *
 * Replay a failure with LDB_SEED=<seed>; the message names the sync point.
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
#include "helpers/workload.h"

#define PAGE 512
#define CKPT_EVERY 50

/* 1: checkpoints and NORMAL-mode syncs run on the background thread (sync
 * points then drift from run to run; each run still cuts at its nth). */
static int g_threaded;
/* 1: the faulty store offers map(): tree pages are read through the
 * mapping of its image, inside the same power cuts. */
static int g_mapped;

typedef struct point_result {
  int recovered_txns;
} point_result;

/* Runs the workload with the power cut at sync number `cut` (0 = never);
 * returns the number of sync calls made. Verifies recovery. */
static uint64_t run_once(const char *label, uint64_t seed, const wl *w,
                         int sync_mode, int mode, uint64_t cut,
                         uint32_t *survived) {
  ldb_store *inner = NULL, *fs = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  uint8_t *status = calloc(w->n, 1);
  uint32_t next = 0;
  char msg[512];
  int rc;
  assert_non_null(status);
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  ldb_faulty_set_map(fs, g_mapped);
  if (cut) ldb_faulty_crash_at_sync(fs, cut, mode, seed ^ (cut * 7919));
  wl_options(&o, fs, sync_mode, PAGE);
  o.background_checkpoint = g_threaded;
  rc = ldb_open("crash", &o, &db);
  if (rc == LDB_OK) {
    rc = wl_run(db, w, 0, w->n, CKPT_EVERY, sync_mode, status, &next);
    if (rc != LDB_OK && !ldb_faulty_crashed(fs)) {
      fprintf(stderr,
              "%s: cut at sync %llu: workload failed with %s before "
              "the crash: %s\n",
              label, (unsigned long long)cut, ldb_code_name(rc),
              ldb_errmsg(NULL));
      fail();
    }
    int crc = ldb_close(db);
    if (crc == LDB_OK && !ldb_faulty_crashed(fs)) {
      /* A clean close makes every commit durable whatever the mode. */
      for (uint32_t i = 0; i < next; i++)
        status[i] = WL_PRESENT;
    } else if (crc != LDB_OK && !ldb_faulty_crashed(fs)) {
      fprintf(stderr, "%s: close failed without a crash: %s (%s)\n", label,
              ldb_code_name(crc), ldb_errmsg(NULL));
      fail();
    }
  } else if (!ldb_faulty_crashed(fs)) {
    fprintf(stderr, "%s: open failed without a crash: %s (%s)\n", label,
            ldb_code_name(rc), ldb_errmsg(NULL));
    fail();
  }
  uint64_t syncs = ldb_faulty_count(fs, LDB_FAULT_SYNC);
  if (!ldb_faulty_crashed(fs)) ldb_faulty_crash_now(fs, LDB_CRASH_DROP, 0);
  ldb_store_destroy(fs);

  /* Reboot: open the inner store's image. */
  wl_options(&o, inner, sync_mode, PAGE);
  db = NULL;
  rc = ldb_open("crash", &o, &db);
  if (rc != LDB_OK) {
    fprintf(stderr, "%s: cut at sync %llu: reopen failed: %s (%s)\n", label,
            (unsigned long long)cut, ldb_code_name(rc), ldb_errmsg(NULL));
    fail();
  }
  rc = ldb_check(db);
  if (rc != LDB_OK) {
    fprintf(stderr, "%s: cut at sync %llu: ldb_check: %s (%s)\n", label,
            (unsigned long long)cut, ldb_code_name(rc), ldb_errmsg(NULL));
    fail();
  }
  rc = wl_verify(db, w, status, 1, survived, msg, sizeof msg);
  if (rc != LDB_OK) {
    fprintf(stderr, "%s: cut at sync %llu (%u txns attempted): %s\n", label,
            (unsigned long long)cut, next, msg);
    fail();
  }
  /* The recovered database keeps working: one more commit, reopen. */
  rc = ldb_put(db, "zz-after", 8, "1", 1);
  if (rc != LDB_OK) {
    fprintf(stderr, "%s: cut at sync %llu: put after recovery: %s (%s)\n",
            label, (unsigned long long)cut, ldb_code_name(rc),
            ldb_errmsg(NULL));
    fail();
  }
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(inner);
  free(status);
  return syncs;
}

static void run_mode(int sync_mode) {
  char label[96];
  uint64_t seed;
  wl w;
  uint32_t ntx = (uint32_t)tu_scale(g_threaded ? 400 : 1000, 5, 100);
  snprintf(label, sizeof label, "crash sync_mode=%d%s", sync_mode,
           g_threaded ? " threaded" : "");
  seed = tu_seed(label);
  wl_init(&w, seed, ntx, 64, PAGE);

  /* Dry run: how many syncs, and on which files. */
  ldb_store *inner = NULL, *fs = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  uint8_t *status = calloc(ntx, 1);
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  wl_options(&o, fs, sync_mode, PAGE);
  o.background_checkpoint = g_threaded;
  assert_int_equal(ldb_open("crash", &o, &db), LDB_OK);
  uint32_t next;
  int rc = wl_run(db, &w, 0, ntx, CKPT_EVERY, sync_mode, status, &next);
  if (rc)
    fprintf(stderr, "dry run: %s (%s)\n", ldb_code_name(rc), ldb_errmsg(NULL));
  assert_int_equal(rc, LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  uint64_t total = ldb_faulty_count(fs, LDB_FAULT_SYNC);
  uint8_t *pick = calloc(total + 1, 1);
  uint64_t ndata = 0, nlog = 0, budget = tu_scale(g_threaded ? 60 : 160, 5, 20);
  char name[64];
  for (uint64_t s = 1; s <= total; s++) {
    assert_int_equal(ldb_faulty_sync_file(fs, s, name, sizeof name), LDB_OK);
    if (strncmp(name, "feed-", 5) != 0) {
      pick[s] = 2; /* data file, meta page or log head sync: always */
      ndata++;
    } else {
      nlog++;
    }
  }
  /* Log syncs: the first few, then an even sample over the rest. */
  uint64_t want_log = budget > ndata ? budget - ndata : 10;
  uint64_t stride = nlog > want_log ? nlog / want_log : 1, seen = 0;
  for (uint64_t s = 1; s <= total; s++) {
    if (pick[s]) continue;
    if (seen < 10 || seen % stride == 0) pick[s] = 1;
    seen++;
  }
  pick[total] = pick[total] ? pick[total] : 1; /* the very last sync */
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
  free(status);
  printf("%s: %u txns, %llu syncs (%llu data/meta, %llu log)\n", label, ntx,
         (unsigned long long)total, (unsigned long long)ndata,
         (unsigned long long)nlog);
  assert_true(ndata > 0);
  assert_true(nlog > 0);

  for (int mode = LDB_CRASH_DROP; mode <= LDB_CRASH_TEAR; mode++) {
    uint64_t points = 0, sum_survived = 0;
    for (uint64_t s = 1; s <= total; s++) {
      if (!pick[s]) continue;
      char l2[160];
      uint32_t survived = 0;
      snprintf(l2, sizeof l2, "%s %s seed=%llu", label,
               mode == LDB_CRASH_DROP ? "DROP" : "TEAR",
               (unsigned long long)seed);
      run_once(l2, seed, &w, sync_mode, mode, s, &survived);
      points++;
      sum_survived += survived;
    }
    printf("%s %s: %llu crash points verified (avg %llu txns survived)\n",
           label, mode == LDB_CRASH_DROP ? "DROP" : "TEAR",
           (unsigned long long)points,
           (unsigned long long)(points ? sum_survived / points : 0));
  }
  free(pick);
  wl_free(&w);
}

static void test_crash_full(void **state) {
  (void)state;
  run_mode(LDB_SYNC_FULL);
}
static void test_crash_normal(void **state) {
  (void)state;
  run_mode(LDB_SYNC_NORMAL);
}
static void test_crash_threaded(void **state) {
  (void)state;
  g_threaded = 1;
  run_mode(LDB_SYNC_FULL);
  run_mode(LDB_SYNC_NORMAL);
  g_threaded = 0;
}

static void test_crash_mapped(void **state) {
  (void)state;
  g_mapped = 1;
  run_mode(LDB_SYNC_FULL);
  g_mapped = 0;
}

/* A crash during recovery: cut power again at each sync of the reopen. */
static void test_crash_during_recovery(void **state) {
  (void)state;
  uint64_t seed = tu_seed("crash during recovery");
  wl w;
  uint32_t ntx = 120;
  wl_init(&w, seed, ntx, 32, PAGE);
  for (uint64_t cut2 = 1; cut2 <= 6; cut2++) {
    ldb_store *inner = NULL, *fs = NULL;
    ldb_options o;
    ldb_db *db = NULL;
    uint8_t *status = calloc(ntx, 1);
    uint32_t next;
    char msg[512];
    assert_int_equal(ldb_store_memory(&inner), LDB_OK);
    assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
    wl_options(&o, fs, LDB_SYNC_FULL, PAGE);
    o.memtable_size = 1u << 30; /* leave everything in the log */
    assert_int_equal(ldb_open("crash", &o, &db), LDB_OK);
    assert_int_equal(wl_run(db, &w, 0, ntx, 0, LDB_SYNC_FULL, status, &next),
                     LDB_OK);
    ldb_faulty_crash_now(fs, LDB_CRASH_TEAR, seed);
    ldb_close(db);
    ldb_store_destroy(fs);
    /* First recovery, itself cut at its cut2-th sync. */
    assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
    ldb_faulty_crash_at_sync(fs, cut2, LDB_CRASH_TEAR, seed + cut2);
    wl_options(&o, fs, LDB_SYNC_FULL, PAGE);
    db = NULL;
    if (ldb_open("crash", &o, &db) == LDB_OK) {
      ldb_checkpoint(db); /* forces data and meta syncs */
      ldb_close(db);
    }
    if (!ldb_faulty_crashed(fs)) ldb_faulty_crash_now(fs, LDB_CRASH_DROP, 0);
    ldb_store_destroy(fs);
    /* Second recovery must still find every acknowledged commit. */
    wl_options(&o, inner, LDB_SYNC_FULL, PAGE);
    db = NULL;
    int rc = ldb_open("crash", &o, &db);
    if (rc)
      fprintf(stderr, "cut2=%llu: reopen %s (%s)\n", (unsigned long long)cut2,
              ldb_code_name(rc), ldb_errmsg(NULL));
    assert_int_equal(rc, LDB_OK);
    rc = ldb_check(db);
    if (rc)
      fprintf(stderr, "cut2=%llu: check %s (%s)\n", (unsigned long long)cut2,
              ldb_code_name(rc), ldb_errmsg(NULL));
    assert_int_equal(rc, LDB_OK);
    rc = wl_verify(db, &w, status, 1, NULL, msg, sizeof msg);
    if (rc)
      fprintf(stderr, "cut2=%llu seed=%llu: %s\n", (unsigned long long)cut2,
              (unsigned long long)seed, msg);
    assert_int_equal(rc, LDB_OK);
    assert_int_equal(ldb_close(db), LDB_OK);
    ldb_store_destroy(inner);
    free(status);
  }
  wl_free(&w);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crash_full),
      cmocka_unit_test(test_crash_normal),
      cmocka_unit_test(test_crash_threaded),
      cmocka_unit_test(test_crash_mapped),
      cmocka_unit_test(test_crash_during_recovery),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
