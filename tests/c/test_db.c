/*
 * test_db.c — the public API end to end on a memory store: single ops,
 * argument errors, batches, reopen and recovery, iterators against a model
 * with every bound/prefix/reverse combination, checkpoints with and without
 * the background thread, shared engines, backup, group commit from several
 * threads, statistics.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers/testutil.h"
#include "lightningdb.h"

static int quick(void) {
  const char *q = getenv("LDB_TEST_QUICK");
  return q && *q && *q != '0';
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static ldb_db *open_mem(ldb_store *s, int sync, int bg, uint64_t memtable) {
  ldb_options o;
  tu_mem_options(&o, s);
  o.sync_mode = sync;
  o.background_checkpoint = bg;
  if (memtable) o.memtable_size = memtable;
  return tu_open("mem", &o);
}

static void test_basic_ops(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, LDB_SYNC_NORMAL, 1, 0);
  tu_put_s(db, "alpha", "1");
  tu_put_s(db, "beta", "2");
  tu_expect_s(db, "alpha", "1");
  tu_expect_s(db, "gamma", NULL);
  tu_put_s(db, "alpha", "one");
  tu_expect_s(db, "alpha", "one");
  assert_int_equal(ldb_delete(db, "alpha", 5), LDB_OK);
  tu_expect_s(db, "alpha", NULL);
  assert_int_equal(ldb_delete(db, "nothing", 7), LDB_OK);
  /* empty value */
  assert_int_equal(ldb_put(db, "e", 1, "", 0), LDB_OK);
  void *v = NULL;
  size_t n = 99;
  assert_int_equal(ldb_get(db, "e", 1, &v, &n), LDB_OK);
  assert_non_null(v);
  assert_int_equal(n, 0);
  ldb_free(db, v);
  /* get_buf: short buffer gets the full length */
  char buf[4];
  assert_int_equal(ldb_get_buf(db, "beta", 4, buf, 0, &n), LDB_OK);
  assert_int_equal(n, 1);
  tu_put_s(db, "long", "0123456789");
  assert_int_equal(ldb_get_buf(db, "long", 4, buf, sizeof buf, &n), LDB_OK);
  assert_int_equal(n, 10);
  assert_memory_equal(buf, "0123", 4);
  /* large value */
  size_t big = 300000;
  char *bv = malloc(big);
  for (size_t i = 0; i < big; i++)
    bv[i] = (char)(i * 7);
  assert_int_equal(ldb_put(db, "big", 3, bv, big), LDB_OK);
  assert_int_equal(ldb_get(db, "big", 3, &v, &n), LDB_OK);
  assert_int_equal(n, big);
  assert_memory_equal(v, bv, big);
  ldb_free(db, v);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(ldb_get(db, "big", 3, &v, &n), LDB_OK);
  assert_int_equal(n, big);
  assert_memory_equal(v, bv, big);
  ldb_free(db, v);
  /* get_buf of a value on overflow pages into a short buffer: the length,
   * nothing copied and no page of the chain read; a buffer of that
   * length then gets the value */
  ldb_stats st0, st1;
  assert_int_equal(ldb_stats_get(db, &st0), LDB_OK);
  memset(buf, 0xee, sizeof buf);
  assert_int_equal(ldb_get_buf(db, "big", 3, buf, sizeof buf, &n), LDB_OK);
  assert_int_equal(n, big);
  assert_memory_equal(buf, "\xee\xee\xee\xee", 4);
  assert_int_equal(ldb_stats_get(db, &st1), LDB_OK);
  assert_int_equal(st1.bytes_read, st0.bytes_read);
  char *got = malloc(big);
  assert_int_equal(ldb_get_buf(db, "big", 3, got, big, &n), LDB_OK);
  assert_int_equal(n, big);
  assert_memory_equal(got, bv, big);
  assert_int_equal(ldb_stats_get(db, &st0), LDB_OK);
  assert_true(st0.bytes_read >= st1.bytes_read + big);
  free(got);
  tu_expect_s(db, "alpha", NULL);
  tu_expect_s(db, "beta", "2");
  free(bv);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

static void test_errors(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, LDB_SYNC_OFF, 0, 0);
  char key[2048];
  memset(key, 'k', sizeof key);
  void *v;
  size_t n;
  assert_int_equal(ldb_put(db, NULL, 1, "x", 1), LDB_INVALID);
  assert_int_equal(ldb_put(db, key, 2048, "x", 1), LDB_INVALID);
  assert_non_null(strstr(ldb_errmsg(db), "2048"));
  assert_int_equal(ldb_put(db, key, 1024, "x", 1), LDB_OK);
  assert_int_equal(ldb_get(db, key, 1025, &v, &n), LDB_INVALID);
  assert_int_equal(ldb_put(db, "k", 1, key, (size_t)LDB_MAX_VALUE_SIZE + 1),
                   LDB_INVALID);
  assert_non_null(strstr(ldb_errmsg(db), "value"));
  assert_int_equal(ldb_get(NULL, "k", 1, &v, &n), LDB_INVALID);
  assert_int_equal(ldb_put(NULL, "k", 1, "v", 1), LDB_INVALID);
  assert_int_equal(ldb_close(NULL), LDB_OK);

  ldb_options o;
  ldb_options_default(&o);
  o.store = s;
  o.page_size = 3000;
  ldb_db *bad = NULL;
  ldb_store *s2;
  assert_int_equal(ldb_store_memory(&s2), LDB_OK);
  o.store = s2;
  assert_int_equal(ldb_open("x", &o, &bad), LDB_INVALID);
  assert_non_null(strstr(ldb_errmsg(NULL), "page_size"));
  ldb_options_default(&o);
  o.store = s2;
  o.sync_mode = 7;
  assert_int_equal(ldb_open("x", &o, &bad), LDB_INVALID);
  ldb_options_default(&o);
  o.store = s2;
  o.create_if_missing = 0;
  assert_int_equal(ldb_open("x", &o, &bad), LDB_NOTFOUND);
  ldb_store_destroy(s2);

  /* a read-only handle refuses writes */
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_options_default(&o);
  o.store = s;
  o.read_only = 1;
  assert_int_equal(ldb_open("x", &o, &db), LDB_OK);
  assert_int_equal(ldb_put(db, "a", 1, "b", 1), LDB_READONLY);
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_READONLY);
  assert_int_equal(ldb_get(db, key, 1024, &v, &n), LDB_OK);
  ldb_free(db, v);
  assert_int_equal(ldb_close(db), LDB_OK);
  /* error_if_exists */
  ldb_options_default(&o);
  o.store = s;
  o.error_if_exists = 1;
  assert_int_equal(ldb_open("x", &o, &db), LDB_INVALID);
  ldb_store_destroy(s);
}

