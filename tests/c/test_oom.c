/*
 * test_oom.c — allocation failure at every allocation of each API call in
 * turn (open, recovery, put, get, batch, txn ops and commit, iteration,
 * checkpoint, check, backup) through the allocator hook. The call must
 * return LDB_NOMEM (or succeed, if it could do without the memory), the
 * handle must stay usable with its content intact, and after ldb_close no
 * allocation may be left (the counting allocator sees every one; the ASan
 * build's LeakSanitizer checks the rest).
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

#define MAXN 100000

typedef struct env {
  tu_alloc ta;
  ldb_store *store;
  ldb_options o;
  ldb_db *db;
  tu_model *m;
  const char *op;
  uint64_t n;
} env;

#define FAILF(...)                                                             \
  do {                                                                         \
    fprintf(stderr, "[oom %s, allocation %llu] ", e->op,                       \
            (unsigned long long)e->n);                                         \
    fprintf(stderr, __VA_ARGS__);                                              \
    fprintf(stderr, " (errmsg: %s)\n", ldb_errmsg(NULL));                      \
    fail();                                                                    \
  } while (0)

static void key_of(int i, char *k) {
  snprintf(k, 16, "key%05d", i);
}

static void fill_value(int i, int gen, uint8_t *v, size_t len) {
  for (size_t j = 0; j < len; j++)
    v[j] = (uint8_t)(i * 31 + gen + j % 7);
}

/* The database must equal the model and pass a check (nothing injected). */
static void verify(env *e) {
  tu_alloc_fail_nth(&e->ta, 0, 0);
  int rc = ldb_check(e->db);
  if (rc != LDB_OK) FAILF("check after the failure: %s", ldb_code_name(rc));
  ldb_iter *it = NULL;
  rc = ldb_iter_create(e->db, NULL, NULL, &it);
  if (rc != LDB_OK) FAILF("iter_create after failure: %s", ldb_code_name(rc));
  size_t i = 0;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it), i++) {
    const void *k, *v, *wk, *wv;
    size_t kl, vl, wkl, wvl;
    if (i >= tu_model_count(e->m)) FAILF("extra entry after failure");
    tu_model_at(e->m, i, &wk, &wkl, &wv, &wvl);
    ldb_iter_key(it, &k, &kl);
    ldb_iter_value(it, &v, &vl);
    if (tu_keycmp(k, kl, wk, wkl) || vl != wvl || memcmp(v, wv, vl))
      FAILF("entry %zu differs from the model after the failure", i);
  }
  if (rc != LDB_NOTFOUND) FAILF("scan: %s", ldb_code_name(rc));
  if (i != tu_model_count(e->m))
    FAILF("%zu entries, model has %zu", i, tu_model_count(e->m));
  ldb_iter_destroy(it);
}

static void env_open(env *e, int fresh_store) {
  if (fresh_store) {
    assert_int_equal(ldb_store_memory(&e->store), LDB_OK);
    e->m = tu_model_new();
  }
  ldb_options_default(&e->o);
  e->o.store = e->store;
  e->o.allocator = &e->ta.a;
  e->o.page_size = 1024;
  e->o.background_checkpoint = 0;
  e->o.sync_mode = LDB_SYNC_FULL;
  e->o.memtable_size = 32 * 1024;
  e->o.compression = LDB_COMPRESSION_ZSTD;
  tu_alloc_fail_nth(&e->ta, 0, 0);
  assert_int_equal(ldb_open("oom", &e->o, &e->db), LDB_OK);
}

static void env_load(env *e, int count, int gen) {
  uint8_t v[3000];
  for (int i = 0; i < count; i++) {
    char k[16];
    size_t vl = (size_t)(i % 10 == 0 ? 2500 : 40 + i % 50);
    key_of(i, k);
    fill_value(i, gen, v, vl);
    assert_int_equal(ldb_put(e->db, k, strlen(k), v, vl), LDB_OK);
    tu_model_put(e->m, k, strlen(k), v, vl);
  }
}

static void env_close(env *e, int destroy) {
  tu_alloc_fail_nth(&e->ta, 0, 0);
  if (e->db) assert_int_equal(ldb_close(e->db), LDB_OK);
  e->db = NULL;
  long long live = tu_alloc_live(&e->ta);
  if (live != 0) FAILF("%lld allocations leaked after ldb_close", live);
  if (destroy) {
    ldb_store_destroy(e->store);
    tu_model_free(e->m);
  }
}

/* Calls op with the nth allocation failing, for n = 1, 2, ... until op
 * completes without meeting the failure. op returns an LDB code and must
 * leave the model updated when it succeeded. */
typedef int (*op_fn)(env *e, int *applied);

