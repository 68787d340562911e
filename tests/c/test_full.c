/*
 * test_full.c — disk full (LDB_FULL) at every write of a workload in turn,
 * sticky until space returns. The call that meets it must return LDB_FULL;
 * reads keep working while the disk is full; every transaction committed
 * before is intact; the database closes and opens again while still full
 * (the open needs no space); after ldb_faulty_clear() the handle commits again;
 * and the final state (live, after reopen, and after a power cut following
 * a clean close) holds every acknowledged transaction and nothing partial.
 *
 * Replay a failure with LDB_SEED=<seed>; the message names the write.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "helpers/store_faulty.h"
#include "helpers/workload.h"

#define PAGE 512
#define CKPT_EVERY 25

#define FAILF(...)                                                             \
  do {                                                                         \
    fprintf(stderr, "%s: disk full at write %llu: ", label,                    \
            (unsigned long long)nth);                                          \
    fprintf(stderr, __VA_ARGS__);                                              \
    fprintf(stderr, " (errmsg: %s)\n", ldb_errmsg(NULL));                      \
    fail();                                                                    \
  } while (0)

static void verify(const char *label, uint64_t nth, ldb_db *db, const wl *w,
                   const uint8_t *status, const char *stage) {
  char msg[512];
  int rc = ldb_check(db);
  if (rc != LDB_OK) FAILF("%s: check: %s", stage, ldb_code_name(rc));
  rc = wl_verify(db, w, status, 0, NULL, msg, sizeof msg);
  if (rc != LDB_OK) FAILF("%s: %s", stage, msg);
}

static uint64_t run_once(const char *label, const wl *w, uint64_t nth,
                         int sync_mode) {
  ldb_store *inner = NULL, *fs = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  uint8_t *status = calloc(w->n, 1);
  uint32_t next = 0;
  int rc;
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  wl_options(&o, fs, sync_mode, PAGE);
  assert_int_equal(ldb_open("full", &o, &db), LDB_OK);
  if (nth) ldb_faulty_fail_nth(fs, nth, LDB_FAULT_WRITE, LDB_FULL, 1);
  /* Status as acknowledged (FULL marking): every check below is on the
   * live handle or after a clean close, where acknowledged means present. */
  rc = wl_run(db, w, 0, w->n, CKPT_EVERY, LDB_SYNC_FULL, status, &next);
  uint64_t writes = ldb_faulty_count(fs, LDB_FAULT_WRITE);
  if (rc != LDB_OK) {
    if (rc != LDB_FULL)
      FAILF("the failing call returned %s, not FULL", ldb_code_name(rc));
    /* While full: reads work, writes fail cleanly, the handle lives. */
    void *v = NULL;
    size_t vl;
    int g = ldb_get(db, "m000001", 7, &v, &vl);
    if (g != LDB_OK && g != LDB_NOTFOUND)
      FAILF("get while full: %s", ldb_code_name(g));
    ldb_free(db, v);
    int p = ldb_put(db, "zz-probe", 8, "x", 1);
    if (p != LDB_OK && p != LDB_FULL)
      FAILF("put while full: %s", ldb_code_name(p));
    int c = ldb_checkpoint(db);
    if (c != LDB_OK && c != LDB_FULL)
      FAILF("checkpoint while full: %s", ldb_code_name(c));
    /* Closed and opened again while still full: the close may fail its
     * final checkpoint (FULL: every commit stays in the log), and the open
     * must not need space (the replayed log waits in memory for it). */
    c = ldb_close(db);
    if (c != LDB_OK && c != LDB_FULL)
      FAILF("close while full: %s", ldb_code_name(c));
    db = NULL;
    c = ldb_open("full", &o, &db);
    if (c != LDB_OK) FAILF("open while full: %s", ldb_code_name(c));
    verify(label, nth, db, w, status, "reopened while full");
    p = ldb_put(db, "zz-probe", 8, "x", 1);
    if (p != LDB_OK && p != LDB_FULL)
      FAILF("put after reopen while full: %s", ldb_code_name(p));
    /* Space returns: the handle carries on. */
    ldb_faulty_clear(fs);
    uint32_t next2;
    rc = wl_run(db, w, next, w->n, CKPT_EVERY, LDB_SYNC_FULL, status, &next2);
    if (rc == LDB_FULL && strstr(ldb_errmsg(NULL), "write refused")) {
      /* The memtables hold their budget and the failed checkpoint waits
       * for its retry (200 ms after the last attempt): the transaction was
       * refused whole, and ldb_checkpoint retries the checkpoint now. */
      rc = ldb_checkpoint(db);
      if (rc != LDB_OK)
        FAILF("checkpoint after a refused write: %s", ldb_code_name(rc));
      rc =
          wl_run(db, w, next2, w->n, CKPT_EVERY, LDB_SYNC_FULL, status, &next2);
    }
    if (rc != LDB_OK)
      FAILF("after space returned, txn %u: %s", next2, ldb_code_name(rc));
    rc = ldb_put(db, "zz-probe", 8, "y", 1);
    if (rc != LDB_OK) FAILF("put after space returned: %s", ldb_code_name(rc));
    rc = ldb_checkpoint(db);
    if (rc != LDB_OK)
      FAILF("checkpoint after space returned: %s", ldb_code_name(rc));
    /* The checkpoint made every acknowledged commit durable; the failed
     * transaction stays WL_MAYBE (all or nothing of it). */
  }
  verify(label, nth, db, w, status, "live handle");
  rc = ldb_close(db);
  if (rc != LDB_OK) FAILF("close: %s", ldb_code_name(rc));
  db = NULL;
  assert_int_equal(ldb_open("full", &o, &db), LDB_OK);
  verify(label, nth, db, w, status, "reopen");
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_faulty_crash_now(fs, LDB_CRASH_DROP, 0);
  ldb_store_destroy(fs);
  wl_options(&o, inner, sync_mode, PAGE);
  db = NULL;
  rc = ldb_open("full", &o, &db);
  if (rc != LDB_OK) FAILF("open after power cut: %s", ldb_code_name(rc));
  verify(label, nth, db, w, status, "after power cut");
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(inner);
  free(status);
  return writes;
}

