/*
 * test_close.c — closing never refuses (lightningdb.h, ldb_close): a closed
 * handle's open transactions and iterators are invalidated (writes
 * discarded, snapshots released), answer LDB_CLOSED afterwards, and are
 * still freed by ldb_txn_abort / ldb_iter_destroy, the last of them freeing
 * the handle's memory; ending a transaction invalidates its iterators; and
 * threads that each have their own handle on one shared engine can close
 * with children open while the others keep working.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "helpers/store_faulty.h"
#include "helpers/testutil.h"
#include "lightningdb.h"

static ldb_db *open_on(ldb_store *s, const ldb_allocator *a) {
  ldb_options o;
  ldb_options_default(&o);
  o.store = s;
  o.sync_mode = LDB_SYNC_OFF;
  o.allocator = a;
  return tu_open("close", &o);
}

static int has(ldb_db *db, const char *k) {
  size_t vl = 0;
  char buf[8];
  int rc = ldb_get_buf(db, k, strlen(k), buf, sizeof buf, &vl);
  assert_true(rc == LDB_OK || rc == LDB_NOTFOUND);
  return rc == LDB_OK;
}

/* Every call on an invalidated iterator answers LDB_CLOSED. */
static void iter_all_closed(ldb_iter *it) {
  const void *p;
  size_t n, cnt, used;
  char buf[64];
  assert_int_equal(ldb_iter_first(it), LDB_CLOSED);
  assert_int_equal(ldb_iter_last(it), LDB_CLOSED);
  assert_int_equal(ldb_iter_seek(it, "a", 1), LDB_CLOSED);
  assert_int_equal(ldb_iter_next(it), LDB_CLOSED);
  assert_int_equal(ldb_iter_prev(it), LDB_CLOSED);
  assert_int_equal(ldb_iter_key(it, &p, &n), LDB_CLOSED);
  assert_int_equal(ldb_iter_value(it, &p, &n), LDB_CLOSED);
  assert_int_equal(ldb_iter_read(it, buf, sizeof buf, 10, &cnt, &used),
                   LDB_CLOSED);
  assert_int_equal(ldb_iter_valid(it), 0);
}

/* Every call on an invalidated transaction answers LDB_CLOSED. */
static void txn_all_closed(ldb_txn *t) {
  void *v;
  size_t vl;
  char buf[8];
  assert_int_equal(ldb_txn_get(t, "a", 1, &v, &vl), LDB_CLOSED);
  assert_int_equal(ldb_txn_get_buf(t, "a", 1, buf, sizeof buf, &vl),
                   LDB_CLOSED);
  assert_int_equal(ldb_txn_put(t, "a", 1, "1", 1), LDB_CLOSED);
  assert_int_equal(ldb_txn_delete(t, "a", 1), LDB_CLOSED);
}