/* A second open of an engine already running in this process: engine
 * options that differ are refused, naming the option and both values;
 * per-open ones are free; after the last close the next open sets them. */
static void test_reopen_options(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = s;
  o.sync_mode = LDB_SYNC_OFF;
  o.cache_size = 1 << 20;
  ldb_db *a = tu_open("x", &o), *b = NULL;
  tu_put_s(a, "k", "v");
  o.sync_mode = LDB_SYNC_FULL;
  assert_int_equal(ldb_open("x", &o, &b), LDB_INVALID);
  assert_null(b);
  assert_non_null(strstr(ldb_errmsg(NULL), "already open in this process "
                                           "with option sync_mode (syncMode) "
                                           "'off', and this open asks for "
                                           "'full'"));
  o.sync_mode = LDB_SYNC_OFF;
  o.cache_size = 2 << 20;
  assert_int_equal(ldb_open("x", &o, &b), LDB_INVALID);
  assert_non_null(strstr(ldb_errmsg(NULL), "cache_size (cacheSize) 1048576"));
  o.cache_size = 1 << 20;
  ldb_options def;
  ldb_options_default(&def);
  if (def.background_checkpoint) { /* else (no threads) both are 0 */
    o.background_checkpoint = 0;
    assert_int_equal(ldb_open("x", &o, &b), LDB_INVALID);
    assert_non_null(strstr(ldb_errmsg(NULL), "(backgroundCheckpoint) true"));
    o.background_checkpoint = 1;
  }
  /* per-open options */
  o.page_size = 8192;
  o.read_only = 1;
  o.create_if_missing = 0;
  o.salvage = 1;
  b = tu_open("x", &o);
  assert_int_equal(ldb_close(b), LDB_OK);
  assert_int_equal(ldb_close(a), LDB_OK);
  ldb_options_default(&o);
  o.store = s;
  o.sync_mode = LDB_SYNC_FULL;
  a = tu_open("x", &o);
  ldb_stats before, after;
  assert_int_equal(ldb_stats_get(a, &before), LDB_OK);
  tu_put_s(a, "k", "w");
  assert_int_equal(ldb_stats_get(a, &after), LDB_OK);
  assert_true(after.syncs > before.syncs);
  assert_int_equal(ldb_close(a), LDB_OK);
  ldb_store_destroy(s);
}

static void test_batch(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, LDB_SYNC_NORMAL, 0, 0);
  ldb_batch *b;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  tu_put_s(db, "gone", "x");
  char k[16], v[16];
  for (int i = 0; i < 1000; i++) {
    snprintf(k, sizeof k, "key%05d", i);
    snprintf(v, sizeof v, "val%d", i);
    assert_int_equal(ldb_batch_put(b, k, strlen(k), v, strlen(v)), LDB_OK);
  }
  assert_int_equal(ldb_batch_put(b, "key00007", 8, "later", 5), LDB_OK);
  assert_int_equal(ldb_batch_delete(b, "gone", 4), LDB_OK);
  assert_int_equal(ldb_batch_put(b, NULL, 1, "x", 1), LDB_INVALID);
  assert_int_equal(ldb_batch_count(b), 1002);
  assert_int_equal(ldb_write(db, b), LDB_OK);
  tu_expect_s(db, "key00007", "later");
  tu_expect_s(db, "key00999", "val999");
  tu_expect_s(db, "gone", NULL);
  ldb_batch_clear(b);
  assert_int_equal(ldb_batch_count(b), 0);
  assert_int_equal(ldb_write(db, b), LDB_OK);
  ldb_stats stats;
  assert_int_equal(ldb_stats_get(db, &stats), LDB_OK);
  assert_int_equal(stats.batches, 1);
  ldb_batch_destroy(b);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

static void fill(ldb_db *db, int from, int to, const char *tag) {
  char k[32], v[64];
  for (int i = from; i < to; i++) {
    snprintf(k, sizeof k, "k%08d", i);
    snprintf(v, sizeof v, "%s-%d", tag, i);
    assert_int_equal(ldb_put(db, k, strlen(k), v, strlen(v)), LDB_OK);
  }
}

static void verify(ldb_db *db, int from, int to, const char *tag) {
  char k[32], v[64];
  for (int i = from; i < to; i++) {
    snprintf(k, sizeof k, "k%08d", i);
    snprintf(v, sizeof v, "%s-%d", tag, i);
    tu_expect_s(db, k, v);
  }
}

static void test_reopen_recovery(void **st) {
  (void)st;
  int n = quick() ? 2000 : 20000;
  for (int mode = 0; mode < 3; mode++) {
    ldb_store *s;
    assert_int_equal(ldb_store_memory(&s), LDB_OK);
    ldb_db *db = open_mem(s, mode, 1, 0);
    fill(db, 0, n, "a");
    assert_int_equal(ldb_checkpoint(db), LDB_OK);
    fill(db, n / 2, n, "b"); /* only in the log */
    for (int i = 0; i < 100; i++) {
      char k[32];
      snprintf(k, sizeof k, "k%08d", i);
      assert_int_equal(ldb_delete(db, k, strlen(k)), LDB_OK);
    }
    ldb_stats s1;
    assert_int_equal(ldb_stats_get(db, &s1), LDB_OK);
    assert_int_equal(ldb_close(db), LDB_OK);
    db = open_mem(s, mode, 1, 0);
    ldb_stats s2;
    assert_int_equal(ldb_stats_get(db, &s2), LDB_OK);
    assert_int_equal(s2.last_seq, s1.last_seq);
    /* the replayed log was merged at open */
    assert_int_equal(s2.checkpoint_seq, s1.last_seq);
    verify(db, 100, n / 2, "a");
    verify(db, n / 2, n, "b");
    tu_expect_s(db, "k00000050", NULL);
    assert_int_equal(ldb_check(db), LDB_OK);
    fill(db, n, n + 10, "c");
    assert_int_equal(ldb_close(db), LDB_OK);
    db = open_mem(s, mode, 0, 0);
    verify(db, n, n + 10, "c");
    assert_int_equal(ldb_close(db), LDB_OK);
    ldb_store_destroy(s);
  }
}

/* ---- iterators against a model ----------------------------------------- */

#define MAXK 400
typedef struct model {
  int present[MAXK];
  int val[MAXK];
} model;

static void mkey(int i, char *k, size_t *kl) {
  /* keys of varying length sharing prefixes: "p<i/100>:<i>" */
  *kl = (size_t)snprintf(k, 32, "p%d:%03d", i / 100, i);
}

