/*
 * test_events.c — the engine's event ring (ldb_events_read): checkpoints,
 * CONFLICT bursts folded into one event, BUSY at max_active_txns, disk full
 * and recovery through the faulty store, the ring's bound, bad arguments.
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

static ldb_db *open_mem(ldb_store *s, uint32_t max_txns) {
  ldb_options o;
  tu_mem_options(&o, s);
  o.max_active_txns = max_txns;
  return tu_open("events", &o);
}

static size_t read_all(ldb_db *db, uint64_t after, ldb_event *out, size_t cap) {
  size_t n = 99;
  assert_int_equal(ldb_events_read(db, after, out, cap, &n), LDB_OK);
  return n;
}

static void test_checkpoint_events(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, 0);
  ldb_event ev[4];
  assert_int_equal(read_all(db, 0, ev, 4), 0);
  assert_int_equal(ldb_put(db, "a", 1, "1", 1), LDB_OK);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(read_all(db, 0, ev, 4), 1);
  assert_int_equal(ev[0].type, LDB_EVENT_CHECKPOINT);
  assert_string_equal(ldb_event_name(ev[0].type), "checkpoint");
  assert_int_equal(ev[0].seq, 1);
  assert_int_equal(ev[0].count, 1);
  assert_int_equal(ev[0].code, LDB_OK);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(ev[0].value, st.checkpoint_seq);
  assert_true(ev[0].time_ns <= st.uptime_ns);
  assert_int_equal(read_all(db, 1, ev, 4), 0);
  assert_int_equal(read_all(db, UINT64_MAX, ev, 4), 0);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

static void test_conflict_burst_and_busy(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, 2);
  for (int i = 0; i < 5; i++) {
    ldb_txn *a, *b;
    size_t n;
    assert_int_equal(ldb_txn_begin(db, 0, &a), LDB_OK);
    assert_int_equal(ldb_txn_begin(db, 0, &b), LDB_OK);
    (void)ldb_txn_get_buf(a, "k", 1, NULL, 0, &n); /* a read, no copy */
    (void)ldb_txn_get_buf(b, "k", 1, NULL, 0, &n);
    assert_int_equal(ldb_txn_put(a, "k", 1, "a", 1), LDB_OK);
    assert_int_equal(ldb_txn_put(b, "k", 1, "b", 1), LDB_OK);
    assert_int_equal(ldb_txn_commit(a), LDB_OK);
    assert_int_equal(ldb_txn_commit(b), LDB_CONFLICT);
  }
  ldb_event ev[8];
  assert_int_equal(read_all(db, 0, ev, 8), 1);
  assert_int_equal(ev[0].type, LDB_EVENT_CONFLICT);
  assert_int_equal(ev[0].code, LDB_CONFLICT);
  assert_int_equal(ev[0].count, 5);
  assert_true(ev[0].last_ns >= ev[0].time_ns);
  /* A third transaction over max_active_txns (2): BUSY, value the limit. */
  ldb_txn *t1, *t2, *t3 = NULL;
  assert_int_equal(ldb_txn_begin(db, 0, &t1), LDB_OK);
  assert_int_equal(ldb_txn_begin(db, 0, &t2), LDB_OK);
  assert_int_equal(ldb_txn_begin(db, 0, &t3), LDB_BUSY);
  assert_int_equal(read_all(db, 1, ev, 8), 1);
  assert_int_equal(ev[0].seq, 2);
  assert_int_equal(ev[0].type, LDB_EVENT_BUSY);
  assert_int_equal(ev[0].value, 2);
  assert_string_equal(ldb_event_name(ev[0].type), "busy");
  ldb_txn_abort(t1);
  ldb_txn_abort(t2);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

static void test_disk_full_and_recovery(void **state) {
  (void)state;
  ldb_store *inner, *fs;
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = fs;
  o.sync_mode = LDB_SYNC_FULL;
  o.background_checkpoint = 0;
  ldb_db *db = NULL;
  assert_int_equal(ldb_open("events-full", &o, &db), LDB_OK);
  assert_int_equal(ldb_put(db, "a", 1, "1", 1), LDB_OK);
  ldb_faulty_fail_nth(fs, 1, LDB_FAULT_WRITE, LDB_FULL, 1);
  assert_int_equal(ldb_put(db, "b", 1, "2", 1), LDB_FULL);
  ldb_event ev[8];
  size_t n = read_all(db, 0, ev, 8);
  int saw_full = 0;
  for (size_t i = 0; i < n; i++)
    if (ev[i].type == LDB_EVENT_DISK_FULL && ev[i].code == LDB_FULL)
      saw_full = 1;
  assert_true(saw_full);
  ldb_faulty_clear(fs);
  assert_int_equal(ldb_put(db, "c", 1, "3", 1), LDB_OK);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  n = read_all(db, 0, ev, 8);
  assert_true(n >= 2);
  assert_int_equal(ev[n - 1].type, LDB_EVENT_CHECKPOINT);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
}

static void test_ring_bound_and_arguments(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, 0);
  const int total = LDB_EVENT_RING + 44;
  for (int i = 0; i < total; i++) {
    char k[16];
    int kl = snprintf(k, sizeof k, "k%d", i);
    assert_int_equal(ldb_put(db, k, (size_t)kl, "v", 1), LDB_OK);
    assert_int_equal(ldb_checkpoint(db), LDB_OK);
  }
  ldb_event *ev = calloc(LDB_EVENT_RING + 8, sizeof *ev);
  size_t n = read_all(db, 0, ev, LDB_EVENT_RING + 8);
  assert_int_equal(n, LDB_EVENT_RING);
  /* Every checkpoint is an event; on a slow machine (sanitizers, load) a
   * SLOW_COMMIT or SYNC_STALL may come between them, so the newest seq is
   * at least `total`, and the ring holds the newest LDB_EVENT_RING. */
  uint64_t last = ev[n - 1].seq;
  assert_true(last >= (uint64_t)total);
  assert_int_equal(ev[0].seq, last - LDB_EVENT_RING + 1);
  for (size_t i = 1; i < n; i++)
    assert_int_equal(ev[i].seq, ev[i - 1].seq + 1);
  /* cap bounds the copy; `after` pages through. */
  assert_int_equal(read_all(db, 0, ev, 3), 3);
  assert_int_equal(ev[2].seq, last - LDB_EVENT_RING + 3);
  assert_int_equal(read_all(db, last - 2, ev, 8), 2);
  size_t cnt;
  assert_int_equal(ldb_events_read(db, 0, NULL, 4, &cnt), LDB_INVALID);
  assert_int_equal(ldb_events_read(db, 0, ev, 4, NULL), LDB_INVALID);
  assert_int_equal(ldb_events_read(db, 0, NULL, 0, &cnt), LDB_OK);
  assert_int_equal(cnt, 0);
  assert_string_equal(ldb_event_name(0), "unknown");
  assert_string_equal(ldb_event_name(99), "unknown");
  assert_string_equal(ldb_event_name(LDB_EVENT_DISK_FULL), "disk_full");
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_int_equal(ldb_events_read(NULL, 0, ev, 4, &cnt), LDB_INVALID);
  free(ev);
  ldb_store_destroy(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_checkpoint_events),
      cmocka_unit_test(test_conflict_burst_and_busy),
      cmocka_unit_test(test_disk_full_and_recovery),
      cmocka_unit_test(test_ring_bound_and_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