static void sweep(int sync_mode) {
  char name[64], label[128];
  snprintf(name, sizeof name, "full sync_mode=%d", sync_mode);
  uint64_t seed = tu_seed(name);
  snprintf(label, sizeof label, "%s seed=%llu", name, (unsigned long long)seed);
  wl w;
  wl_init(&w, seed, (uint32_t)tu_scale(100, 2, 40), 48, PAGE);
  uint64_t total = run_once(label, &w, 0, sync_mode);
  uint64_t budget = tu_scale(300, 8, 30);
  uint64_t stride = total > budget ? total / budget : 1, runs = 0;
  for (uint64_t n = 1; n <= total; n += (n < 30 ? 1 : stride)) {
    run_once(label, &w, n, sync_mode);
    runs++;
  }
  printf("%s: %llu writes, %llu disk-full points verified\n", label,
         (unsigned long long)total, (unsigned long long)runs);
  wl_free(&w);
}

static void test_full_syncfull(void **state) {
  (void)state;
  sweep(LDB_SYNC_FULL);
}
static void test_full_syncnormal(void **state) {
  (void)state;
  sweep(LDB_SYNC_NORMAL);
}

/* Disk full while the background thread checkpoints: commits fail with
 * LDB_FULL, the background error is reported in the stats, and once space
 * returns the same handle commits, checkpoints and clears the error. */