static int key_index(const void *k, size_t kl) {
  /* keys are "p<d>:<ddd>": the index is the part after the colon */
  const char *p = memchr(k, ':', kl);
  if (!p) return -1;
  int i = 0;
  for (const char *q = p + 1; q < (const char *)k + kl; q++) {
    if (*q < '0' || *q > '9') return -1;
    i = i * 10 + (*q - '0');
  }
  if (i >= MAXK) return -1;
  char buf[32];
  size_t l;
  mkey(i, buf, &l);
  return l == kl && !memcmp(buf, k, kl) ? i : -1;
}

static int in_opts(int i, const ldb_iter_options *o) {
  char k[32];
  size_t kl;
  mkey(i, k, &kl);
  if (o->lower) {
    size_t n = kl < o->lower_len ? kl : o->lower_len;
    int c = memcmp(k, o->lower, n);
    if (!c) c = kl < o->lower_len ? -1 : kl > o->lower_len;
    if (c < 0 || (c == 0 && o->lower_exclusive)) return 0;
  }
  if (o->upper) {
    size_t n = kl < o->upper_len ? kl : o->upper_len;
    int c = memcmp(k, o->upper, n);
    if (!c) c = kl < o->upper_len ? -1 : kl > o->upper_len;
    if (c > 0 || (c == 0 && o->upper_exclusive)) return 0;
  }
  if (o->prefix && (kl < o->prefix_len || memcmp(k, o->prefix, o->prefix_len)))
    return 0;
  return 1;
}

/* keys sorted: since all keys have the form p<d>:<ddd>, string order is
 * index order. */
static void check_iter(ldb_db *db, ldb_txn *txn, const model *m,
                       const ldb_iter_options *o) {
  int exp[MAXK], ne = 0;
  for (int i = 0; i < MAXK; i++)
    if (m->present[i] && in_opts(i, o)) exp[ne++] = i;
  if (o->reverse)
    for (int i = 0; i < ne / 2; i++) {
      int t = exp[i];
      exp[i] = exp[ne - 1 - i];
      exp[ne - 1 - i] = t;
    }
  ldb_iter *it;
  assert_int_equal(ldb_iter_create(db, txn, o, &it), LDB_OK);
  /* forward */
  int n = 0, rc;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
    const void *k, *v;
    size_t kl, vl;
    assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
    assert_int_equal(ldb_iter_value(it, &v, &vl), LDB_OK);
    assert_true(n < ne);
    assert_int_equal(key_index(k, kl), exp[n]);
    char vb[32];
    snprintf(vb, sizeof vb, "v%d", m->val[exp[n]]);
    assert_int_equal(vl, strlen(vb));
    assert_memory_equal(v, vb, vl);
    n++;
  }
  assert_int_equal(rc, LDB_NOTFOUND);
  assert_int_equal(n, ne);
  assert_false(ldb_iter_valid(it));
  /* backward */
  n = ne - 1;
  for (rc = ldb_iter_last(it); rc == LDB_OK; rc = ldb_iter_prev(it)) {
    const void *k;
    size_t kl;
    assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
    assert_true(n >= 0);
    assert_int_equal(key_index(k, kl), exp[n]);
    n--;
  }
  assert_int_equal(rc, LDB_NOTFOUND);
  assert_int_equal(n, -1);
  /* direction switches: first, next, prev returns to first */
  if (ne >= 2) {
    const void *k;
    size_t kl;
    assert_int_equal(ldb_iter_first(it), LDB_OK);
    assert_int_equal(ldb_iter_next(it), LDB_OK);
    assert_int_equal(ldb_iter_prev(it), LDB_OK);
    assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
    assert_int_equal(key_index(k, kl), exp[0]);
    assert_int_equal(ldb_iter_next(it), LDB_OK);
    assert_int_equal(ldb_iter_next(it), ne >= 3 ? LDB_OK : LDB_NOTFOUND);
    if (ne >= 3) {
      assert_int_equal(ldb_iter_prev(it), LDB_OK);
      assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
      assert_int_equal(key_index(k, kl), exp[1]);
    }
  }
  /* seeks: to every key index, compare with the model */
  for (int t = 0; t < MAXK; t += 7) {
    char sk[32];
    size_t skl;
    mkey(t, sk, &skl);
    rc = ldb_iter_seek(it, sk, skl);
    int want = -1;
    for (int j = 0; j < ne; j++) {
      if (!o->reverse && exp[j] >= t) {
        want = exp[j];
        break;
      }
      if (o->reverse && exp[j] <= t) {
        want = exp[j];
        break;
      }
    }
    if (want < 0) {
      assert_int_equal(rc, LDB_NOTFOUND);
    } else {
      assert_int_equal(rc, LDB_OK);
      const void *k;
      size_t kl;
      assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
      assert_int_equal(key_index(k, kl), want);
    }
  }
  /* bulk read */
  uint8_t buf[4096];
  size_t cnt, used, total = 0;
  rc = ldb_iter_first(it);
  while (rc == LDB_OK) {
    rc = ldb_iter_read(it, buf, 100, 1000, &cnt, &used);
    assert_int_equal(rc, LDB_OK);
    if (cnt == 0) break;
    size_t off = 0;
    for (size_t j = 0; j < cnt; j++) {
      uint32_t kl, vl;
      memcpy(&kl, buf + off, 4);
      memcpy(&vl, buf + off + 4, 4);
      assert_int_equal(key_index(buf + off + 8, kl), exp[total]);
      off += 8 + kl + vl;
      total++;
    }
    assert_int_equal(off, used);
    if (!ldb_iter_valid(it)) break;
  }
  assert_int_equal(total, ne);
  ldb_iter_destroy(it);
}

static void apply_random(ldb_db *db, model *m, int ops, int *counter) {
  for (int j = 0; j < ops; j++) {
    int i = (int)(rnd() % MAXK);
    char k[32], v[32];
    size_t kl;
    mkey(i, k, &kl);
    if (rnd() % 4 == 0) {
      assert_int_equal(ldb_delete(db, k, kl), LDB_OK);
      m->present[i] = 0;
    } else {
      int val = (*counter)++;
      snprintf(v, sizeof v, "v%d", val);
      assert_int_equal(ldb_put(db, k, kl, v, strlen(v)), LDB_OK);
      m->present[i] = 1;
      m->val[i] = val;
    }
  }
}

