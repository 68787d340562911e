/*
 * test_memtable.c — the skip list of versions: snapshot visibility, order,
 * navigation, "later wins" within one seq, chains, allocation failures, the
 * unindexed tail of bulk loads, and lock-free readers running beside the
 * single writer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "memtable.h"

static void expect_ver(mt *m, const char *k, uint64_t snap, int type,
                       const char *v) {
  int t;
  const void *val;
  uint32_t vl;
  int found = mt_get(m, k, strlen(k), snap, &t, &val, &vl);
  if (!type) {
    assert_int_equal(found, 0);
    return;
  }
  assert_int_equal(found, 1);
  assert_int_equal(t, type);
  if (v) {
    assert_int_equal(vl, strlen(v));
    assert_memory_equal(val, v, vl);
  }
}

static void test_versions(void **st) {
  (void)st;
  mt *m;
  assert_int_equal(mt_create(NULL, 4096, &m), LDB_OK);
  assert_int_equal(mt_add(m, 1, MT_PUT, "k", 1, "v1", 2), LDB_OK);
  assert_int_equal(mt_add(m, 3, MT_PUT, "k", 1, "v3", 2), LDB_OK);
  assert_int_equal(mt_add(m, 5, MT_DEL, "k", 1, NULL, 0), LDB_OK);
  assert_int_equal(mt_add(m, 2, MT_PUT, "j", 1, "j2", 2), LDB_OK);
  assert_int_equal(mt_add(m, 4, MT_PUT, "kk", 2, "kk4", 3), LDB_OK);
  expect_ver(m, "k", 0, 0, NULL);
  expect_ver(m, "k", 1, MT_PUT, "v1");
  expect_ver(m, "k", 2, MT_PUT, "v1");
  expect_ver(m, "k", 3, MT_PUT, "v3");
  expect_ver(m, "k", 4, MT_PUT, "v3");
  expect_ver(m, "k", 5, MT_DEL, NULL);
  expect_ver(m, "k", UINT64_MAX, MT_DEL, NULL);
  expect_ver(m, "j", 1, 0, NULL);
  expect_ver(m, "j", 2, MT_PUT, "j2");
  expect_ver(m, "kk", 3, 0, NULL);
  expect_ver(m, "x", 100, 0, NULL);
  assert_int_equal(mt_newest_seq(m, "k", 1), 5);
  assert_int_equal(mt_newest_seq(m, "kk", 2), 4);
  assert_int_equal(mt_newest_seq(m, "zz", 2), 0);
  assert_int_equal(mt_count(m), 5);
  assert_int_equal(mt_check(m), LDB_OK);

  /* order: j, k@5, k@3, k@1, kk */
  const char *keys[] = {"j", "k", "k", "k", "kk"};
  uint64_t seqs[] = {2, 5, 3, 1, 4};
  int i = 0;
  for (mt_node *n = mt_first(m); n; n = mt_node_next(n), i++) {
    size_t kl;
    const uint8_t *k = mt_node_key(n, &kl);
    assert_int_equal(kl, strlen(keys[i]));
    assert_memory_equal(k, keys[i], kl);
    assert_int_equal(mt_node_seq(n), seqs[i]);
  }
  assert_int_equal(i, 5);
  size_t kl;
  mt_node *n = mt_last(m);
  assert_memory_equal(mt_node_key(n, &kl), "kk", 2);
  n = mt_find_lt(m, "kk", 2);
  assert_int_equal(mt_node_seq(n), 1); /* the oldest version of "k" */
  assert_null(mt_find_lt(m, "j", 1));
  n = mt_seek(m, "k", 1, 4);
  assert_int_equal(mt_node_seq(n), 3);
  n = mt_seek(m, "ka", 2, UINT64_MAX);
  assert_memory_equal(mt_node_key(n, &kl), "kk", 2);
  assert_null(mt_seek(m, "l", 1, UINT64_MAX));
  mt_unref(m);
}

