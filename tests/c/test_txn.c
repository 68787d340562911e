/*
 * test_txn.c — transactions: snapshot isolation, read-your-writes,
 * optimistic conflicts (read-write and write-write, across checkpoints),
 * read-only transactions, abort, limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lightningdb.h"

typedef struct fx {
  ldb_store *s;
  ldb_db *db;
} fx;

static int setup_opts(void **st, int bg, uint32_t max_txns) {
  fx *f = calloc(1, sizeof *f);
  if (ldb_store_memory(&f->s)) return -1;
  ldb_options o;
  ldb_options_default(&o);
  o.store = f->s;
  o.sync_mode = LDB_SYNC_OFF;
  o.background_checkpoint = bg;
  o.max_active_txns = max_txns;
  if (ldb_open("txn", &o, &f->db)) return -1;
  *st = f;
  return 0;
}
static int setup(void **st) { return setup_opts(st, 1, 10000); }
static int setup_small(void **st) { return setup_opts(st, 0, 3); }

static int teardown(void **st) {
  fx *f = *st;
  int rc = ldb_close(f->db);
  ldb_store_destroy(f->s);
  free(f);
  return rc;
}

static void put_s(ldb_db *db, const char *k, const char *v) {
  assert_int_equal(ldb_put(db, k, strlen(k), v, strlen(v)), LDB_OK);
}

static void tget(ldb_txn *t, const char *k, const char *v) {
  void *val;
  size_t n;
  int rc = ldb_txn_get(t, k, strlen(k), &val, &n);
  if (!v) {
    assert_int_equal(rc, LDB_NOTFOUND);
    return;
  }
  assert_int_equal(rc, LDB_OK);
  assert_int_equal(n, strlen(v));
  assert_memory_equal(val, v, n);
  free(val); /* default allocator */
}

static void dget(ldb_db *db, const char *k, const char *v) {
  void *val;
  size_t n;
  int rc = ldb_get(db, k, strlen(k), &val, &n);
  if (!v) {
    assert_int_equal(rc, LDB_NOTFOUND);
    return;
  }
  assert_int_equal(rc, LDB_OK);
  assert_int_equal(n, strlen(v));
  assert_memory_equal(val, v, n);
  ldb_free(db, val);
}

static void test_isolation(void **st) {
  fx *f = *st;
  put_s(f->db, "a", "1");
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(f->db, LDB_TXN_READONLY, &t), LDB_OK);
  uint64_t seq = ldb_txn_snapshot_seq(t);
  put_s(f->db, "a", "2");
  put_s(f->db, "b", "new");
  assert_int_equal(ldb_delete(f->db, "a", 1), LDB_OK);
  tget(t, "a", "1");
  tget(t, "b", NULL);
  /* across a checkpoint, the snapshot still reads its own version */
  assert_int_equal(ldb_checkpoint(f->db), LDB_OK);
  tget(t, "a", "1");
  tget(t, "b", NULL);
  char buf[8];
  size_t n;
  assert_int_equal(ldb_txn_get_buf(t, "a", 1, buf, sizeof buf, &n), LDB_OK);
  assert_int_equal(n, 1);
  assert_int_equal(buf[0], '1');
  assert_int_equal(ldb_txn_snapshot_seq(t), seq);
  assert_int_equal(ldb_txn_put(t, "x", 1, "y", 1), LDB_READONLY);
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  dget(f->db, "a", NULL);
  dget(f->db, "b", "new");
}

static void test_read_your_writes(void **st) {
  fx *f = *st;
  put_s(f->db, "k1", "old");
  put_s(f->db, "k2", "old2");
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "k1", 2, "new", 3), LDB_OK);
  assert_int_equal(ldb_txn_delete(t, "k2", 2), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "k3", 2, "v3", 2), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "k3", 2, "v3b", 3), LDB_OK);
  tget(t, "k1", "new");
  tget(t, "k2", NULL);
  tget(t, "k3", "v3b");
  /* not visible outside before commit */
  dget(f->db, "k1", "old");
  dget(f->db, "k3", NULL);
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  dget(f->db, "k1", "new");
  dget(f->db, "k2", NULL);
  dget(f->db, "k3", "v3b");
}