static void check_all_options(ldb_db *db, ldb_txn *txn, const model *m) {
  const char *bounds[] = {NULL, "p0:050", "p1:", "p1:150", "p2", "p3:399", "q"};
  const char *prefixes[] = {NULL, "p1", "p2:2", "p9", "p"};
  int nb = sizeof bounds / sizeof *bounds,
      np = sizeof prefixes / sizeof *prefixes;
  for (int lo = 0; lo < nb; lo++)
    for (int hi = 0; hi < nb; hi++)
      for (int p = 0; p < np; p++)
        for (int fl = 0; fl < 8; fl++) {
          if (quick() && (lo + hi + p + fl) % 3) continue;
          ldb_iter_options o;
          memset(&o, 0, sizeof o);
          if (bounds[lo]) {
            o.lower = bounds[lo];
            o.lower_len = strlen(bounds[lo]);
          }
          if (bounds[hi]) {
            o.upper = bounds[hi];
            o.upper_len = strlen(bounds[hi]);
          }
          if (prefixes[p]) {
            o.prefix = prefixes[p];
            o.prefix_len = strlen(prefixes[p]);
          }
          o.lower_exclusive = fl & 1;
          o.upper_exclusive = (fl >> 1) & 1;
          o.reverse = (fl >> 2) & 1;
          check_iter(db, txn, m, &o);
        }
}

static void test_iterators(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, LDB_SYNC_OFF, 0, 0);
  model m;
  memset(&m, 0, sizeof m);
  int counter = 0;
  check_all_options(db, NULL, &m); /* empty database */
  /* data in the tree, then in a frozen-and-merged memtable, then active,
   * with tombstones shadowing tree entries */
  apply_random(db, &m, 600, &counter);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  apply_random(db, &m, 300, &counter);
  check_all_options(db, NULL, &m);
  /* a snapshot iterator does not see later writes */
  ldb_iter *it;
  assert_int_equal(ldb_iter_create(db, NULL, NULL, &it), LDB_OK);
  model before = m;
  apply_random(db, &m, 200, &counter);
  int n = 0, rc;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it))
    n++;
  int want = 0;
  for (int i = 0; i < MAXK; i++)
    want += before.present[i];
  assert_int_equal(n, want);
  ldb_iter_destroy(it);
  check_all_options(db, NULL, &m);
  /* a snapshot iterator survives checkpoints that move its memtables into
   * the tree and later writes that shadow them */
  assert_int_equal(ldb_iter_create(db, NULL, NULL, &it), LDB_OK);
  assert_int_equal(ldb_iter_first(it), LDB_OK);
  before = m;
  apply_random(db, &m, 300, &counter);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  apply_random(db, &m, 100, &counter);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  n = 0;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
    const void *k, *v;
    size_t kl, vl;
    assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
    assert_int_equal(ldb_iter_value(it, &v, &vl), LDB_OK);
    int i = key_index(k, kl);
    assert_true(i >= 0 && before.present[i]);
    char vb[32];
    snprintf(vb, sizeof vb, "v%d", before.val[i]);
    assert_int_equal(vl, strlen(vb));
    assert_memory_equal(v, vb, vl);
    n++;
  }
  want = 0;
  for (int i = 0; i < MAXK; i++)
    want += before.present[i];
  assert_int_equal(n, want);
  ldb_iter_destroy(it);
  check_all_options(db, NULL, &m);
  /* inside a transaction: buffered writes are merged in */
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  for (int j = 0; j < 50; j++) {
    int i = (int)(rnd() % MAXK);
    char k[32], v[32];
    size_t kl;
    mkey(i, k, &kl);
    if (j % 3 == 0) {
      assert_int_equal(ldb_txn_delete(t, k, kl), LDB_OK);
      m.present[i] = 0;
    } else {
      snprintf(v, sizeof v, "v%d", counter);
      m.val[i] = counter++;
      m.present[i] = 1;
      assert_int_equal(ldb_txn_put(t, k, kl, v, strlen(v)), LDB_OK);
    }
  }
  check_all_options(db, t, &m);
  assert_int_equal(ldb_iter_create(db, t, NULL, &it), LDB_OK);
  /* Ending the transaction invalidates its iterator (LDB_CLOSED), which
   * the caller still frees. */
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  assert_int_equal(ldb_iter_first(it), LDB_CLOSED);
  ldb_iter_destroy(it);
  check_all_options(db, NULL, &m);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

/* ---- checkpoints --------------------------------------------------------- */

static void run_checkpoints(int bg) {
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, LDB_SYNC_NORMAL, bg, 64 << 10);
  int n = quick() ? 5000 : 30000;
  fill(db, 0, n, "x");
  ldb_stats st;
  if (!bg) {
    int more = 1, guard = 0;
    while (more && guard++ < 100000)
      assert_int_equal(ldb_checkpoint_step(db, 100, &more), LDB_OK);
    assert_int_equal(more, 0);
  }
  verify(db, 0, n, "x");
  fill(db, 0, n / 3, "y");
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_true(st.checkpoints > 2);
  assert_int_equal(st.checkpoint_seq, st.last_seq);
  assert_int_equal(st.background_error, LDB_OK);
  verify(db, 0, n / 3, "y");
  verify(db, n / 3, n, "x");
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  db = open_mem(s, LDB_SYNC_NORMAL, bg, 64 << 10);
  verify(db, 0, n / 3, "y");
  verify(db, n / 3, n, "x");
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

static void test_checkpoints_thread(void **st) {
  (void)st;
  run_checkpoints(1);
}
static void test_checkpoints_steps(void **st) {
  (void)st;
  run_checkpoints(0);
}

static void test_shared_engine(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *a = open_mem(s, LDB_SYNC_NORMAL, 1, 0);
  ldb_db *b = open_mem(s, LDB_SYNC_NORMAL, 1, 0);
  tu_put_s(a, "from-a", "1");
  tu_expect_s(b, "from-a", "1");
  tu_put_s(b, "from-b", "2");
  tu_expect_s(a, "from-b", "2");
  ldb_iter *it;
  assert_int_equal(ldb_iter_create(a, NULL, NULL, &it), LDB_OK);
  /* Closing a never refuses; its iterator answers LDB_CLOSED and is still
   * freed by ldb_iter_destroy; the engine stays open for b. */
  assert_int_equal(ldb_close(a), LDB_OK);
  assert_int_equal(ldb_iter_first(it), LDB_CLOSED);
  ldb_iter_destroy(it);
  tu_expect_s(b, "from-a", "1");
  assert_int_equal(ldb_close(b), LDB_OK);
  ldb_store_destroy(s);
}