static void test_same_seq_later_wins(void **st) {
  (void)st;
  mt *m;
  assert_int_equal(mt_create(NULL, 1024, &m), LDB_OK);
  assert_int_equal(mt_reserve(m, 3, 10), LDB_OK);
  mt_insert(m, 7, MT_PUT, "a", 1, "first", 5);
  mt_insert(m, 7, MT_DEL, "a", 1, NULL, 0);
  mt_insert(m, 7, MT_PUT, "a", 1, "third", 5);
  expect_ver(m, "a", 7, MT_PUT, "third");
  assert_int_equal(mt_check(m), LDB_OK);
  mt_unref(m);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void test_random_order(void **st) {
  (void)st;
  mt *m;
  assert_int_equal(mt_create(NULL, 8192, &m), LDB_OK);
  enum { N = 20000 };
  static char keys[N][16];
  static char *ptrs[N];
  uint64_t x = 12345;
  for (int i = 0; i < N; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    snprintf(keys[i], sizeof keys[i], "%llx", (unsigned long long)(x >> 20));
    ptrs[i] = keys[i];
    /* a value large enough to span arena blocks now and then */
    char v[600];
    memset(v, 'v', sizeof v);
    assert_int_equal(mt_add(m, (uint64_t)i + 1, MT_PUT, keys[i],
                            strlen(keys[i]), v, (uint32_t)(i % 600)),
                     LDB_OK);
  }
  assert_int_equal(mt_check(m), LDB_OK);
  qsort(ptrs, N, sizeof *ptrs, cmp_str);
  int i = 0;
  for (mt_node *n = mt_first(m); n; n = mt_node_next(n), i++) {
    size_t kl;
    const uint8_t *k = mt_node_key(n, &kl);
    assert_int_equal(kl, strlen(ptrs[i]));
    assert_memory_equal(k, ptrs[i], kl);
  }
  assert_int_equal(i, N);
  assert_true(mt_bytes(m) > (uint64_t)N * 300);
  mt_unref(m);
}

static void test_chain(void **st) {
  (void)st;
  mt *a, *b, *c;
  assert_int_equal(mt_create(NULL, 1024, &a), LDB_OK);
  assert_int_equal(mt_create(NULL, 1024, &b), LDB_OK);
  assert_int_equal(mt_create(NULL, 1024, &c), LDB_OK);
  mt_set_next(a, b);
  mt_set_next(b, c);
  assert_ptr_equal(mt_next(a), b);
  assert_int_equal(mt_add(c, 9, MT_PUT, "z", 1, "9", 1), LDB_OK);
  mt_unref(b); /* a still holds b, b holds c */
  mt_unref(c);
  assert_int_equal(mt_newest_seq(mt_next(mt_next(a)), "z", 1), 9);
  mt_unref(a); /* frees the chain (ASan checks) */
}

/* An allocator that fails after a countdown. */
static int budget;
static void *fail_malloc(void *ctx, size_t n) {
  (void)ctx;
  if (budget-- <= 0) return NULL;
  return malloc(n);
}
static void fail_free(void *ctx, void *p) {
  (void)ctx;
  free(p);
}

static void test_nomem(void **st) {
  (void)st;
  ldb_allocator al = {fail_malloc, NULL, fail_free, NULL};
  mt *m;
  budget = 1;
  assert_int_equal(mt_create(&al, 1024, &m), LDB_NOMEM);
  budget = 3; /* struct, head, one block */
  assert_int_equal(mt_create(&al, 1024, &m), LDB_OK);
  int ok = 0, rc;
  while ((rc = mt_add(m, 1, MT_PUT, "key", 3, "value", 5)) == LDB_OK)
    ok++;
  assert_int_equal(rc, LDB_NOMEM);
  assert_true(ok > 0);
  assert_int_equal(mt_count(m), (uint64_t)ok);
  assert_int_equal(mt_check(m), LDB_OK);
  mt_unref(m);
}

static void test_bloom(void **st) {
  (void)st;
  mt *m;
  assert_int_equal(mt_create(NULL, 65536, &m), LDB_OK);
  assert_int_equal(mt_enable_bloom(m, 64 << 10), LDB_OK);
  char k[32];
  for (int i = 0; i < 20000; i++) {
    int kl = snprintf(k, sizeof k, "present-%d", i);
    assert_int_equal(
        mt_add(m, (uint64_t)i + 1, MT_PUT, k, (uint32_t)kl, "v", 1), LDB_OK);
  }
  /* no false negatives */
  for (int i = 0; i < 20000; i++) {
    int kl = snprintf(k, sizeof k, "present-%d", i);
    assert_int_equal(mt_newest_seq(m, k, (size_t)kl), (uint64_t)i + 1);
  }
  /* absent keys are answered (correctly) whatever the filter says */
  for (int i = 0; i < 20000; i++) {
    int kl = snprintf(k, sizeof k, "absent-%d", i);
    assert_int_equal(mt_newest_seq(m, k, (size_t)kl), 0);
  }
  mt_unref(m);
}

/* Single puts in random order (the `mixed` workload): a put is an append
 * only when it sorts after every key, not merely after the one put before
 * it. Starting the unindexed tail in the middle of the list made each
 * later put below it re-index every node from there to the end
 * (quadratic); the tail must stay empty unless the key was the largest. */
typedef struct absent_gets {
  mt *m;
  _Atomic int done;
  int found;
} absent_gets;

static void *get_absent(void *p) {
  absent_gets *g = p;
  char k[16];
  int type;
  const void *v;
  uint32_t vl;
  for (int i = 0; i < 1000; i++) {
    int kl = snprintf(k, sizeof k, "c%04d", i);
    g->found += mt_get(g->m, k, (size_t)kl, UINT64_MAX, &type, &v, &vl);
  }
  atomic_store(&g->done, 1);
  return NULL;
}

/* The engine reserves a batch (mt_reserve, which sizes the index for its
 * keys) before it announces it (mt_batch_begin). When the batch ends the
 * unindexed tail, the tail's keys took index slots that the reservation
 * had counted for the batch: 32 tail keys and a batch of 32 new keys
 * filled all 64 slots, and a lookup of an absent key (no filter here, or a
 * filter's false positive) then probed forever for an empty slot. The
 * lookups run on a thread, so that the test fails instead of hanging. */
static void test_tail_indexing_leaves_room(void **st) {
  (void)st;
  mt *m;
  char k[16];
  assert_int_equal(mt_create(NULL, 1 << 16, &m), LDB_OK);
  assert_int_equal(mt_enable_index(m, 0), LDB_OK); /* the smallest table */
  mt_batch_begin(m, "b00", 3, 1); /* an empty memtable: the tail */
  assert_int_equal(mt_reserve(m, 32, 32 * 8), LDB_OK);
  for (int i = 0; i < 32; i++) {
    snprintf(k, sizeof k, "b%02d", i);
    mt_insert(m, 1, MT_PUT, k, 3, "v", 1);
  }
  assert_int_equal(mt_unindexed(m), 32);
  assert_int_equal(mt_reserve(m, 32, 32 * 8), LDB_OK); /* as eng_commit */
  mt_batch_begin(m, "a00", 3, 1);                      /* no append */
  assert_int_equal(mt_unindexed(m), 0);
  for (int i = 0; i < 32; i++) {
    snprintf(k, sizeof k, "a%02d", i);
    mt_insert(m, 2, MT_PUT, k, 3, "v", 1);
  }
  absent_gets g = {m, 0, 0};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, get_absent, &g), 0);
  for (int ms = 0; ms < 20000 && !atomic_load(&g.done); ms++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  if (!atomic_load(&g.done))
    fail_msg("lookups of absent keys did not return within 20 s (a full "
             "index)");
  pthread_join(th, NULL);
  assert_int_equal(g.found, 0);
  for (int i = 0; i < 32; i++) {
    snprintf(k, sizeof k, "a%02d", i);
    expect_ver(m, k, UINT64_MAX, MT_PUT, "v");
    snprintf(k, sizeof k, "b%02d", i);
    expect_ver(m, k, UINT64_MAX, MT_PUT, "v");
  }
  assert_int_equal(mt_check(m), LDB_OK);
  mt_unref(m);
}

