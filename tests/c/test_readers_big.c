/*
 * test_readers_big.c — readers against a writer on a large, growing
 * database, with checkpoints running on the background thread all the
 * time (a small memtable), pages read through the mapping with the
 * smallest bounded budget (its CLOCK releases chunks under the readers)
 * or through the page cache of a memory store.
 *
 * The writer appends sorted batches of keys "a%09u" past every key (the
 * memtable's unindexed tail, the B+tree's rightmost-leaf finger, merges by
 * reference), rewrites random earlier "a" keys with their same value (new
 * versions, leaf rewrites and repacks in the middle of the tree), and
 * moves amounts between 500 "b" accounts in batches that keep their total
 * constant. After each append commits it publishes the count of "a" keys.
 *
 * Readers check what must hold at every instant: a get of an "a" key below
 * the published count finds it with its value; an iterator (forward or
 * reverse, from a seek near the newest keys) sees the "a" keys without a
 * gap, each with its value, and at least as many as were published before
 * it was made; a scan of the accounts in one snapshot sums to the total.
 * test_concurrency.c checks snapshot stability on 200 keys; this one on a
 * tree that grows to several levels while it is read.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/testutil.h"
#include "lightningdb.h"

#define NACC 500
#define NREADERS 3
#define TOTAL (NACC * 1000ull)

typedef struct shared {
  ldb_db *db;
  _Atomic uint64_t appended;
  _Atomic int stop;
  _Atomic int failed;
  _Atomic uint64_t gets, scans, sums;
  char msg[512];
  pthread_mutex_t mu;
} shared;

static size_t akey(uint64_t i, char *k) {
  return (size_t)snprintf(k, 16, "a%09llu", (unsigned long long)i);
}

/* The value of "a" key i: 0..199 bytes, every 61st 1500..4499 (overflow). */
static size_t aval(uint64_t i, uint8_t *v) {
  uint64_t h = tu_mix(i + 77);
  size_t len = i % 61 == 3 ? 1500 + h % 3000 : h % 200;
  for (size_t j = 0; j < len; j++)
    v[j] = (uint8_t)(h >> (j % 7 * 8)) ^ (uint8_t)j;
  return len;
}

static void fail_at(shared *s, const char *fmt, ...) {
  pthread_mutex_lock(&s->mu);
  if (!atomic_load(&s->failed)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    atomic_store(&s->failed, 1);
  }
  pthread_mutex_unlock(&s->mu);
}

static int is_a_value(uint64_t i, const void *v, size_t vl) {
  static _Thread_local uint8_t want[5000];
  size_t wl = aval(i, want);
  return vl == wl && !memcmp(v, want, vl);
}

static void reader_get(shared *s, tu_rng *r) {
  uint64_t n = atomic_load_explicit(&s->appended, memory_order_acquire);
  if (!n) return;
  uint64_t i = tu_chance(r, 70) ? n - 1 - tu_below(r, n < 3000 ? n : 3000)
                                : tu_below(r, n);
  char k[16];
  void *v = NULL;
  size_t vl = 0;
  int rc = ldb_get(s->db, k, akey(i, k), &v, &vl);
  if (rc != LDB_OK)
    fail_at(s, "get %s (published %llu): %s (%s)", k, (unsigned long long)n,
            ldb_code_name(rc), ldb_errmsg(NULL));
  else if (!is_a_value(i, v, vl))
    fail_at(s, "get %s: wrong value (%zu bytes)", k, vl);
  ldb_free(s->db, v);
  atomic_fetch_add_explicit(&s->gets, 1, memory_order_relaxed);
}