static void test_close_with_children(void **state) {
  (void)state;
  tu_alloc ta;
  tu_alloc_init(&ta);
  ldb_store *s = NULL;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_on(s, &ta.a);
  for (int i = 0; i < 100; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%03d", i);
    tu_put_s(db, k, "v");
  }
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  tu_put_s(db, "mem",
           "1"); /* one entry in the memtable, the rest in the tree */

  ldb_txn *rw = NULL, *ro = NULL;
  ldb_iter *plain = NULL, *in_rw = NULL, *in_ro = NULL, *unpositioned = NULL;
  assert_int_equal(ldb_txn_begin(db, 0, &rw), LDB_OK);
  assert_int_equal(ldb_txn_put(rw, "buffered", 8, "x", 1), LDB_OK);
  assert_int_equal(ldb_txn_delete(rw, "k000", 4), LDB_OK);
  assert_int_equal(ldb_txn_begin(db, LDB_TXN_READONLY, &ro), LDB_OK);
  assert_int_equal(ldb_iter_create(db, NULL, NULL, &plain), LDB_OK);
  assert_int_equal(ldb_iter_create(db, rw, NULL, &in_rw), LDB_OK);
  assert_int_equal(ldb_iter_create(db, ro, NULL, &in_ro), LDB_OK);
  assert_int_equal(ldb_iter_create(db, NULL, NULL, &unpositioned), LDB_OK);
  assert_int_equal(ldb_iter_first(plain), LDB_OK);
  assert_int_equal(ldb_iter_seek(in_rw, "k050", 4), LDB_OK);
  assert_int_equal(ldb_iter_last(in_ro), LDB_OK);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.active_txns, 2);
  assert_int_equal(st.active_snapshots, 4); /* 2 txns, 2 own iterators */

  /* Close never refuses. */
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_true(tu_alloc_live(&ta) > 0); /* the children and the handle */

  /* The zombie handle answers LDB_CLOSED. */
  assert_int_equal(ldb_put(db, "a", 1, "1", 1), LDB_CLOSED);
  ldb_txn *t2 = NULL;
  assert_int_equal(ldb_txn_begin(db, 0, &t2), LDB_CLOSED);
  assert_null(t2);
  ldb_iter *i2 = NULL;
  assert_int_equal(ldb_iter_create(db, NULL, NULL, &i2), LDB_CLOSED);
  assert_int_equal(ldb_iter_create(db, rw, NULL, &i2), LDB_CLOSED);
  assert_int_equal(ldb_stats_get(db, &st), LDB_CLOSED);
  assert_int_equal(ldb_close(db), LDB_CLOSED);

  /* Children answer LDB_CLOSED and are still freed, in any order. */
  iter_all_closed(plain);
  iter_all_closed(in_rw);
  iter_all_closed(in_ro);
  iter_all_closed(unpositioned);
  txn_all_closed(rw);
  txn_all_closed(ro);
  assert_int_equal(ldb_txn_snapshot_seq(ro), ldb_txn_snapshot_seq(rw));
  ldb_iter_destroy(in_rw);
  assert_int_equal(ldb_txn_commit(rw), LDB_CLOSED); /* freed, not applied */
  ldb_txn_abort(ro);
  ldb_iter_destroy(plain);
  ldb_iter_destroy(unpositioned);
  assert_true(tu_alloc_live(&ta) > 0);
  ldb_iter_destroy(in_ro); /* the last child frees the handle */
  assert_int_equal(tu_alloc_live(&ta), 0);

  /* The transaction's writes were discarded. */
  db = open_on(s, &ta.a);
  assert_false(has(db, "buffered"));
  assert_true(has(db, "k000"));
  assert_true(has(db, "mem"));
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.active_txns, 0);
  assert_int_equal(st.active_snapshots, 0);
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_int_equal(tu_alloc_live(&ta), 0);
  ldb_store_destroy(s);
}

static void test_close_without_children_frees(void **state) {
  (void)state;
  tu_alloc ta;
  tu_alloc_init(&ta);
  ldb_store *s = NULL;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_on(s, &ta.a);
  ldb_txn *t = NULL;
  ldb_iter *it = NULL;
  /* Children freed before close: close frees everything at once. */
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  assert_int_equal(ldb_iter_create(db, t, NULL, &it), LDB_OK);
  ldb_iter_destroy(it);
  ldb_txn_abort(t);
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_int_equal(tu_alloc_live(&ta), 0);
  ldb_close(NULL);
  ldb_store_destroy(s);
}