static void test_tail_only_after_every_key(void **st) {
  (void)st;
  enum { N = 2000 };
  mt *m;
  assert_int_equal(mt_create(NULL, 1 << 16, &m), LDB_OK);
  assert_int_equal(mt_enable_bloom(m, 4096), LDB_OK);
  assert_int_equal(mt_enable_index(m, 16), LDB_OK);
  int perm[N];
  for (int i = 0; i < N; i++)
    perm[i] = i;
  uint32_t r = 12345;
  for (int i = N - 1; i > 0; i--) {
    r = r * 1103515245u + 12345u;
    int j = (int)((r >> 8) % (uint32_t)(i + 1)), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  int max = -1;
  char k[16];
  for (int i = 0; i < N; i++) {
    snprintf(k, sizeof k, "r%05d", perm[i]);
    mt_batch_begin(m, k, strlen(k), 1);
    assert_int_equal(mt_add(m, (uint64_t)i + 1, MT_PUT, k, (uint32_t)strlen(k),
                            k, (uint32_t)strlen(k)),
                     LDB_OK);
    if (perm[i] < max) assert_int_equal(mt_unindexed(m), 0);
    if (perm[i] > max) max = perm[i];
  }
  for (int i = 0; i < N; i++) {
    snprintf(k, sizeof k, "r%05d", i);
    expect_ver(m, k, UINT64_MAX, MT_PUT, NULL);
  }
  assert_int_equal(mt_check(m), LDB_OK);
  mt_unref(m);
}

/* Fills m with n puts of 100-byte values (its blocks come from its pool). */
static void pool_fill(mt *m, int n) {
  char k[16], v[100];
  memset(v, 'v', sizeof v);
  for (int i = 0; i < n; i++) {
    snprintf(k, sizeof k, "p%05d", i);
    assert_int_equal(
        mt_add(m, (uint64_t)i + 1, MT_PUT, k, (uint32_t)strlen(k), v, sizeof v),
        LDB_OK);
  }
}

/* A freed memtable's blocks go to its pool (up to the cap), the next
 * memtable takes them before allocating (the pool empties while the
 * memory held stays the same), contents stay right, and a trim frees them.
 * The pool outlives its creator's reference while a memtable holds it. */
static void test_block_pool(void **st) {
  (void)st;
  enum { BLOCK = 4096, N = 400 };
  mt_pool *p;
  assert_int_equal(mt_pool_create(NULL, BLOCK, 64 * BLOCK, &p), LDB_OK);
  mt *a, *b;
  assert_int_equal(mt_create(NULL, BLOCK, &a), LDB_OK);
  mt_use_pool(a, p);
  pool_fill(a, N);
  uint64_t held = mt_mem(a);
  assert_int_equal(mt_pool_bytes(p), 0);
  mt_unref(a);
  uint64_t pooled = mt_pool_bytes(p);
  assert_true(pooled >= 8 * BLOCK);
  assert_true(pooled <= 64 * (BLOCK + 64));
  assert_int_equal(mt_create(NULL, BLOCK, &b), LDB_OK);
  mt_use_pool(b, p);
  pool_fill(b, N);
  assert_true(mt_pool_bytes(p) < pooled / 4);
  assert_true(mt_mem(b) <= held);
  char k[16];
  for (int i = 0; i < N; i += 37) {
    snprintf(k, sizeof k, "p%05d", i);
    expect_ver(b, k, UINT64_MAX, MT_PUT, NULL);
  }
  assert_int_equal(mt_check(b), LDB_OK);
  /* The cap: a pool of two blocks keeps two of a memtable's blocks. */
  mt_pool *small;
  assert_int_equal(mt_pool_create(NULL, BLOCK, 2 * (BLOCK + 64), &small),
                   LDB_OK);
  mt *c;
  assert_int_equal(mt_create(NULL, BLOCK, &c), LDB_OK);
  mt_use_pool(c, small);
  pool_fill(c, N);
  mt_pool_unref(small); /* c still holds it */
  mt_unref(c);          /* frees c, then the pool with its blocks */
  mt_pool_unref(p);     /* b still holds it */
  mt_unref(b);
}

/* The pool's trim frees what it holds, and it keeps serving. */
static void test_block_pool_trim(void **st) {
  (void)st;
  mt_pool *p;
  assert_int_equal(mt_pool_create(NULL, 4096, 1u << 20, &p), LDB_OK);
  mt *a;
  assert_int_equal(mt_create(NULL, 4096, &a), LDB_OK);
  mt_use_pool(a, p);
  pool_fill(a, 200);
  mt_unref(a);
  assert_true(mt_pool_bytes(p) > 0);
  mt_pool_trim(p);
  assert_int_equal(mt_pool_bytes(p), 0);
  assert_int_equal(mt_create(NULL, 4096, &a), LDB_OK);
  mt_use_pool(a, p);
  pool_fill(a, 200);
  assert_int_equal(mt_check(a), LDB_OK);
  mt_unref(a);
  assert_true(mt_pool_bytes(p) > 0);
  mt_pool_unref(p);
}

/* Inserts keys "t%05d" for [from, to) under seq as one batch announced
 * to mt_batch_begin (ascending: ordered). */
static void tail_batch(mt *m, int from, int to, uint64_t seq) {
  char k[16];
  snprintf(k, sizeof k, "t%05d", from);
  mt_batch_begin(m, k, strlen(k), 1);
  assert_int_equal(mt_reserve(m, (size_t)(to - from), (size_t)(to - from) * 16),
                   LDB_OK);
  for (int i = from; i < to; i++) {
    snprintf(k, sizeof k, "t%05d", i);
    mt_insert(m, seq, MT_PUT, k, (uint32_t)strlen(k), k, (uint32_t)strlen(k));
  }
}

/* Every key's newest version at snap, absent keys absent. */
static void tail_expect(mt *m, int nkeys, uint64_t snap) {
  char k[16];
  for (int i = 0; i < nkeys; i++) {
    snprintf(k, sizeof k, "t%05d", i);
    uint64_t want = i < 100 ? 1 : i < 200 ? 2 : 3;
    expect_ver(m, k, snap, snap >= want ? MT_PUT : 0, NULL);
    snprintf(k, sizeof k, "t%05dx", i);
    expect_ver(m, k, snap, 0, NULL);
  }
  expect_ver(m, "u", snap, 0, NULL);
  expect_ver(m, "", snap, 0, NULL);
}

/* Batches in ascending key order after every key (bulk loads) skip the
 * filter and the index (the unindexed tail); lookups of those keys must
 * still find every version, including newer versions of the tail's first
 * key (which sort before it), and a later batch that is not an append
 * indexes the tail (growing the index from its smallest size), after
 * which lookups go through filter and index again. */
static void test_unindexed_tail(void **st) {
  (void)st;
  mt *m;
  enum { N = 5000 };
  assert_int_equal(mt_create(NULL, 65536, &m), LDB_OK);
  assert_int_equal(mt_enable_bloom(m, 4096), LDB_OK);
  assert_int_equal(mt_enable_index(m, 32), LDB_OK);
  tail_batch(m, 0, 100, 1);   /* into an empty memtable: starts the tail */
  tail_batch(m, 100, 200, 2); /* after every key: extends it */
  tail_batch(m, 200, N, 3);   /* and again */
  assert_int_equal(mt_unindexed(m), N);
  for (uint64_t snap = 0; snap <= 3; snap++)
    tail_expect(m, N, snap);
  /* An unordered batch whose first op appends does not end the tail; its
   * second op, a newer version of the tail's first key, sorts before the
   * tail node and is not indexed either. */
  mt_batch_begin(m, "t99999", 6, 0);
  assert_int_equal(mt_reserve(m, 4, 64), LDB_OK);
  mt_insert(m, 4, MT_PUT, "t99999", 6, "late", 4);
  mt_insert(m, 4, MT_PUT, "t00100", 6, "newer", 5);
  /* two versions under one seq: the one inserted last wins */
  mt_insert(m, 4, MT_PUT, "t00101", 6, "first", 5);
  mt_insert(m, 4, MT_PUT, "t00101", 6, "second", 6);
  expect_ver(m, "t00101", 4, MT_PUT, "second");
  expect_ver(m, "t00100", 4, MT_PUT, "newer");
  expect_ver(m, "t00100", 3, MT_PUT, "t00100");
  expect_ver(m, "t99999", 4, MT_PUT, "late");
  expect_ver(m, "t99999", 3, 0, NULL);
  assert_int_equal(mt_newest_seq(m, "t00100", 6), 4);
  /* Not an append: the tail is indexed first. */
  mt_batch_begin(m, "t00050", 6, 1);
  assert_int_equal(mt_reserve(m, 1, 64), LDB_OK);
  mt_insert(m, 5, MT_DEL, "t00050", 6, NULL, 0);
  expect_ver(m, "t00050", 5, MT_DEL, NULL);
  expect_ver(m, "t00050", 4, MT_PUT, "t00050");
  expect_ver(m, "t00100", 5, MT_PUT, "newer");
  expect_ver(m, "t00100", 2, MT_PUT, "t00100");
  expect_ver(m, "t00101", 5, MT_PUT, "second");
  expect_ver(m, "t99999", 5, MT_PUT, "late");
  for (uint64_t snap = 0; snap <= 3; snap++)
    tail_expect(m, N, snap);
  for (int i = 0; i < N; i++) {
    char k[16];
    snprintf(k, sizeof k, "t%05d", i);
    uint64_t want = i == 50                ? 5
                    : i == 100 || i == 101 ? 4
                    : i < 100              ? 1
                    : i < 200              ? 2
                                           : 3;
    assert_int_equal(mt_newest_seq(m, k, strlen(k)), want);
  }
  /* A new append after the catch-up starts a new tail. */
  mt_batch_begin(m, "v0", 2, 1);
  assert_int_equal(mt_reserve(m, 1, 64), LDB_OK);
  mt_insert(m, 6, MT_PUT, "v0", 2, "x", 1);
  expect_ver(m, "v0", 6, MT_PUT, "x");
  expect_ver(m, "v0", 5, 0, NULL);
  expect_ver(m, "t00100", 6, MT_PUT, "newer");
  assert_int_equal(mt_check(m), LDB_OK);
  mt_unref(m);
}

typedef struct rargs {
  mt *m;
  volatile int stop;
  int bad;
} rargs;

static void *reader(void *p) {
  rargs *r = p;
  while (!r->stop) {
    uint64_t prev_num = 0;
    int first = 1;
    for (mt_node *n = mt_first(r->m); n; n = mt_node_next(n)) {
      size_t kl;
      const uint8_t *k = mt_node_key(n, &kl);
      char buf[32];
      memcpy(buf, k, kl);
      buf[kl] = 0;
      uint64_t num = strtoull(buf, NULL, 10);
      if (!first && num < prev_num) r->bad = 1;
      size_t vl;
      const uint8_t *v = mt_node_val(n, &vl);
      if (vl != 8 || memcmp(v, "12345678", 8) != 0) r->bad = 1;
      first = 0;
      prev_num = num;
    }
  }
  return NULL;
}

static void test_concurrent_readers(void **st) {
  (void)st;
  mt *m;
  assert_int_equal(mt_create(NULL, 65536, &m), LDB_OK);
  rargs r = {m, 0, 0};
  pthread_t th[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, reader, &r);
  const char *q = getenv("LDB_TEST_QUICK");
  int n = q && *q == '1' ? 20000 : 200000;
  uint64_t x = 1;
  for (int i = 0; i < n; i++) {
    x = x * 6364136223846793005ull + 1;
    char k[32];
    /* fixed width so numeric order equals byte order */
    int kl = snprintf(k, sizeof k, "%020llu", (unsigned long long)(x >> 1));
    assert_int_equal(
        mt_add(m, (uint64_t)i + 1, MT_PUT, k, (uint32_t)kl, "12345678", 8),
        LDB_OK);
  }
  r.stop = 1;
  for (int i = 0; i < 2; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(r.bad, 0);
  assert_int_equal(mt_check(m), LDB_OK);
  mt_unref(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_versions),
      cmocka_unit_test(test_same_seq_later_wins),
      cmocka_unit_test(test_random_order),
      cmocka_unit_test(test_chain),
      cmocka_unit_test(test_nomem),
      cmocka_unit_test(test_bloom),
      cmocka_unit_test(test_unindexed_tail),
      cmocka_unit_test(test_tail_only_after_every_key),
      cmocka_unit_test(test_tail_indexing_leaves_room),
      cmocka_unit_test(test_block_pool),
      cmocka_unit_test(test_block_pool_trim),
      cmocka_unit_test(test_concurrent_readers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