static void reader_scan(shared *s, tu_rng *r) {
  uint64_t n = atomic_load_explicit(&s->appended, memory_order_acquire);
  if (!n) return;
  ldb_iter_options io;
  ldb_iter *it = NULL;
  memset(&io, 0, sizeof io);
  io.prefix = "a";
  io.prefix_len = 1;
  io.reverse = (int)tu_below(r, 2);
  int rc = ldb_iter_create(s->db, NULL, &io, &it);
  if (rc) {
    fail_at(s, "iter_create: %s", ldb_code_name(rc));
    return;
  }
  uint64_t from = n > 2000 ? n - 1 - tu_below(r, 2000) : tu_below(r, n);
  char k[16];
  rc = ldb_iter_seek(it, k, akey(from, k));
  uint64_t expect = from, seen = 0;
  for (; rc == LDB_OK && seen < 3000; rc = ldb_iter_next(it), seen++) {
    const void *kp, *vp;
    size_t kl, vl;
    ldb_iter_key(it, &kp, &kl);
    akey(expect, k);
    if (kl != 10 || memcmp(kp, k, 10)) {
      fail_at(s, "scan (%s) from %llu: %.*s where %s belongs (published %llu)",
              io.reverse ? "reverse" : "forward", (unsigned long long)from,
              (int)kl, (const char *)kp, k, (unsigned long long)n);
      break;
    }
    if ((rc = ldb_iter_value(it, &vp, &vl)) != LDB_OK) break;
    if (!is_a_value(expect, vp, vl)) {
      fail_at(s, "scan: value of %s wrong (%zu bytes)", k, vl);
      break;
    }
    if (io.reverse && expect == 0) {
      rc = ldb_iter_next(it);
      seen++;
      break;
    }
    expect += io.reverse ? (uint64_t)-1 : 1;
  }
  if (rc != LDB_OK && rc != LDB_NOTFOUND)
    fail_at(s, "scan: %s (%s)", ldb_code_name(rc), ldb_errmsg(NULL));
  /* Forward scans that ran to the end saw every published key. */
  if (!io.reverse && rc == LDB_NOTFOUND && expect < n)
    fail_at(s, "forward scan from %llu ended at %llu, %llu were published",
            (unsigned long long)from, (unsigned long long)expect,
            (unsigned long long)n);
  if (io.reverse && rc == LDB_NOTFOUND && expect != 0 && seen < 3000)
    fail_at(s, "reverse scan from %llu ended at %llu", (unsigned long long)from,
            (unsigned long long)expect);
  ldb_iter_destroy(it);
  atomic_fetch_add_explicit(&s->scans, 1, memory_order_relaxed);
}

static void reader_sum(shared *s) {
  ldb_iter_options io;
  ldb_iter *it = NULL;
  memset(&io, 0, sizeof io);
  io.prefix = "b";
  io.prefix_len = 1;
  int rc = ldb_iter_create(s->db, NULL, &io, &it);
  if (rc) {
    fail_at(s, "iter_create: %s", ldb_code_name(rc));
    return;
  }
  uint64_t sum = 0, n = 0;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it), n++) {
    const void *vp;
    size_t vl;
    if ((rc = ldb_iter_value(it, &vp, &vl)) != LDB_OK) break;
    uint64_t b;
    if (vl < 8) {
      fail_at(s, "account value of %zu bytes", vl);
      break;
    }
    memcpy(&b, vp, 8);
    sum += b;
  }
  if (rc != LDB_NOTFOUND)
    fail_at(s, "account scan: %s (%s)", ldb_code_name(rc), ldb_errmsg(NULL));
  else if (n != NACC || sum != TOTAL)
    fail_at(s, "accounts: %llu of them summing to %llu, want %d and %llu",
            (unsigned long long)n, (unsigned long long)sum, NACC,
            (unsigned long long)TOTAL);
  ldb_iter_destroy(it);
  atomic_fetch_add_explicit(&s->sums, 1, memory_order_relaxed);
}

static void *reader(void *p) {
  shared *s = p;
  tu_rng r;
  tu_rng_init(&r, (uint64_t)(uintptr_t)&r);
  while (!atomic_load(&s->stop) && !atomic_load(&s->failed)) {
    uint64_t what = tu_below(&r, 100);
    if (what < 80)
      reader_get(s, &r);
    else if (what < 95)
      reader_scan(s, &r);
    else
      reader_sum(s);
  }
  return NULL;
}

static void put_account(ldb_batch *b, unsigned a, uint64_t bal, tu_rng *r) {
  char k[16];
  uint8_t v[64];
  memset(v, 'p', sizeof v);
  memcpy(v, &bal, 8);
  int kl = snprintf(k, sizeof k, "b%04u", a);
  assert_int_equal(
      ldb_batch_put(b, k, (size_t)kl, v, 8 + (size_t)tu_below(r, 56)), LDB_OK);
}