static void test_backup(void **st) {
  (void)st;
  ldb_store *s, *d;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  assert_int_equal(ldb_store_memory(&d), LDB_OK);
  ldb_db *db = open_mem(s, LDB_SYNC_NORMAL, 1, 0);
  fill(db, 0, 3000, "a");
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  fill(db, 1000, 2000, "b");
  assert_int_equal(ldb_delete(db, "k00000005", 9), LDB_OK);
  assert_int_equal(ldb_backup_to_store(db, d), LDB_OK);
  fill(db, 0, 10, "after");
  /* a second backup into a store with a database is refused */
  assert_int_equal(ldb_backup_to_store(db, d), LDB_INVALID);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_db *c = open_mem(d, LDB_SYNC_NORMAL, 1, 0);
  verify(c, 10, 1000, "a");
  verify(c, 1000, 2000, "b");
  verify(c, 2000, 3000, "a");
  tu_expect_s(c, "k00000005", NULL);
  tu_expect_s(c, "k00000006", "a-6");
  assert_int_equal(ldb_check(c), LDB_OK);
  assert_int_equal(ldb_close(c), LDB_OK);
  ldb_store_destroy(s);
  ldb_store_destroy(d);
}

typedef struct wargs {
  ldb_db *db;
  int id, n;
} wargs;

static void *writer(void *p) {
  wargs *w = p;
  char k[32], v[32];
  for (int i = 0; i < w->n; i++) {
    snprintf(k, sizeof k, "t%d-%06d", w->id, i);
    snprintf(v, sizeof v, "%d", i);
    if (ldb_put(w->db, k, strlen(k), v, strlen(v)) != LDB_OK) return (void *)1;
    void *got;
    size_t gl;
    /* read-your-writes right after the commit returned */
    if (ldb_get(w->db, k, strlen(k), &got, &gl) != LDB_OK) return (void *)2;
    ldb_free(w->db, got);
  }
  return NULL;
}

static void test_group_commit_threads(void **st) {
  (void)st;
  for (int mode = 0; mode < 2; mode++) {
    ldb_store *s;
    assert_int_equal(ldb_store_memory(&s), LDB_OK);
    ldb_db *db = open_mem(s, mode, 1, 128 << 10);
    pthread_t th[4];
    wargs wa[4];
    int n = quick() ? 500 : 3000;
    for (int i = 0; i < 4; i++) {
      wa[i] = (wargs){db, i, n};
      pthread_create(&th[i], NULL, writer, &wa[i]);
    }
    for (int i = 0; i < 4; i++) {
      void *r;
      pthread_join(th[i], &r);
      assert_null(r);
    }
    ldb_stats stt;
    assert_int_equal(ldb_stats_get(db, &stt), LDB_OK);
    assert_int_equal(stt.commits, 4u * n);
    assert_int_equal(stt.last_seq, 4u * n);
    if (mode == LDB_SYNC_FULL) assert_true(stt.syncs > 0);
    assert_int_equal(ldb_close(db), LDB_OK);
    db = open_mem(s, mode, 0, 0);
    char k[32];
    for (int t = 0; t < 4; t++)
      for (int i = 0; i < n; i += 97) {
        char v[32];
        snprintf(k, sizeof k, "t%d-%06d", t, i);
        snprintf(v, sizeof v, "%d", i);
        tu_expect_s(db, k, v);
      }
    assert_int_equal(ldb_close(db), LDB_OK);
    ldb_store_destroy(s);
  }
}

static void test_stats(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, LDB_SYNC_NORMAL, 1, 0);
  fill(db, 0, 100, "s");
  verify(db, 0, 100, "s");
  assert_int_equal(ldb_delete(db, "k00000001", 9), LDB_OK);
  ldb_stats x;
  assert_int_equal(ldb_stats_get(db, &x), LDB_OK);
  assert_int_equal(x.puts, 100);
  assert_int_equal(x.deletes, 1);
  assert_int_equal(x.gets, 100);
  assert_int_equal(x.commits, 101);
  assert_int_equal(x.last_seq, 101);
  assert_true(x.memtable_bytes > 100 * 10);
  assert_true(x.log_file_size > 100 * 10);
  assert_int_equal(x.page_size, 4096);
  uint64_t ns = 0;
  for (int i = 0; i < LDB_HIST_BUCKETS; i++)
    ns += x.commit_latency[i];
  assert_int_equal(ns, 101);
  ns = 0;
  for (int i = 0; i < LDB_HIST_BUCKETS; i++)
    ns += x.get_latency[i];
  assert_true(ns >= 100 / 8 && ns <= 100);
  double p50 = ldb_hist_percentile(x.commit_latency, 50);
  double p99 = ldb_hist_percentile(x.commit_latency, 99);
  assert_true(p50 > 0 && p50 <= p99);
  uint64_t h[LDB_HIST_BUCKETS] = {0};
  assert_true(ldb_hist_percentile(h, 50) == 0);
  h[10] = 10; /* [1024, 2048) */
  double p = ldb_hist_percentile(h, 50);
  assert_true(p >= 1024 && p <= 2048);
  assert_true(ldb_hist_percentile(h, 100) == 2048);
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  assert_int_equal(ldb_stats_get(db, &x), LDB_OK);
  assert_int_equal(x.active_txns, 1);
  assert_int_equal(x.active_snapshots, 1);
  ldb_txn_abort(t);
  assert_int_equal(ldb_stats_get(db, &x), LDB_OK);
  assert_int_equal(x.active_txns, 0);
  assert_int_equal(x.aborts, 1);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(ldb_stats_get(db, &x), LDB_OK);
  assert_int_equal(x.memtable_bytes, 0);
  assert_int_equal(x.checkpoint_seq, 101);
  assert_true(x.page_count > 0);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

/* Reverse scans over a memtable without duplicate keys take a shortcut;
 * a snapshot taken before duplicates appear must still read its versions. */