static void sweep(env *e, const char *name, op_fn op) {
  e->op = name;
  uint64_t step = tu_quick() ? 3 : 1, nomem = 0, absorbed = 0;
  for (e->n = 1; e->n < MAXN; e->n += (e->n < 50 ? 1 : step)) {
    int applied = 0;
    tu_alloc_fail_nth(&e->ta, e->n, 0);
    int rc = op(e, &applied);
    int hit = e->ta.failed;
    tu_alloc_fail_nth(&e->ta, 0, 0);
    if (rc != LDB_OK && rc != LDB_NOMEM)
      FAILF("returned %s (expected OK or NO_MEMORY)", ldb_code_name(rc));
    if (rc == LDB_NOMEM && !hit)
      FAILF("returned NO_MEMORY without a failed allocation");
    verify(e);
    if (!hit) {
      /* The op needed fewer than n allocations: every one was failed. */
      printf("oom %s: %llu allocation points, %llu returned NO_MEMORY, "
             "%llu absorbed\n",
             name, (unsigned long long)e->n - 1, (unsigned long long)nomem,
             (unsigned long long)absorbed);
      return;
    }
    if (rc == LDB_NOMEM)
      nomem++;
    else
      absorbed++;
  }
  FAILF("did not finish within %d allocations", MAXN);
}

/* ---- ops --------------------------------------------------------------- */

static int g_gen = 1;

/* Most puts allocate nothing (the memtable carves arena blocks), so a put
 * "op" is a run of puts until one meets the failed allocation. */
static int op_put(env *e, int *applied) {
  uint8_t v[3000];
  char k[16];
  int rc = LDB_OK;
  for (int j = 0; j < 400 && rc == LDB_OK && !e->ta.failed; j++) {
    int i = (int)((e->n * 7 + (uint64_t)j) % 300);
    size_t vl = (size_t)((e->n + (uint64_t)j) % 3 == 0 ? 2800 : 100);
    key_of(i, k);
    fill_value(i, ++g_gen, v, vl);
    rc = ldb_put(e->db, k, strlen(k), v, vl);
    if (rc == LDB_OK) tu_model_put(e->m, k, strlen(k), v, vl);
  }
  *applied = rc == LDB_OK;
  return rc;
}

static int op_delete(env *e, int *applied) {
  (void)applied;
  char k[16];
  int rc = LDB_OK;
  /* Tombstones are small: enough of them to fill an arena block or
   * trigger a checkpoint step. */
  for (int j = 0; j < 5000 && rc == LDB_OK && !e->ta.failed; j++) {
    key_of((int)((e->n * 7 + (uint64_t)j) % 300), k);
    rc = ldb_delete(e->db, k, strlen(k));
    if (rc == LDB_OK) tu_model_del(e->m, k, strlen(k));
  }
  return rc;
}

static int op_get(env *e, int *applied) {
  (void)applied;
  char k[16];
  void *v = NULL;
  size_t vl;
  const void *wv;
  size_t wvl;
  key_of((int)(e->n % 300), k);
  int rc = ldb_get(e->db, k, strlen(k), &v, &vl);
  int present = tu_model_get(e->m, k, strlen(k), &wv, &wvl);
  if (rc == LDB_OK && (!present || vl != wvl || memcmp(v, wv, vl)))
    FAILF("get returned a wrong value");
  if (rc == LDB_NOTFOUND && present) FAILF("get lost a key");
  if (rc == LDB_NOMEM && v) FAILF("failed get returned a value pointer");
  ldb_free(e->db, v);
  return rc == LDB_NOTFOUND ? LDB_OK : rc;
}

static int op_batch(env *e, int *applied) {
  (void)applied;
  ldb_batch *b = NULL;
  uint8_t v[3000];
  int rc = ldb_batch_create(e->db, &b);
  int base = (int)(e->n * 13 % 250);
  for (int j = 0; rc == LDB_OK && j < 10; j++) {
    char k[16];
    key_of(base + j, k);
    if (j % 4 == 3) {
      rc = ldb_batch_delete(b, k, strlen(k));
    } else {
      fill_value(base + j, g_gen + j, v, j == 0 ? 2000 : 60);
      rc = ldb_batch_put(b, k, strlen(k), v, j == 0 ? 2000 : 60);
    }
  }
  if (rc == LDB_OK) rc = ldb_write(e->db, b);
  if (rc == LDB_OK) {
    for (int j = 0; j < 10; j++) {
      char k[16];
      key_of(base + j, k);
      if (j % 4 == 3) {
        tu_model_del(e->m, k, strlen(k));
      } else {
        fill_value(base + j, g_gen + j, v, j == 0 ? 2000 : 60);
        tu_model_put(e->m, k, strlen(k), v, j == 0 ? 2000 : 60);
      }
    }
  }
  g_gen += 10;
  ldb_batch_destroy(b);
  return rc;
}

