/*
 * test_crash_group.c — power cuts (the faulty store) while several threads
 * commit at once in FULL mode, so that commits share log syncs (group
 * commit): a commit that returned LDB_OK must survive the cut whichever
 * thread's sync made it durable, and a commit whose sync never happened
 * must not have returned LDB_OK.
 *
 * Each of four threads puts "t<thread>-<n>" for n = 1, 2, ... (values of
 * 0..2999 bytes, some in batches of several keys) until a call fails (the
 * power is cut at a random sync, and every operation fails after it), and
 * records the last n acknowledged. After the cut the image is reopened on
 * the inner store: ldb_check passes, each thread's keys are a prefix
 * 1..p of its sequence (commits of one thread are ordered), p is at least
 * its last acknowledged n, and every value is right. The background thread
 * checkpoints meanwhile (a small memtable), reading through the mapping in
 * half of the runs.
 *
 * Replay a failure with LDB_SEED=<seed> (thread interleavings vary).
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

#include "helpers/store_faulty.h"
#include "helpers/testutil.h"

#define NT 4

typedef struct worker {
  ldb_db *db;
  int id;
  uint64_t acked; /* last n whose commit returned LDB_OK */
  int last_rc;
} worker;

static size_t key_of(int t, uint64_t n, char *k) {
  return (size_t)snprintf(k, 32, "t%d-%010llu", t, (unsigned long long)n);
}

static size_t value_of(int t, uint64_t n, uint8_t *v) {
  uint64_t h = (n * 0x9E3779B97F4A7C15ull) ^ (uint64_t)t;
  size_t len = (size_t)(h >> 40) % 3000;
  for (size_t j = 0; j < len; j++)
    v[j] = (uint8_t)(h >> (j % 8 * 8)) + (uint8_t)j;
  return len;
}

static void *work(void *p) {
  worker *w = p;
  static _Thread_local uint8_t v[3000];
  char k[32];
  for (uint64_t n = 1; n < 100000; n++) {
    int rc;
    if (n % 5 == 0) { /* a batch: n and the next two */
      ldb_batch *b = NULL;
      if ((rc = ldb_batch_create(w->db, &b))) break;
      for (uint64_t j = n; j < n + 3; j++) {
        size_t vl = value_of(w->id, j, v);
        ldb_batch_put(b, k, key_of(w->id, j, k), v, vl);
      }
      rc = ldb_write(w->db, b);
      ldb_batch_destroy(b);
      if (rc) {
        w->last_rc = rc;
        break;
      }
      n += 2;
    } else {
      size_t vl = value_of(w->id, n, v);
      rc = ldb_put(w->db, k, key_of(w->id, n, k), v, vl);
      if (rc) {
        w->last_rc = rc;
        break;
      }
    }
    w->acked = n;
  }
  return NULL;
}

static void options(ldb_options *o, ldb_store *s) {
  ldb_options_default(o);
  o->store = s;
  o->page_size = 1024;
  o->sync_mode = LDB_SYNC_FULL;
  o->memtable_size = 128 * 1024;
  o->cache_size = 64 * 1024;
}

static uint64_t total_acked;

static void one_cut(uint64_t seed, uint64_t cut, int mode, int mapped) {
  ldb_store *inner = NULL, *fs = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  char label[128];
  snprintf(label, sizeof label, "seed %llu: cut at sync %llu (%s%s)",
           (unsigned long long)seed, (unsigned long long)cut,
           mode ? "TEAR" : "DROP", mapped ? ", mapped" : "");
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  ldb_faulty_set_map(fs, mapped);
  ldb_faulty_crash_at_sync(fs, cut, mode, seed ^ cut);
  options(&o, fs);
  worker w[NT];
  memset(w, 0, sizeof w);
  if (ldb_open("group", &o, &db) == LDB_OK) {
    pthread_t th[NT];
    for (int t = 0; t < NT; t++) {
      w[t].db = db;
      w[t].id = t;
      assert_int_equal(pthread_create(&th[t], NULL, work, &w[t]), 0);
    }
    for (int t = 0; t < NT; t++)
      pthread_join(th[t], NULL);
    for (int t = 0; t < NT; t++)
      if (w[t].last_rc != LDB_IOERR && !ldb_faulty_crashed(fs))
        fail_msg("%s: thread %d stopped with %s before the cut", label, t,
                 ldb_code_name(w[t].last_rc));
    ldb_close(db);
  } else {
    assert_true(ldb_faulty_crashed(fs));
  }
  if (!ldb_faulty_crashed(fs)) ldb_faulty_crash_now(fs, LDB_CRASH_DROP, 0);
  ldb_store_destroy(fs);

  options(&o, inner);
  int rc = ldb_open("group", &o, &db);
  if (rc)
    fail_msg("%s: reopen: %s (%s)", label, ldb_code_name(rc), ldb_errmsg(NULL));
  if ((rc = ldb_check(db)))
    fail_msg("%s: ldb_check: %s", label, ldb_errmsg(NULL));
  static uint8_t want[3000];
  char k[32];
  for (int t = 0; t < NT; t++) {
    uint64_t n = 1;
    for (;; n++) {
      void *v = NULL;
      size_t vl = 0;
      rc = ldb_get(db, k, key_of(t, n, k), &v, &vl);
      if (rc == LDB_NOTFOUND) break;
      if (rc) fail_msg("%s: get %s: %s", label, k, ldb_code_name(rc));
      size_t wl = value_of(t, n, want);
      if (vl != wl || memcmp(v, want, vl))
        fail_msg("%s: %s has a wrong value", label, k);
      ldb_free(db, v);
    }
    uint64_t present = n - 1;
    total_acked += w[t].acked;
    if (present < w[t].acked)
      fail_msg("%s: thread %d: commit %llu was acknowledged, only 1..%llu "
               "survived",
               label, t, (unsigned long long)w[t].acked,
               (unsigned long long)present);
    /* Nothing after the gap: a prefix of the thread's commits. */
    for (uint64_t m = present + 2; m < present + 8; m++) {
      void *v = NULL;
      size_t vl;
      rc = ldb_get(db, k, key_of(t, m, k), &v, &vl);
      ldb_free(db, v);
      if (rc != LDB_NOTFOUND)
        fail_msg("%s: thread %d: %s present after %llu missing", label, t, k,
                 (unsigned long long)(present + 1));
    }
  }
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(inner);
}

static void test_group_commit_cuts(void **state) {
  (void)state;
  uint64_t seed = tu_seed("crash_group");
  tu_rng r;
  tu_rng_init(&r, seed);
  uint64_t points = tu_scale(40, 5, 8);
  for (uint64_t p = 0; p < points; p++)
    one_cut(seed + p, 1 + tu_below(&r, 1500), (int)tu_below(&r, 2),
            (int)tu_below(&r, 2));
  printf("crash_group: %llu power cuts under group commit verified (%llu "
         "acknowledged commits checked)\n",
         (unsigned long long)points, (unsigned long long)total_acked);
  assert_true(total_acked > points);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_commit_cuts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