static void test_reverse_versions(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, LDB_SYNC_OFF, 0, 0);
  fill(db, 0, 100, "a");
  ldb_iter *old;
  assert_int_equal(ldb_iter_create(db, NULL, NULL, &old), LDB_OK);
  {
    /* no duplicates yet: the shortcut path */
    int i = 99, rc;
    for (rc = ldb_iter_last(old); rc == LDB_OK; rc = ldb_iter_prev(old), i--) {
      const void *k;
      size_t kl;
      char ek[32];
      snprintf(ek, sizeof ek, "k%08d", i);
      assert_int_equal(ldb_iter_key(old, &k, &kl), LDB_OK);
      assert_int_equal(kl, strlen(ek));
      assert_memory_equal(k, ek, kl);
    }
    assert_int_equal(i, -1);
  }
  tu_put_s(db, "k00000050", "new");
  assert_int_equal(ldb_delete(db, "k00000060", 9), LDB_OK);
  tu_put_s(db, "k00000200", "extra");
  for (int pass = 0; pass < 2; pass++) {
    ldb_iter *it = old;
    if (pass == 1)
      assert_int_equal(ldb_iter_create(db, NULL, NULL, &it), LDB_OK);
    int i = pass ? 100 : 99, rc, n = 0;
    for (rc = ldb_iter_last(it); rc == LDB_OK; rc = ldb_iter_prev(it)) {
      const void *k, *v;
      size_t kl, vl;
      char ek[32], ev[32];
      assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
      assert_int_equal(ldb_iter_value(it, &v, &vl), LDB_OK);
      if (pass == 1 && i == 100) {
        snprintf(ek, sizeof ek, "k00000200");
        snprintf(ev, sizeof ev, "extra");
      } else {
        if (pass == 1 && i == 60) i--;
        snprintf(ek, sizeof ek, "k%08d", i);
        snprintf(ev, sizeof ev, pass == 1 && i == 50 ? "new" : "a-%d", i);
      }
      assert_int_equal(kl, strlen(ek));
      assert_memory_equal(k, ek, kl);
      assert_int_equal(vl, strlen(ev));
      assert_memory_equal(v, ev, vl);
      i--;
      n++;
    }
    assert_int_equal(rc, LDB_NOTFOUND);
    assert_int_equal(n, pass ? 100 : 100);
    ldb_iter_destroy(it);
  }
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

static void test_posix_backup(void **st) {
  (void)st;
  char *tmpl = tu_tmpdir("ldb-db"), src[600], dst[600];
  snprintf(src, sizeof src, "%s/src", tmpl);
  snprintf(dst, sizeof dst, "%s/dst", tmpl);
  ldb_options o;
  ldb_options_default(&o);
  ldb_db *db, *db2;
  assert_int_equal(ldb_open(src, &o, &db), LDB_OK);
  /* a second open of the same directory shares the engine */
  assert_int_equal(ldb_open(src, &o, &db2), LDB_OK);
  fill(db, 0, 500, "p");
  verify(db2, 0, 500, "p");
  assert_int_equal(ldb_close(db2), LDB_OK);
  assert_int_equal(ldb_backup(db, dst), LDB_OK);
  assert_int_equal(ldb_backup(db, dst), LDB_INVALID);
  assert_int_equal(ldb_backup(db, src), LDB_INVALID);
  assert_int_equal(ldb_close(db), LDB_OK);
  o.create_if_missing = 0;
  assert_int_equal(ldb_open(dst, &o, &db), LDB_OK);
  verify(db, 0, 500, "p");
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  tu_rmrf(tmpl);
  free(tmpl);
}

/* Writes n bytes into file `name` of store s (creating it). */
static void store_file(ldb_store *s, const char *name, size_t n) {
  ldb_file *f = NULL;
  assert_int_equal(s->methods->open(s, name, LDB_STORE_CREATE, &f), LDB_OK);
  char buf[64] = {1};
  if (n) assert_int_equal(f->store->methods->write(f, 0, buf, n), LDB_OK);
  assert_int_equal(f->store->methods->close(f), LDB_OK);
}

/* The core alone decides whether a backup target already holds a
 * database: any engine file with bytes in it. */
static void test_backup_target(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, LDB_SYNC_NORMAL, 0, 0);
  fill(db, 0, 100, "t");
  const char *names[] = {"data.ldb", "wal-0.log", "wal-1.log"};
  for (int i = 0; i < 3; i++) {
    ldb_store *d;
    assert_int_equal(ldb_store_memory(&d), LDB_OK);
    store_file(d, names[i], 10);
    assert_int_equal(ldb_backup_to_store(db, d), LDB_INVALID);
    if (!strstr(ldb_errmsg(NULL), names[i]))
      fail_msg("message \"%s\" does not name %s", ldb_errmsg(NULL), names[i]);
    /* Nothing was written: the other files are still absent. */
    for (int j = 0; j < 3; j++) {
      ldb_file *f = NULL;
      int rc = d->methods->open(d, names[j], 0, &f);
      if (j == i) {
        assert_int_equal(rc, LDB_OK);
        uint64_t sz = 0;
        assert_int_equal(f->store->methods->size(f, &sz), LDB_OK);
        assert_int_equal(sz, 10);
        f->store->methods->close(f);
      } else {
        assert_int_equal(rc, LDB_NOTFOUND);
      }
    }
    ldb_store_destroy(d);
  }
  /* Empty files (an interrupted create) do not hold a database. */
  ldb_store *d;
  assert_int_equal(ldb_store_memory(&d), LDB_OK);
  store_file(d, "data.ldb", 0);
  store_file(d, "wal-1.log", 0);
  store_file(d, "unrelated.txt", 10);
  assert_int_equal(ldb_backup_to_store(db, d), LDB_OK);
  /* A finished backup is a database: a second one is refused. */
  assert_int_equal(ldb_backup_to_store(db, d), LDB_INVALID);
  assert_int_equal(ldb_backup_to_store(db, s), LDB_INVALID); /* itself */
  assert_int_equal(ldb_backup_to_store(db, NULL), LDB_INVALID);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_db *copy = open_mem(d, LDB_SYNC_NORMAL, 0, 0);
  verify(copy, 0, 100, "t");
  assert_int_equal(ldb_close(copy), LDB_OK);
  ldb_store_destroy(d);
  ldb_store_destroy(s);
}