static void test_txn_end_invalidates_iterators(void **state) {
  (void)state;
  ldb_store *s = NULL;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_on(s, NULL);
  tu_put_s(db, "a", "1");
  tu_put_s(db, "b", "2");
  for (int end = 0; end < 3; end++) {
    ldb_txn *t = NULL;
    ldb_iter *i1 = NULL, *i2 = NULL, *other = NULL;
    assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
    assert_int_equal(ldb_txn_put(t, "c", 1, "3", 1), LDB_OK);
    assert_int_equal(ldb_iter_create(db, t, NULL, &i1), LDB_OK);
    assert_int_equal(ldb_iter_create(db, t, NULL, &i2), LDB_OK);
    assert_int_equal(ldb_iter_create(db, NULL, NULL, &other), LDB_OK);
    assert_int_equal(ldb_iter_first(i1), LDB_OK);
    assert_int_equal(ldb_iter_next(i1), LDB_OK);
    if (end == 0) {
      assert_int_equal(ldb_txn_commit(t), LDB_OK); /* applied */
    } else if (end == 1) {
      ldb_txn_abort(t);
    } else {
      /* A conflict ends it too. */
      tu_put_s(db, "c", "other");
      assert_int_equal(ldb_txn_get_buf(t, "a", 1, NULL, 0, &(size_t){0}),
                       LDB_OK);
      assert_int_equal(ldb_txn_commit(t), LDB_CONFLICT);
    }
    iter_all_closed(i1);
    iter_all_closed(i2);
    /* An iterator of the handle (not of the transaction) lives on. */
    assert_int_equal(ldb_iter_first(other), LDB_OK);
    ldb_iter_destroy(i2);
    ldb_iter_destroy(i1);
    ldb_iter_destroy(other);
    ldb_stats st;
    assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
    assert_int_equal(st.active_txns, 0);
    assert_int_equal(st.active_snapshots, 0);
  }
  size_t vl = 0;
  char v[8];
  assert_int_equal(ldb_get_buf(db, "c", 1, v, sizeof v, &vl), LDB_OK);
  assert_int_equal(vl, 5); /* "other": the aborted/conflicting did not apply */
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

/* Closing one handle of a shared engine releases only its children. */
static void test_shared_engine_close(void **state) {
  (void)state;
  ldb_store *s = NULL;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *a = open_on(s, NULL), *b = open_on(s, NULL);
  ldb_txn *ta = NULL, *tb = NULL;
  ldb_iter *ia = NULL, *ib = NULL;
  assert_int_equal(ldb_txn_begin(a, 0, &ta), LDB_OK);
  assert_int_equal(ldb_txn_begin(b, 0, &tb), LDB_OK);
  assert_int_equal(ldb_txn_put(ta, "ta", 2, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(tb, "tb", 2, "1", 1), LDB_OK);
  assert_int_equal(ldb_iter_create(a, NULL, NULL, &ia), LDB_OK);
  assert_int_equal(ldb_iter_create(b, tb, NULL, &ib), LDB_OK);
  assert_int_equal(ldb_close(a), LDB_OK);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(b, &st), LDB_OK);
  assert_int_equal(st.active_txns, 1);
  assert_int_equal(st.active_snapshots, 1);
  /* b's children work on. */
  assert_int_equal(ldb_iter_first(ib), LDB_OK);
  ldb_iter_destroy(ib);
  assert_int_equal(ldb_txn_commit(tb), LDB_OK);
  assert_int_equal(ldb_txn_commit(ta), LDB_CLOSED);
  iter_all_closed(ia);
  ldb_iter_destroy(ia);
  assert_true(has(b, "tb"));
  assert_false(has(b, "ta"));
  assert_int_equal(ldb_close(b), LDB_OK);
  ldb_store_destroy(s);
}

/* Worker threads, each with its own handle on one engine, closing with
 * children open while the others keep reading and writing. */
typedef struct worker {
  ldb_store *s;
  int id, rounds, bad;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  for (int r = 0; r < w->rounds; r++) {
    ldb_db *db = NULL;
    ldb_options o;
    ldb_options_default(&o);
    o.store = w->s;
    o.sync_mode = LDB_SYNC_OFF;
    if (ldb_open("close", &o, &db)) {
      w->bad++;
      continue;
    }
    char k[32];
    snprintf(k, sizeof k, "w%d-%d", w->id, r);
    if (ldb_put(db, k, strlen(k), "v", 1)) w->bad++;
    ldb_txn *t = NULL;
    ldb_iter *it = NULL, *ti = NULL;
    if (ldb_txn_begin(db, 0, &t) || ldb_iter_create(db, NULL, NULL, &it) ||
        ldb_iter_create(db, t, NULL, &ti)) {
      w->bad++;
      continue;
    }
    if (ldb_txn_put(t, "never", 5, "x", 1)) w->bad++;
    int n = 0;
    for (int rc = ldb_iter_first(it); rc == LDB_OK && n < 50;
         rc = ldb_iter_next(it))
      n++;
    if (ldb_iter_first(ti) != LDB_OK) w->bad++;
    if (r % 2) ldb_iter_destroy(it), it = NULL;
    if (ldb_close(db) != LDB_OK) w->bad++;
    if (ldb_iter_next(ti) != LDB_CLOSED) w->bad++;
    if (it && ldb_iter_first(it) != LDB_CLOSED) w->bad++;
    if (ldb_txn_commit(t) != LDB_CLOSED) w->bad++;
    ldb_iter_destroy(ti);
    ldb_iter_destroy(it);
  }
  return NULL;
}

static void test_threads_close_own_handles(void **state) {
  (void)state;
  ldb_store *s = NULL;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *keeper = open_on(s, NULL); /* keeps the engine open throughout */
  enum { N = 4 };
  pthread_t th[N];
  worker w[N];
  int rounds = (int)tu_scale(200, 4, 20);
  for (int i = 0; i < N; i++) {
    w[i] = (worker){s, i, rounds, 0};
    assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < N; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(w[i].bad, 0);
  }
  assert_false(has(keeper, "never"));
  for (int i = 0; i < N; i++) {
    char k[32];
    snprintf(k, sizeof k, "w%d-%d", i, rounds - 1);
    assert_true(has(keeper, k));
  }
  ldb_stats st;
  assert_int_equal(ldb_stats_get(keeper, &st), LDB_OK);
  assert_int_equal(st.active_txns, 0);
  assert_int_equal(st.active_snapshots, 0);
  assert_int_equal(ldb_close(keeper), LDB_OK);
  ldb_store_destroy(s);
}

/* A write or sync the store refused during automatic checkpoint work
 * (freezes and checkpoint steps run by commits, after the last
 * ldb_checkpoint) is reported by ldb_close, even though the commits
 * returned LDB_OK and the close's own final checkpoint succeeds: the close
 * is the caller's last chance to hear of it. Every fault point of the
 * data-file and log writes and syncs of a run is tried in turn; the
 * database then reopens with every commit. */
static void test_close_reports_automatic_errors(void **state) {
  (void)state;
  enum { NKEYS = 3000 };
  int kinds = LDB_FAULT_WRITE | LDB_FAULT_SYNC;
  uint64_t total = 0, reported_by_close = 0;
  uint64_t stride = 1;
  for (uint64_t nth = 0; nth == 0 || nth <= total;
       nth += nth < 40 ? 1 : stride) {
    ldb_store *mem = NULL, *fs = NULL;
    assert_int_equal(ldb_store_memory(&mem), LDB_OK);
    assert_int_equal(ldb_store_faulty(mem, &fs), LDB_OK);
    ldb_options o;
    ldb_options_default(&o);
    o.store = fs;
    o.sync_mode = LDB_SYNC_OFF;
    o.page_size = 512;
    o.cache_size = 512 * 32;
    o.memtable_size = 64 * 1024; /* many automatic freezes and steps */
    o.background_checkpoint = 0; /* commits run them: deterministic */
    ldb_db *db = NULL;
    assert_int_equal(ldb_open("close-auto", &o, &db), LDB_OK);
    uint64_t before = ldb_faulty_count(fs, kinds);
    if (nth) ldb_faulty_fail_nth(fs, nth, kinds, LDB_IOERR, 0);
    int put_failed = 0, refused = 0;
    char k[16], v[40];
    /* Commits of 10 puts: with one log write per commit, most fault
     * points would hit the log (a failed commit, not automatic work). */
    ldb_batch *b = NULL;
    assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
    for (int i = 0; i < NKEYS && !put_failed; i++) {
      snprintf(k, sizeof k, "k%06d", (i * 7919) % NKEYS);
      memset(v, 'a' + i % 26, sizeof v);
      assert_int_equal(ldb_batch_put(b, k, strlen(k), v, sizeof v), LDB_OK);
      if (i % 10 == 9 || i == NKEYS - 1) {
        put_failed = ldb_write(db, b) != LDB_OK;
        /* Refused whole: the memtables reached their limit while the
         * failed automatic checkpoint waits for its retry. */
        refused = put_failed && strstr(ldb_errmsg(NULL), "write refused");
        ldb_batch_clear(b);
      }
    }
    ldb_batch_destroy(b);
    uint64_t during = ldb_faulty_count(fs, kinds) - before;
    int crc = ldb_close(db);
    if (!nth) {
      assert_int_equal(crc, LDB_OK);
      total = during;
      assert_true(total > 20);
      /* About 150 runs whatever the count. */
      stride = total / 110 ? total / 110 : 1;
    } else if ((!put_failed || refused) && nth <= during) {
      /* The fault hit automatic work: the close must say so (also when
       * it then made the memtables refuse a write). */
      if (crc == LDB_OK)
        fprintf(stderr, "fault at write/sync %llu swallowed by close\n",
                (unsigned long long)nth);
      assert_int_equal(crc, LDB_IOERR);
      reported_by_close++;
    }
    /* Every acknowledged commit is there after a restart. */
    ldb_faulty_clear(fs);
    assert_int_equal(ldb_open("close-auto", &o, &db), LDB_OK);
    assert_int_equal(ldb_check(db), LDB_OK);
    if (!put_failed) {
      for (int i = 0; i < NKEYS; i++) {
        size_t vl = 0;
        char buf[64];
        snprintf(k, sizeof k, "k%06d", i);
        assert_int_equal(ldb_get_buf(db, k, strlen(k), buf, sizeof buf, &vl),
                         LDB_OK);
        assert_int_equal(vl, sizeof v);
      }
    }
    assert_int_equal(ldb_close(db), LDB_OK);
    ldb_store_destroy(fs);
    ldb_store_destroy(mem);
  }
  /* The sweep did reach faults that only the close could report. */
  assert_true(reported_by_close > 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_close_with_children),
      cmocka_unit_test(test_close_without_children_frees),
      cmocka_unit_test(test_txn_end_invalidates_iterators),
      cmocka_unit_test(test_shared_engine_close),
      cmocka_unit_test(test_threads_close_own_handles),
      cmocka_unit_test(test_close_reports_automatic_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