static void run(const char *tag, int posix) {
  uint64_t seed = tu_seed(tag);
  tu_rng r;
  tu_rng_init(&r, seed);
  ldb_store *st = NULL;
  char *dir = tu_tmpdir(tag);
  if (posix)
    assert_int_equal(tu_store_dir(dir, 1, &st), LDB_OK);
  else
    assert_int_equal(ldb_store_memory(&st), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = st;
  o.sync_mode = LDB_SYNC_OFF;
  o.page_size = 1024;
  o.memtable_size = 64 * 1024;
  o.cache_size = 0; /* the smallest: 16 pages */
  o.mmap_bounded = 1;
  shared s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  assert_int_equal(ldb_open(tag, &o, &s.db), LDB_OK);
  uint64_t bal[NACC];
  ldb_batch *b = NULL;
  assert_int_equal(ldb_batch_create(s.db, &b), LDB_OK);
  for (unsigned a = 0; a < NACC; a++) {
    bal[a] = TOTAL / NACC;
    put_account(b, a, bal[a], &r);
  }
  assert_int_equal(ldb_write(s.db, b), LDB_OK);
  pthread_t th[NREADERS];
  for (int i = 0; i < NREADERS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, reader, &s), 0);
  uint64_t batches = tu_scale(1500, 8, 150), next = 0;
  static uint8_t v[5000];
  char k[16];
  for (uint64_t n = 0; n < batches && !atomic_load(&s.failed); n++) {
    ldb_batch_clear(b);
    uint64_t kind = tu_below(&r, 10);
    if (kind < 5) { /* append */
      uint64_t cnt = 1 + tu_below(&r, 200);
      for (uint64_t j = 0; j < cnt; j++, next++) {
        size_t vl = aval(next, v);
        assert_int_equal(ldb_batch_put(b, k, akey(next, k), v, vl), LDB_OK);
      }
      assert_int_equal(ldb_write(s.db, b), LDB_OK);
      atomic_store_explicit(&s.appended, next, memory_order_release);
    } else if (kind < 8 && next) { /* same values, new versions */
      uint64_t cnt = 1 + tu_below(&r, 40);
      for (uint64_t j = 0; j < cnt; j++) {
        uint64_t i = tu_below(&r, next);
        size_t vl = aval(i, v);
        assert_int_equal(ldb_batch_put(b, k, akey(i, k), v, vl), LDB_OK);
      }
      assert_int_equal(ldb_write(s.db, b), LDB_OK);
    } else { /* transfers between accounts, the total unchanged */
      unsigned cnt = 2 + (unsigned)tu_below(&r, 10);
      for (unsigned j = 0; j + 1 < cnt; j += 2) {
        unsigned x = (unsigned)tu_below(&r, NACC),
                 y = (unsigned)tu_below(&r, NACC);
        if (x == y) continue;
        uint64_t amt = tu_below(&r, bal[x] + 1);
        bal[x] -= amt;
        bal[y] += amt;
        put_account(b, x, bal[x], &r);
        put_account(b, y, bal[y], &r);
      }
      assert_int_equal(ldb_write(s.db, b), LDB_OK);
    }
    if (tu_chance(&r, 1)) assert_int_equal(ldb_checkpoint(s.db), LDB_OK);
  }
  atomic_store(&s.stop, 1);
  for (int i = 0; i < NREADERS; i++)
    pthread_join(th[i], NULL);
  ldb_batch_destroy(b);
  printf("%s: %llu keys appended; %llu gets, %llu scans, %llu sums\n", tag,
         (unsigned long long)next, (unsigned long long)atomic_load(&s.gets),
         (unsigned long long)atomic_load(&s.scans),
         (unsigned long long)atomic_load(&s.sums));
  if (atomic_load(&s.failed))
    fail_msg("%s (seed %llu): %s", tag, (unsigned long long)seed, s.msg);
  assert_int_equal(ldb_check(s.db), LDB_OK);
  assert_int_equal(ldb_close(s.db), LDB_OK);
  ldb_store_destroy(st);
  tu_rmrf(dir);
  free(dir);
  pthread_mutex_destroy(&s.mu);
}

static void test_readers_mapped(void **state) {
  (void)state;
  run("readers_mapped", 1);
}

static void test_readers_memory(void **state) {
  (void)state;
  run("readers_memory", 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_readers_mapped),
      cmocka_unit_test(test_readers_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