/* ldb_maintain: the one idle call of hosts without threads. */
static void test_maintain(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = s;
  o.background_checkpoint = 0;
  o.sync_mode = LDB_SYNC_NORMAL;
  o.sync_interval_ms = 40;
  o.memtable_size = 256u << 10;
  ldb_db *db = NULL;
  assert_int_equal(ldb_open("mem", &o, &db), LDB_OK);
  uint32_t next = 0;
  assert_int_equal(ldb_maintain(db, 0, &next), LDB_OK);
  assert_int_equal(next, UINT32_MAX); /* nothing pending */
  assert_int_equal(ldb_maintain(db, 0, NULL), LDB_OK);

  /* A NORMAL-mode sync becomes due within the interval. */
  ldb_stats s0, s1;
  for (int attempt = 0;; attempt++) {
    tu_put_s(db, "a", "1");
    assert_int_equal(ldb_stats_get(db, &s0), LDB_OK);
    assert_int_equal(ldb_maintain(db, 0, &next), LDB_OK);
    assert_int_equal(ldb_stats_get(db, &s1), LDB_OK);
    if (s1.syncs == s0.syncs && next == UINT32_MAX) {
      /* The commit itself found a sync due (a slow machine): again. */
      assert_true(attempt < 20);
      continue;
    }
    if (s1.syncs == s0.syncs) {
      assert_true(next >= 1 && next <= 40);
      tu_sleep_ms((unsigned)next + 5);
      assert_int_equal(ldb_maintain(db, 0, &next), LDB_OK);
      assert_int_equal(ldb_stats_get(db, &s1), LDB_OK);
    }
    assert_int_equal(s1.syncs, s0.syncs + 1); /* the due sync, once */
    assert_int_equal(next, UINT32_MAX);
    break;
  }

  /* Checkpoint work in bounded steps: 0 while work remains. */
  o.sync_mode = LDB_SYNC_OFF;
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_int_equal(ldb_open("mem", &o, &db), LDB_OK);
  assert_int_equal(ldb_stats_get(db, &s0), LDB_OK);
  char k[32], v[32];
  int found = 0;
  for (int i = 0; i < 100000 && !found; i++) {
    snprintf(k, sizeof k, "key%08d", i);
    snprintf(v, sizeof v, "value%08d", i);
    tu_put_s(db, k, v);
    assert_int_equal(ldb_maintain(db, 1, &next), LDB_OK);
    found = next == 0;
  }
  assert_true(found);
  int steps = 1;
  while (next == 0) {
    assert_int_equal(ldb_maintain(db, 1, &next), LDB_OK);
    steps++;
    assert_true(steps < 1000000);
  }
  assert_true(steps >= 2);
  assert_int_equal(next, UINT32_MAX);
  assert_int_equal(ldb_stats_get(db, &s1), LDB_OK);
  assert_int_equal(s1.checkpoints, s0.checkpoints + 1);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);

  /* With a background thread, or read-only: nothing to do. */
  o.background_checkpoint = 1;
  assert_int_equal(ldb_open("mem", &o, &db), LDB_OK);
  tu_put_s(db, "b", "2");
  assert_int_equal(ldb_maintain(db, 0, &next), LDB_OK);
  assert_int_equal(next, UINT32_MAX);
  assert_int_equal(ldb_close(db), LDB_OK);
  o.read_only = 1;
  assert_int_equal(ldb_open("mem", &o, &db), LDB_OK);
  assert_int_equal(ldb_maintain(db, 0, &next), LDB_OK);
  assert_int_equal(next, UINT32_MAX);
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_int_equal(ldb_maintain(NULL, 0, &next), LDB_INVALID);
  assert_int_equal(next, UINT32_MAX);
  ldb_store_destroy(s);
}

/* What lightningdb.h says about ldb_open, checked on the posix store:
 * missing parents are created, error_if_exists refuses only an existing
 * database, and a clean close leaves log records that the next open
 * replays (recovery runs after every close) and then empties the log. */
