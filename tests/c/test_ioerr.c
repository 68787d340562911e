/*
 * test_ioerr.c — an I/O error injected at every store call of a workload
 * in turn (open, reads, writes, syncs, size, truncate). The API call that
 * meets it must return an error (the process never aborts); after closing,
 * a reopen on the same store must pass ldb_check and hold a prefix of the
 * commit sequence that includes every commit acknowledged in FULL mode;
 * after a clean close, the durable image (power cut right after) must too.
 *
 * Replay a failure with LDB_SEED=<seed>; the message names the failing
 * store call number.
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
#define NTX 120
#define CKPT_EVERY 30

static void verify_reopen(const char *label, ldb_store *store, const wl *w,
                          const uint8_t *status, uint64_t nth,
                          const char *stage) {
  ldb_options o;
  ldb_db *db = NULL;
  char msg[512];
  wl_options(&o, store, LDB_SYNC_FULL, PAGE);
  int rc = ldb_open("ioerr", &o, &db);
  if (rc != LDB_OK) {
    fprintf(stderr, "%s: error at store call %llu: %s: open: %s (%s)\n", label,
            (unsigned long long)nth, stage, ldb_code_name(rc),
            ldb_errmsg(NULL));
    fail();
  }
  rc = ldb_check(db);
  if (rc != LDB_OK) {
    fprintf(stderr, "%s: error at store call %llu: %s: check: %s (%s)\n", label,
            (unsigned long long)nth, stage, ldb_code_name(rc),
            ldb_errmsg(NULL));
    fail();
  }
  rc = wl_verify(db, w, status, 1, NULL, msg, sizeof msg);
  if (rc != LDB_OK) {
    fprintf(stderr, "%s: error at store call %llu: %s: %s\n", label,
            (unsigned long long)nth, stage, msg);
    fail();
  }
  rc = ldb_close(db);
  if (rc != LDB_OK) {
    fprintf(stderr, "%s: error at store call %llu: %s: close: %s (%s)\n", label,
            (unsigned long long)nth, stage, ldb_code_name(rc),
            ldb_errmsg(NULL));
    fail();
  }
}

/* 1: the faulty store offers map(), so tree pages are read through the
 * mapping (an injected read failure then also faults the mapping). */
static int g_mapped;

/* One run with the nth store call failing (0: none). Returns the number of
 * store calls made up to the first failure or the end. */
static uint64_t run_once(const char *label, const wl *w, uint64_t nth,
                         int kinds, int *hit) {
  ldb_store *inner = NULL, *fs = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  uint8_t *status = calloc(w->n, 1);
  uint32_t next = 0;
  assert_non_null(status);
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  ldb_faulty_set_map(fs, g_mapped);
  if (nth) ldb_faulty_fail_nth(fs, nth, kinds, LDB_IOERR, 0);
  wl_options(&o, fs, LDB_SYNC_FULL, PAGE);
  int rc = ldb_open("ioerr", &o, &db);
  if (rc == LDB_OK) {
    rc = wl_run(db, w, 0, w->n, CKPT_EVERY, LDB_SYNC_FULL, status, &next);
    int crc = ldb_close(db);
    if (rc == LDB_OK && crc == LDB_OK)
      for (uint32_t i = 0; i < next; i++)
        status[i] = WL_PRESENT;
    if (rc == LDB_OK) rc = crc;
  }
  uint64_t calls = ldb_faulty_count(fs, LDB_FAULT_ANY);
  /* nth counts only the kinds aimed at: the injection fired only if this
   * run made that many of them (a run may make a few fewer than the
   * sweep's reference run: checkpoint and log timing follow the clock). */
  uint64_t aimed = ldb_faulty_count(fs, kinds);
  *hit = rc != LDB_OK;
  if (rc != LDB_OK && rc != LDB_IOERR) {
    /* An injected I/O error may surface as IOERR, or as CORRUPT when a
     * read came back short; anything else is wrong. */
    if (rc != LDB_CORRUPT) {
      fprintf(stderr, "%s: error at store call %llu surfaced as %s (%s)\n",
              label, (unsigned long long)nth, ldb_code_name(rc),
              ldb_errmsg(NULL));
      fail();
    }
  }
  if (nth && !*hit && aimed >= nth) {
    fprintf(stderr,
            "%s: the error at store call %llu was swallowed: "
            "every API call returned OK\n",
            label, (unsigned long long)nth);
    /* A failed write or sync that nobody hears about is lost data. */
    if (!(kinds & (LDB_FAULT_READ | LDB_FAULT_SIZE | LDB_FAULT_OPEN |
                   LDB_FAULT_TRUNCATE)))
      fail();
  }
  /* The same store, as after a process restart (no power loss). */
  ldb_faulty_clear(fs);
  verify_reopen(label, fs, w, status, nth, "reopen");
  /* The durable image: everything synced by the clean close above. */
  ldb_faulty_crash_now(fs, LDB_CRASH_DROP, 0);
  ldb_store_destroy(fs);
  verify_reopen(label, inner, w, status, nth, "reopen after power cut");
  ldb_store_destroy(inner);
  free(status);
  return calls;
}

