/*
 * test_backup.c — online backup: ldb_backup while another thread keeps
 * committing transfers between accounts. Every backup must open, pass
 * ldb_check and hold exactly one snapshot: the sum of the balances is
 * constant, and the transfer counter equals the number of transfer records.
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
#include <time.h>

#include "helpers/testutil.h"

#define ACCOUNTS 100
#define START 1000

typedef struct shared {
  ldb_db *db;
  uint64_t seed;
  int stop;
  uint64_t transfers;
  int error;
} shared;

static int get_int(ldb_txn *t, const char *k, long long *out) {
  char buf[32];
  size_t len = 0;
  int rc = ldb_txn_get_buf(t, k, strlen(k), buf, sizeof buf - 1, &len);
  if (rc == LDB_NOTFOUND) {
    *out = 0;
    return LDB_OK;
  }
  if (rc != LDB_OK) return rc;
  if (len >= sizeof buf) return LDB_CORRUPT;
  buf[len] = 0;
  *out = atoll(buf);
  return LDB_OK;
}

static int put_int(ldb_txn *t, const char *k, long long v) {
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%lld", v);
  return ldb_txn_put(t, k, strlen(k), buf, (size_t)n);
}

static void *writer(void *arg) {
  shared *s = arg;
  tu_rng r;
  tu_rng_init(&r, s->seed);
  uint8_t pad[700];
  memset(pad, 'p', sizeof pad);
  while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
    ldb_txn *t = NULL;
    char a[16], b[16], rec[24];
    long long va = 0, vb = 0, cnt = 0;
    int ia = (int)tu_below(&r, ACCOUNTS), ib = (int)tu_below(&r, ACCOUNTS);
    if (ia == ib) continue;
    snprintf(a, sizeof a, "acct%03d", ia);
    snprintf(b, sizeof b, "acct%03d", ib);
    int rc = ldb_txn_begin(s->db, 0, &t);
    if (rc == LDB_OK) rc = get_int(t, a, &va);
    if (rc == LDB_OK) rc = get_int(t, b, &vb);
    if (rc == LDB_OK) rc = get_int(t, "count", &cnt);
    long long x = (long long)tu_below(&r, 50);
    if (rc == LDB_OK) rc = put_int(t, a, va - x);
    if (rc == LDB_OK) rc = put_int(t, b, vb + x);
    if (rc == LDB_OK) rc = put_int(t, "count", cnt + 1);
    snprintf(rec, sizeof rec, "t%010lld", cnt + 1);
    if (rc == LDB_OK)
      rc = ldb_txn_put(t, rec, strlen(rec), pad, tu_below(&r, sizeof pad));
    if (rc == LDB_OK) {
      rc = ldb_txn_commit(t);
      if (rc == LDB_CONFLICT) continue;
    } else if (t) {
      ldb_txn_abort(t);
    }
    if (rc != LDB_OK) {
      fprintf(stderr, "backup writer: %s (%s)\n", ldb_code_name(rc),
              ldb_errmsg(NULL));
      __atomic_store_n(&s->error, rc, __ATOMIC_RELEASE);
      return NULL;
    }
    __atomic_add_fetch(&s->transfers, 1, __ATOMIC_RELEASE);
  }
  return NULL;
}

static void verify_backup(ldb_db *b, const char *what) {
  assert_int_equal(ldb_check(b), LDB_OK);
  ldb_iter *it = NULL;
  long long sum = 0, count = -1, records = 0, accounts = 0;
  assert_int_equal(ldb_iter_create(b, NULL, NULL, &it), LDB_OK);
  int rc;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
    const void *k, *v;
    size_t kl, vl;
    char buf[32];
    assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
    assert_int_equal(ldb_iter_value(it, &v, &vl), LDB_OK);
    if (kl > 4 && !memcmp(k, "acct", 4)) {
      assert_true(vl < sizeof buf);
      memcpy(buf, v, vl);
      buf[vl] = 0;
      sum += atoll(buf);
      accounts++;
    } else if (kl == 5 && !memcmp(k, "count", 5)) {
      memcpy(buf, v, vl);
      buf[vl] = 0;
      count = atoll(buf);
    } else if (kl == 11 && ((const char *)k)[0] == 't') {
      records++;
    }
  }
  assert_int_equal(rc, LDB_NOTFOUND);
  ldb_iter_destroy(it);
  printf("backup %s: %lld accounts, sum %lld, %lld transfers\n", what, accounts,
         sum, records);
  assert_int_equal(accounts, ACCOUNTS);
  assert_int_equal(sum, (long long)ACCOUNTS * START);
  assert_int_equal(count < 0 ? 0 : count, records);
}

static void test_backup_online(void **state) {
  (void)state;
  shared s;
  memset(&s, 0, sizeof s);
  s.seed = tu_seed("backup");
  ldb_store *store = NULL;
  assert_int_equal(ldb_store_memory(&store), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = store;
  o.sync_mode = LDB_SYNC_NORMAL;
  o.memtable_size = 256 * 1024; /* checkpoints run during the backups */
  assert_int_equal(ldb_open("src", &o, &s.db), LDB_OK);
  ldb_batch *b = NULL;
  assert_int_equal(ldb_batch_create(s.db, &b), LDB_OK);
  for (int i = 0; i < ACCOUNTS; i++) {
    char k[16], v[16];
    snprintf(k, sizeof k, "acct%03d", i);
    int n = snprintf(v, sizeof v, "%d", START);
    assert_int_equal(ldb_batch_put(b, k, strlen(k), v, (size_t)n), LDB_OK);
  }
  assert_int_equal(ldb_write(s.db, b), LDB_OK);
  ldb_batch_destroy(b);

  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, writer, &s), 0);
  int rounds = (int)tu_scale(6, 3, 2);
  char *dirs[8];
  for (int i = 0; i < rounds; i++) {
    /* Let the writer get ahead a little. */
    for (int ms = 0; ms < 30000 &&
                     __atomic_load_n(&s.transfers, __ATOMIC_ACQUIRE) <
                         (uint64_t)(i + 1) * 300 &&
                     !__atomic_load_n(&s.error, __ATOMIC_ACQUIRE);
         ms++) {
      tu_sleep_ms(1);
    }
    /* The writer makes progress (no deadlock against the backup). */
    assert_true(__atomic_load_n(&s.transfers, __ATOMIC_ACQUIRE) >=
                    (uint64_t)(i + 1) * 300 ||
                __atomic_load_n(&s.error, __ATOMIC_ACQUIRE));
    if (i % 2 == 0) {
      dirs[i] = tu_tmpdir("backup");
      char path[4200];
      snprintf(path, sizeof path, "%s/copy", dirs[i]);
      int rc = ldb_backup(s.db, path);
      if (rc)
        fprintf(stderr, "ldb_backup: %s (%s)\n", ldb_code_name(rc),
                ldb_errmsg(NULL));
      assert_int_equal(rc, LDB_OK);
      ldb_db *c = NULL;
      ldb_options co;
      ldb_options_default(&co);
      co.create_if_missing = 0;
      assert_int_equal(ldb_open(path, &co, &c), LDB_OK);
      verify_backup(c, "to directory");
      assert_int_equal(ldb_close(c), LDB_OK);
      /* A directory that already holds a database is refused. */
      assert_int_not_equal(ldb_backup(s.db, path), LDB_OK);
      tu_rmrf(dirs[i]);
      free(dirs[i]);
    } else {
      ldb_store *dst = NULL;
      assert_int_equal(ldb_store_memory(&dst), LDB_OK);
      int rc = ldb_backup_to_store(s.db, dst);
      if (rc)
        fprintf(stderr, "ldb_backup_to_store: %s (%s)\n", ldb_code_name(rc),
                ldb_errmsg(NULL));
      assert_int_equal(rc, LDB_OK);
      ldb_db *c = NULL;
      ldb_options co;
      ldb_options_default(&co);
      co.store = dst;
      co.create_if_missing = 0;
      assert_int_equal(ldb_open("copy", &co, &c), LDB_OK);
      verify_backup(c, "to store");
      assert_int_equal(ldb_close(c), LDB_OK);
      ldb_store_destroy(dst);
    }
  }
  __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
  pthread_join(th, NULL);
  assert_int_equal(s.error, LDB_OK);
  assert_int_equal(ldb_close(s.db), LDB_OK);
  ldb_store_destroy(store);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backup_online),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