static void test_open_contract(void **st) {
  (void)st;
  char *tmpl = tu_tmpdir("ldb-open"), deep[700];
  snprintf(deep, sizeof deep, "%s/a/b/c", tmpl);
  ldb_options o;
  ldb_options_default(&o);
  o.background_checkpoint = 0;
  ldb_db *db = NULL;
  /* Missing (with missing parents) and create_if_missing 0: NOTFOUND. */
  o.create_if_missing = 0;
  assert_int_equal(ldb_open(deep, &o, &db), LDB_NOTFOUND);
  o.create_if_missing = 1;
  /* error_if_exists on a missing database: created. */
  o.error_if_exists = 1;
  assert_int_equal(ldb_open(deep, &o, &db), LDB_OK);
  /* ... and refused while it is open, and once it exists. */
  ldb_db *db2 = NULL;
  assert_int_equal(ldb_open(deep, &o, &db2), LDB_INVALID);
  o.error_if_exists = 0;
  fill(db, 0, 300, "r");
  ldb_stats s;
  assert_int_equal(ldb_stats_get(db, &s), LDB_OK);
  assert_true(s.last_seq > s.checkpoint_seq);
  assert_int_equal(ldb_close(db), LDB_OK);
  o.error_if_exists = 1;
  assert_int_equal(ldb_open(deep, &o, &db), LDB_INVALID);
  o.error_if_exists = 0;
  /* The clean close checkpointed: the log keeps its records (the change
   * feed's), and the open has nothing to replay or merge. */
  char logf[800];
  snprintf(logf, sizeof logf, "%s/feed-00.log", deep);
  FILE *f = fopen(logf, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  assert_true(ftell(f) > 0);
  fclose(f);
  assert_int_equal(ldb_open(deep, &o, &db), LDB_OK);
  assert_int_equal(ldb_stats_get(db, &s), LDB_OK);
  assert_int_equal(s.checkpoint_seq, s.last_seq);
  assert_int_equal(s.checkpoints, 0);
  assert_true(s.last_seq >= 300);
  verify(db, 0, 300, "r");
  /* A checkpoint before close leaves nothing to replay. */
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_int_equal(ldb_open(deep, &o, &db), LDB_OK);
  assert_int_equal(ldb_stats_get(db, &s), LDB_OK);
  assert_int_equal(s.checkpoint_seq, s.last_seq);
  assert_int_equal(ldb_close(db), LDB_OK);
  tu_rmrf(tmpl);
  free(tmpl);
}

static void write_text(const char *dir, const char *name, const char *text) {
  char p[2048];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "wb");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* The file's text ("<missing>" when absent), in buf. */
static const char *read_text(const char *dir, const char *name, char *buf,
                             size_t cap) {
  char p[2048];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "rb");
  if (!f) return strcpy(buf, "<missing>");
  size_t n = fread(buf, 1, cap - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

/* The names in dir, sorted, joined with spaces. */
static void listing(const char *dir, char *out, size_t cap) {
  struct dirent **ents;
  int n = scandir(dir, &ents, NULL, alphasort);
  assert_true(n >= 0);
  out[0] = 0;
  for (int i = 0; i < n; i++) {
    if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
      strncat(out, ents[i]->d_name, cap - strlen(out) - 2);
      strcat(out, " ");
    }
    free(ents[i]);
  }
  free(ents);
}

/* ldb_open(dir) creates a database there that takes a write. */
static void opens_and_writes(const char *dir, const ldb_options *o) {
  ldb_db *db = NULL;
  assert_int_equal(ldb_open(dir, o, &db), LDB_OK);
  assert_int_equal(ldb_put(db, "k", 1, "v", 1), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
}

/* A directory holding files that are not ours (a user's home, a LevelDB
 * database) was adopted: open created data.ldb, the log and LOCK in it,
 * and truncated a LevelDB LOCK to write its pid there (reproduced with
 * ldb_open on a directory of notes.txt, .bashrc and Documents/: LDB_OK,
 * and data.ldb, feed.head, feed-00.log and LOCK appeared beside them).
 * Now an open that would create a new database refuses it with
 * LDB_INVALID naming the files and writes nothing; read-only and
 * create_if_missing 0 answer LDB_NOTFOUND as before; an existing database
 * with a stranger file beside it opens; and a LOCK whose text is not a pid
 * is locked but never rewritten. */
static void test_foreign_dir(void **st) {
  (void)st;
  char *tmpl = tu_tmpdir("ldb-foreign"), home[700], ldbd[700], many[700],
       dbd[700], before[2048], after[2048], buf[1024];
  ldb_options o;
  ldb_options_default(&o);
  o.background_checkpoint = 0;
  ldb_db *db = NULL;
  /* A home directory. */
  snprintf(home, sizeof home, "%s/home", tmpl);
  assert_int_equal(mkdir(home, 0755), 0);
  snprintf(buf, sizeof buf, "%s/Documents", home);
  assert_int_equal(mkdir(buf, 0755), 0);
  write_text(home, "notes.txt", "mine");
  write_text(home, ".bashrc", "export A=1\n");
  listing(home, before, sizeof before);
  assert_int_equal(ldb_open(home, &o, &db), LDB_INVALID);
  assert_null(db);
  const char *m = ldb_errmsg(NULL);
  if (!strstr(m, "holds no database but 3 other files (") ||
      !strstr(m, "notes.txt") || !strstr(m, ".bashrc") ||
      !strstr(m, "Documents") || strstr(m, ", ...") ||
      !strstr(m, "a new database is created only in an empty or new "
                 "directory")) {
    fprintf(stderr, "home: %s\n", m);
    fail();
  }
  listing(home, after, sizeof after);
  assert_string_equal(after, before); /* nothing written */
  o.read_only = 1;
  assert_int_equal(ldb_open(home, &o, &db), LDB_NOTFOUND);
  o.read_only = 0;
  o.create_if_missing = 0;
  assert_int_equal(ldb_open(home, &o, &db), LDB_NOTFOUND);
  o.create_if_missing = 1;
  listing(home, after, sizeof after);
  assert_string_equal(after, before); /* no lock file left either */
  /* A LevelDB directory: its LOCK is not counted, and not touched. */
  snprintf(ldbd, sizeof ldbd, "%s/leveldb", tmpl);
  assert_int_equal(mkdir(ldbd, 0755), 0);
  write_text(ldbd, "CURRENT", "MANIFEST-000002\n");
  write_text(ldbd, "LOCK", "");
  write_text(ldbd, "LOG", "leveldb log\n");
  write_text(ldbd, "MANIFEST-000002", "manifest");
  write_text(ldbd, "000003.log", "records");
  listing(ldbd, before, sizeof before);
  assert_int_equal(ldb_open(ldbd, &o, &db), LDB_INVALID);
  assert_non_null(strstr(ldb_errmsg(NULL), "holds no database but 4 other "
                                           "files"));
  assert_non_null(strstr(ldb_errmsg(NULL), "CURRENT"));
  listing(ldbd, after, sizeof after);
  assert_string_equal(after, before);
  /* More than five: the first five, then "...". */
  snprintf(many, sizeof many, "%s/many", tmpl);
  assert_int_equal(mkdir(many, 0755), 0);
  for (int i = 0; i < 7; i++) {
    snprintf(buf, sizeof buf, "f%d", i);
    write_text(many, buf, "x");
  }
  assert_int_equal(ldb_open(many, &o, &db), LDB_INVALID);
  assert_non_null(strstr(ldb_errmsg(NULL), "7 other files"));
  assert_non_null(strstr(ldb_errmsg(NULL), ", ...)"));
  /* Our own files only (an interrupted creation: LOCK and an empty
   * data.ldb; a volume root's lost+found): created. */
  snprintf(dbd, sizeof dbd, "%s/db", tmpl);
  assert_int_equal(mkdir(dbd, 0755), 0);
  snprintf(buf, sizeof buf, "%s/lost+found", dbd);
  assert_int_equal(mkdir(buf, 0700), 0);
  write_text(dbd, "LOCK", "");
  write_text(dbd, "data.ldb", "");
  opens_and_writes(dbd, &o);
  /* A directory holding only placeholders (.gitkeep, .DS_Store): created,
   * the placeholders left as they are. */
  char ph[700];
  snprintf(ph, sizeof ph, "%s/placeholders", tmpl);
  assert_int_equal(mkdir(ph, 0755), 0);
  write_text(ph, ".gitkeep", "");
  write_text(ph, ".DS_Store", "finder");
  opens_and_writes(ph, &o);
  assert_string_equal(read_text(ph, ".DS_Store", buf, sizeof buf), "finder");
  /* An existing database with a stranger beside it opens. */
  write_text(dbd, "README.txt", "my database");
  assert_int_equal(ldb_open(dbd, &o, &db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  /* Its LOCK: a pid line is ours to rewrite, other text is not. */
  write_text(dbd, "LOCK", "not a pid: someone else's lock\n");
  assert_int_equal(ldb_open(dbd, &o, &db), LDB_OK);
  assert_string_equal(read_text(dbd, "LOCK", buf, sizeof buf),
                      "not a pid: someone else's lock\n");
  assert_int_equal(ldb_close(db), LDB_OK);
  write_text(dbd, "LOCK", "12345\n");
  assert_int_equal(ldb_open(dbd, &o, &db), LDB_OK);
  char pid[32];
  snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
  assert_string_equal(read_text(dbd, "LOCK", buf, sizeof buf), pid);
  void *v = NULL;
  size_t vl = 0;
  assert_int_equal(ldb_get(db, "k", 1, &v, &vl), LDB_OK);
  ldb_free(db, v);
  assert_int_equal(ldb_close(db), LDB_OK);
  tu_rmrf(tmpl);
  free(tmpl);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_contract),
      cmocka_unit_test(test_foreign_dir),
      cmocka_unit_test(test_backup_target),
      cmocka_unit_test(test_maintain),
      cmocka_unit_test(test_basic_ops),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_reopen_options),
      cmocka_unit_test(test_batch),
      cmocka_unit_test(test_reopen_recovery),
      cmocka_unit_test(test_iterators),
      cmocka_unit_test(test_checkpoints_thread),
      cmocka_unit_test(test_checkpoints_steps),
      cmocka_unit_test(test_shared_engine),
      cmocka_unit_test(test_backup),
      cmocka_unit_test(test_group_commit_threads),
      cmocka_unit_test(test_stats),
      cmocka_unit_test(test_reverse_versions),
      cmocka_unit_test(test_posix_backup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