static void test_conflict_read_write(void **st) {
  fx *f = *st;
  put_s(f->db, "counter", "0");
  ldb_txn *t1, *t2;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t1), LDB_OK);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t2), LDB_OK);
  tget(t1, "counter", "0");
  tget(t2, "counter", "0");
  assert_int_equal(ldb_txn_put(t1, "counter", 7, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(t2, "counter", 7, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(t2, "other", 5, "x", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t2), LDB_CONFLICT);
  assert_non_null(strstr(ldb_errmsg(NULL), "conflict"));
  dget(f->db, "other", NULL); /* nothing of t2 applied */
  ldb_stats s;
  assert_int_equal(ldb_stats_get(f->db, &s), LDB_OK);
  assert_int_equal(s.conflicts, 1);

  /* a read alone conflicts with a later commit of that key */
  assert_int_equal(ldb_txn_begin(f->db, 0, &t1), LDB_OK);
  tget(t1, "counter", "1");
  put_s(f->db, "counter", "5");
  assert_int_equal(ldb_txn_put(t1, "elsewhere", 9, "z", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t1), LDB_CONFLICT);
  dget(f->db, "elsewhere", NULL);

  /* a key read through an iterator conflicts too */
  assert_int_equal(ldb_txn_begin(f->db, 0, &t1), LDB_OK);
  ldb_iter *it;
  assert_int_equal(ldb_iter_create(f->db, t1, NULL, &it), LDB_OK);
  assert_int_equal(ldb_iter_seek(it, "counter", 7), LDB_OK);
  ldb_iter_destroy(it);
  put_s(f->db, "counter", "6");
  assert_int_equal(ldb_txn_put(t1, "elsewhere", 9, "z", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t1), LDB_CONFLICT);
}

static void test_conflict_write_write(void **st) {
  fx *f = *st;
  ldb_txn *t1, *t2;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t1), LDB_OK);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t2), LDB_OK);
  assert_int_equal(ldb_txn_put(t1, "w", 1, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(t2, "w", 1, "2", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t2), LDB_OK);
  assert_int_equal(ldb_txn_commit(t1), LDB_CONFLICT);
  dget(f->db, "w", "2");
  /* disjoint keys never conflict */
  assert_int_equal(ldb_txn_begin(f->db, 0, &t1), LDB_OK);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t2), LDB_OK);
  tget(t1, "d1", NULL);
  assert_int_equal(ldb_txn_put(t1, "d1", 2, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(t2, "d2", 2, "2", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t2), LDB_OK);
  assert_int_equal(ldb_txn_commit(t1), LDB_OK);
  dget(f->db, "d1", "1");
  dget(f->db, "d2", "2");
}

static void test_conflict_across_checkpoint(void **st) {
  fx *f = *st;
  put_s(f->db, "c", "0");
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  tget(t, "c", "0");
  put_s(f->db, "c", "1");
  /* the competing commit moves into the tree and two more memtables pass */
  assert_int_equal(ldb_checkpoint(f->db), LDB_OK);
  put_s(f->db, "filler", "x");
  assert_int_equal(ldb_checkpoint(f->db), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "c", 1, "2", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t), LDB_CONFLICT);
  dget(f->db, "c", "1");
}

static void test_abort_and_empty(void **st) {
  fx *f = *st;
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "ab", 2, "x", 1), LDB_OK);
  ldb_txn_abort(t);
  dget(f->db, "ab", NULL);
  ldb_txn_abort(NULL);
  ldb_stats s0, s1;
  assert_int_equal(ldb_stats_get(f->db, &s0), LDB_OK);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_commit(t), LDB_OK); /* nothing to apply */
  assert_int_equal(ldb_stats_get(f->db, &s1), LDB_OK);
  assert_int_equal(s1.last_seq, s0.last_seq);
  assert_int_equal(ldb_txn_begin(f->db, 0x80, &t), LDB_INVALID);
  assert_int_equal(ldb_txn_put(NULL, "a", 1, "b", 1), LDB_INVALID);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "", 0, "b", 1), LDB_INVALID);
  assert_int_equal(ldb_close(f->db), LDB_BUSY); /* open transaction */
  ldb_txn_abort(t);
}

static void test_many_writes(void **st) {
  fx *f = *st;
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  char k[32], v[32];
  for (int i = 0; i < 20000; i++) {
    snprintf(k, sizeof k, "m%06d", i % 5000);
    snprintf(v, sizeof v, "%d", i);
    assert_int_equal(ldb_txn_put(t, k, strlen(k), v, strlen(v)), LDB_OK);
  }
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  for (int i = 0; i < 5000; i += 333) {
    snprintf(k, sizeof k, "m%06d", i);
    snprintf(v, sizeof v, "%d", i + 15000);
    dget(f->db, k, v);
  }
}

static void test_limit(void **st) {
  fx *f = *st;
  ldb_txn *t[4];
  for (int i = 0; i < 3; i++)
    assert_int_equal(ldb_txn_begin(f->db, LDB_TXN_READONLY, &t[i]), LDB_OK);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t[3]), LDB_BUSY);
  ldb_txn_abort(t[0]);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t[3]), LDB_OK);
  for (int i = 1; i < 4; i++) ldb_txn_abort(t[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_isolation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_your_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conflict_read_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conflict_write_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conflict_across_checkpoint, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_abort_and_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_writes, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_limit, setup_small, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