static int op_txn(env *e, int *applied) {
  (void)applied;
  ldb_txn *t = NULL;
  uint8_t v[200];
  int base = (int)(e->n * 11 % 250);
  int rc = ldb_txn_begin(e->db, 0, &t);
  if (rc != LDB_OK) {
    if (t) FAILF("failed begin returned a transaction");
    return rc;
  }
  for (int j = 0; rc == LDB_OK && j < 6; j++) {
    char k[16];
    void *got = NULL;
    size_t gl;
    key_of(base + j, k);
    rc = ldb_txn_get(t, k, strlen(k), &got, &gl);
    ldb_free(e->db, got);
    if (rc == LDB_NOTFOUND) rc = LDB_OK;
    if (rc != LDB_OK) break;
    fill_value(base + j, g_gen + j, v, 150);
    rc = j == 5 ? ldb_txn_delete(t, k, strlen(k))
                : ldb_txn_put(t, k, strlen(k), v, 150);
  }
  if (rc != LDB_OK) {
    ldb_txn_abort(t);
    g_gen += 6;
    return rc;
  }
  rc = ldb_txn_commit(t);
  if (rc == LDB_OK) {
    for (int j = 0; j < 6; j++) {
      char k[16];
      key_of(base + j, k);
      fill_value(base + j, g_gen + j, v, 150);
      if (j == 5)
        tu_model_del(e->m, k, strlen(k));
      else
        tu_model_put(e->m, k, strlen(k), v, 150);
    }
  }
  g_gen += 6;
  return rc;
}

static int op_iter(env *e, int *applied) {
  (void)applied;
  ldb_iter_options io;
  ldb_iter *it = NULL;
  memset(&io, 0, sizeof io);
  io.lower = "key00050";
  io.lower_len = 8;
  io.reverse = (int)(e->n & 1);
  int rc = ldb_iter_create(e->db, NULL, &io, &it);
  if (rc != LDB_OK) return rc;
  int steps = 0;
  for (rc = ldb_iter_first(it); rc == LDB_OK && steps < 80;
       rc = ldb_iter_next(it), steps++) {
    const void *v;
    size_t vl;
    rc = ldb_iter_value(it, &v, &vl);
    if (rc != LDB_OK) break;
  }
  ldb_iter_destroy(it);
  return rc == LDB_NOTFOUND ? LDB_OK : rc;
}

static int op_checkpoint(env *e, int *applied) {
  (void)applied;
  /* Fresh work for every attempt, loaded with injection off. */
  uint64_t n = e->ta.fail_at;
  tu_alloc_fail_nth(&e->ta, 0, 0);
  uint8_t v[100];
  for (int j = 0; j < 20; j++) {
    char k[16];
    key_of((int)((n * 17 + (uint64_t)j) % 300), k);
    fill_value(j, (int)n, v, sizeof v);
    assert_int_equal(ldb_put(e->db, k, strlen(k), v, sizeof v), LDB_OK);
    tu_model_put(e->m, k, strlen(k), v, sizeof v);
  }
  tu_alloc_fail_nth(&e->ta, n, 0);
  return ldb_checkpoint(e->db);
}

static int op_check(env *e, int *applied) {
  (void)applied;
  return ldb_check(e->db);
}

static int op_backup(env *e, int *applied) {
  (void)applied;
  ldb_store *dst = NULL;
  uint64_t n = e->ta.fail_at;
  tu_alloc_fail_nth(&e->ta, 0, 0);
  assert_int_equal(ldb_store_memory(&dst), LDB_OK);
  tu_alloc_fail_nth(&e->ta, n, 0);
  int rc = ldb_backup_to_store(e->db, dst);
  int hit = e->ta.failed;
  tu_alloc_fail_nth(&e->ta, 0, 0);
  e->ta.failed = hit;
  if (rc == LDB_OK) {
    /* The copy opens, checks and holds the same number of keys. */
    ldb_options o;
    ldb_db *b = NULL;
    ldb_options_default(&o);
    o.store = dst;
    assert_int_equal(ldb_open("backup", &o, &b), LDB_OK);
    assert_int_equal(ldb_check(b), LDB_OK);
    ldb_iter *it = NULL;
    size_t cnt = 0;
    assert_int_equal(ldb_iter_create(b, NULL, NULL, &it), LDB_OK);
    for (int r = ldb_iter_first(it); r == LDB_OK; r = ldb_iter_next(it))
      cnt++;
    ldb_iter_destroy(it);
    if (cnt != tu_model_count(e->m))
      FAILF("backup holds %zu keys, not %zu", cnt, tu_model_count(e->m));
    assert_int_equal(ldb_close(b), LDB_OK);
  }
  ldb_store_destroy(dst);
  return rc;
}