static void test_full_background(void **state) {
  (void)state;
  uint64_t seed = tu_seed("full background");
  const char *label = "full background";
  uint64_t nth = 0;
  wl w;
  uint32_t ntx = (uint32_t)tu_scale(300, 3, 100), next = 0, next2 = 0;
  wl_init(&w, seed, ntx, 48, PAGE);
  uint8_t *status = calloc(ntx, 1);
  ldb_store *inner = NULL, *fs = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  wl_options(&o, fs, LDB_SYNC_FULL, PAGE);
  o.background_checkpoint = 1;
  o.memtable_size = 16 * 1024;
  assert_int_equal(ldb_open("full", &o, &db), LDB_OK);
  int rc = wl_run(db, &w, 0, ntx / 3, 0, LDB_SYNC_FULL, status, &next);
  if (rc) FAILF("before the disk filled: %s", ldb_code_name(rc));
  ldb_faulty_fail_nth(fs, 1, LDB_FAULT_WRITE, LDB_FULL, 1);
  rc = wl_run(db, &w, next, ntx, 0, LDB_SYNC_FULL, status, &next);
  if (rc != LDB_FULL)
    FAILF("commit on a full disk returned %s", ldb_code_name(rc));
  /* Keep the background thread busy against the full disk a moment. */
  for (int i = 0; i < 20; i++) {
    int p = ldb_put(db, "zz-probe", 8, "x", 1);
    if (p != LDB_FULL)
      FAILF("put on a full disk returned %s", ldb_code_name(p));
    void *v = NULL;
    size_t vl;
    int g = ldb_get(db, "m000001", 7, &v, &vl);
    if (g != LDB_OK) FAILF("get on a full disk returned %s", ldb_code_name(g));
    ldb_free(db, v);
    tu_sleep_ms(2);
  }
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  printf("full background: while full, background_error = %s\n",
         ldb_code_name(st.background_error));
  ldb_faulty_clear(fs);
  rc = wl_run(db, &w, next, ntx, 0, LDB_SYNC_FULL, status, &next2);
  /* A transaction refused whole because the memtables hold their budget
   * goes through once the background thread's retry of the checkpoint
   * (every 200 ms) succeeds. */
  for (int t = 0;
       t < 300 && rc == LDB_FULL && strstr(ldb_errmsg(NULL), "write refused");
       t++) {
    tu_sleep_ms(10);
    rc = wl_run(db, &w, next2, ntx, 0, LDB_SYNC_FULL, status, &next2);
  }
  if (rc) FAILF("after space returned: %s", ldb_code_name(rc));
  rc = ldb_checkpoint(db);
  if (rc) FAILF("checkpoint after space returned: %s", ldb_code_name(rc));
  int bg = -1;
  for (int i = 0; i < 2000 && bg != LDB_OK; i++) {
    assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
    bg = st.background_error;
    if (bg != LDB_OK) tu_sleep_ms(1);
  }
  if (bg != LDB_OK) FAILF("background error stuck at %s", ldb_code_name(bg));
  verify(label, nth, db, &w, status, "live handle");
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_faulty_crash_now(fs, LDB_CRASH_DROP, 0);
  ldb_store_destroy(fs);
  wl_options(&o, inner, LDB_SYNC_FULL, PAGE);
  db = NULL;
  assert_int_equal(ldb_open("full", &o, &db), LDB_OK);
  verify(label, nth, db, &w, status, "after power cut");
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(inner);
  free(status);
  wl_free(&w);
}

static int bg_error_now(ldb_db *db) {
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  return (int)st.background_error;
}

/* Writes refused because the log cannot grow (FULL or IO) show in the
 * stats' background_error (what healthCheck() and the LightningDBDiskFull
 * alert read) until a write or a checkpoint succeeds; before, it stayed 0
 * while every write failed. No checkpoint runs here (small workload), so
 * only the refused appends and syncs can set it. */
static void write_error_case(int code, int sync_mode, int clear_by_ckpt) {
  ldb_store *inner = NULL, *fs = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  char key[16];
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  wl_options(&o, fs, sync_mode, PAGE);
  o.memtable_size = 4u << 20;
  assert_int_equal(ldb_open("full", &o, &db), LDB_OK);
  assert_int_equal(ldb_put(db, "a", 1, "1", 1), LDB_OK);
  assert_int_equal(bg_error_now(db), LDB_OK);
  ldb_faulty_fail_nth(fs, 1, LDB_FAULT_WRITE, code, 1);
  int rc = LDB_OK, i = 0;
  for (; i < 10000 && rc == LDB_OK; i++) {
    snprintf(key, sizeof key, "k%06d", i);
    rc = ldb_put(db, key, strlen(key), "0123456789abcdef", 16);
  }
  assert_int_equal(rc, code);
  assert_int_equal(bg_error_now(db), code);
  /* Still refused: the code stays. */
  assert_int_equal(ldb_put(db, "b", 1, "2", 1), code);
  assert_int_equal(bg_error_now(db), code);
  ldb_faulty_clear(fs);
  if (clear_by_ckpt)
    assert_int_equal(ldb_checkpoint(db), LDB_OK);
  else
    assert_int_equal(ldb_put(db, "b", 1, "2", 1), LDB_OK);
  assert_int_equal(bg_error_now(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
}

static void test_write_error_reported(void **state) {
  (void)state;
  int modes[] = {LDB_SYNC_FULL, LDB_SYNC_NORMAL};
  for (int m = 0; m < 2; m++)
    for (int c = 0; c < 2; c++) {
      write_error_case(LDB_FULL, modes[m], c);
      write_error_case(LDB_IOERR, modes[m], c);
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_full_syncfull),
      cmocka_unit_test(test_full_syncnormal),
      cmocka_unit_test(test_full_background),
      cmocka_unit_test(test_write_error_reported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