static void sweep(const char *name, int kinds) {
  char label[128];
  uint64_t seed = tu_seed(name);
  wl w;
  int hit;
  snprintf(label, sizeof label, "%s seed=%llu", name, (unsigned long long)seed);
  wl_init(&w, seed, (uint32_t)tu_scale(NTX, 2, 40), 48, PAGE);
  uint64_t total;
  ldb_store *m, *f;
  /* Counting only the kinds aimed at. */
  {
    ldb_options o;
    ldb_db *db = NULL;
    uint8_t *st = calloc(w.n, 1);
    uint32_t next;
    assert_int_equal(ldb_store_memory(&m), LDB_OK);
    assert_int_equal(ldb_store_faulty(m, &f), LDB_OK);
    ldb_faulty_set_map(f, g_mapped);
    wl_options(&o, f, LDB_SYNC_FULL, PAGE);
    assert_int_equal(ldb_open("ioerr", &o, &db), LDB_OK);
    assert_int_equal(
        wl_run(db, &w, 0, w.n, CKPT_EVERY, LDB_SYNC_FULL, st, &next), LDB_OK);
    assert_int_equal(ldb_close(db), LDB_OK);
    total = ldb_faulty_count(f, kinds);
    ldb_store_destroy(f);
    ldb_store_destroy(m);
    free(st);
  }
  uint64_t budget = tu_scale(400, 8, 40);
  uint64_t stride = total > budget ? total / budget : 1;
  uint64_t runs = 0, hits = 0;
  for (uint64_t n = 1; n <= total; n += (n < 40 ? 1 : stride)) {
    run_once(label, &w, n, kinds, &hit);
    runs++;
    hits += hit;
  }
  printf("%s: %llu store calls, %llu injection points, %llu surfaced as "
         "errors\n",
         label, (unsigned long long)total, (unsigned long long)runs,
         (unsigned long long)hits);
  assert_true(runs > 0);
  wl_free(&w);
}

static void test_ioerr_any(void **state) {
  (void)state;
  sweep("ioerr any", LDB_FAULT_ANY);
}
static void test_ioerr_writes(void **state) {
  (void)state;
  /* Writes and syncs never fail silently: each must surface. (Truncates
   * may: the engine only truncates obsolete log files, best effort, and
   * recovery skips records at or below the checkpoint.) */
  sweep("ioerr write+sync", LDB_FAULT_WRITE | LDB_FAULT_SYNC);
}

static void test_ioerr_any_mapped(void **state) {
  (void)state;
  g_mapped = 1;
  sweep("ioerr any, mapped", LDB_FAULT_ANY);
  g_mapped = 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ioerr_any),
      cmocka_unit_test(test_ioerr_any_mapped),
      cmocka_unit_test(test_ioerr_writes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