/* ---- tests ------------------------------------------------------------- */

static void with_db(const char *name, op_fn op) {
  env e_;
  env *e = &e_;
  memset(e, 0, sizeof *e);
  tu_alloc_init(&e->ta);
  env_open(e, 1);
  env_load(e, 300, 0);
  sweep(e, name, op);
  env_close(e, 1);
}

static void test_oom_put(void **s) {
  (void)s;
  with_db("put", op_put);
}
static void test_oom_delete(void **s) {
  (void)s;
  with_db("delete", op_delete);
}
static void test_oom_get(void **s) {
  (void)s;
  with_db("get", op_get);
}
static void test_oom_batch(void **s) {
  (void)s;
  with_db("batch", op_batch);
}
static void test_oom_txn(void **s) {
  (void)s;
  with_db("txn", op_txn);
}
static void test_oom_iter(void **s) {
  (void)s;
  with_db("iterate", op_iter);
}
static void test_oom_checkpoint(void **s) {
  (void)s;
  with_db("checkpoint", op_checkpoint);
}
static void test_oom_check(void **s) {
  (void)s;
  with_db("check", op_check);
}
static void test_oom_backup(void **s) {
  (void)s;
  with_db("backup", op_backup);
}

/* ldb_open: on a new store, and on one that needs recovery (log replay). */
static void test_oom_open(void **s) {
  (void)s;
  for (int recovery = 0; recovery <= 1; recovery++) {
    env e_;
    env *e = &e_;
    memset(e, 0, sizeof *e);
    tu_alloc_init(&e->ta);
    e->op = recovery ? "open with recovery" : "open (create)";
    assert_int_equal(ldb_store_memory(&e->store), LDB_OK);
    e->m = tu_model_new();
    if (recovery) {
      env_open(e, 0);
      env_load(e, 200, 3);
      assert_int_equal(ldb_checkpoint(e->db), LDB_OK);
      env_load(e, 100, 4); /* stays in the log */
      env_close(e, 0);
    }
    uint64_t step = tu_quick() ? 3 : 1;
    for (e->n = 1; e->n < MAXN; e->n += (e->n < 50 ? 1 : step)) {
      ldb_options_default(&e->o);
      e->o.store = e->store;
      e->o.allocator = &e->ta.a;
      e->o.page_size = 1024;
      e->o.background_checkpoint = 0;
      e->o.memtable_size = 1u << 30;
      ldb_db *db = NULL;
      tu_alloc_fail_nth(&e->ta, e->n, 0);
      int rc = ldb_open("oom", &e->o, &db);
      int hit = e->ta.failed;
      tu_alloc_fail_nth(&e->ta, 0, 0);
      if (rc != LDB_OK) {
        if (rc != LDB_NOMEM) FAILF("open returned %s", ldb_code_name(rc));
        if (db) FAILF("failed open returned a handle");
        if (tu_alloc_live(&e->ta) != 0)
          FAILF("failed open leaked %lld allocations", tu_alloc_live(&e->ta));
        continue;
      }
      e->db = db;
      verify(e);
      env_close(e, 0);
      if (!hit) break;
    }
    ldb_store_destroy(e->store);
    tu_model_free(e->m);
  }
}

/* Sticky: every allocation from the nth on fails; the call fails cleanly
 * and the handle recovers once memory returns. */
static void test_oom_sticky(void **s) {
  (void)s;
  env e_;
  env *e = &e_;
  memset(e, 0, sizeof *e);
  tu_alloc_init(&e->ta);
  env_open(e, 1);
  env_load(e, 100, 0);
  e->op = "sticky put+commit";
  for (e->n = 1; e->n < 60; e->n++) {
    int applied;
    tu_alloc_fail_nth(&e->ta, e->n, 1);
    int rc1 = op_put(e, &applied);
    int rc2 = op_txn(e, &applied);
    int hit = e->ta.failed;
    tu_alloc_fail_nth(&e->ta, 0, 0);
    if ((rc1 != LDB_OK && rc1 != LDB_NOMEM) ||
        (rc2 != LDB_OK && rc2 != LDB_NOMEM))
      FAILF("returned %s / %s", ldb_code_name(rc1), ldb_code_name(rc2));
    verify(e);
    if (!hit) break;
  }
  env_close(e, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_oom_open),   cmocka_unit_test(test_oom_put),
      cmocka_unit_test(test_oom_delete), cmocka_unit_test(test_oom_get),
      cmocka_unit_test(test_oom_batch),  cmocka_unit_test(test_oom_txn),
      cmocka_unit_test(test_oom_iter),   cmocka_unit_test(test_oom_checkpoint),
      cmocka_unit_test(test_oom_check),  cmocka_unit_test(test_oom_backup),
      cmocka_unit_test(test_oom_sticky),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
