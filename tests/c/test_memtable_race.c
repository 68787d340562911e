/*
 * test_memtable_race.c — lock-free readers of the memtable while its
 * writer ends the unindexed tail (memtable.c, mt_batch_begin).
 *
 * The writer appends sorted batches past the largest key (the unindexed
 * tail: those keys are in neither the filter nor the index, and readers
 * find them by a skip-list search), then writes one key that is no append,
 * so mt_batch_begin indexes the tail: it grows the index (a new table) and
 * then clears `tail`. Readers look up keys that were committed before,
 * with the newest snapshot, and must always find them. A reader that
 * loaded the index pointer before the growth and `tail` after it was
 * cleared probed the old table, which never held the tail's keys: a
 * committed key read as absent (so a get fell through to an older value
 * in the B+tree). Readers are preempted between those
 * two loads now and then; test_lookup_across_tail_indexing stops one
 * there on purpose (a hook in the test's own build of memtable.c).
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
#include "memtable.h"

#define NREADERS 6
#define PER_ROUND 2000

typedef struct shared {
  mt *m;
  _Atomic long committed; /* keys "k%08ld" below this are committed */
  _Atomic int stop;
  _Atomic long bad, reads;
  _Atomic long first_bad;
} shared;

static void *reader(void *p) {
  shared *s = p;
  uint64_t x = (uint64_t)(uintptr_t)&x;
  char k[24];
  while (!atomic_load(&s->stop)) {
    long c = atomic_load_explicit(&s->committed, memory_order_acquire);
    if (!c) continue;
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    /* Mostly the newest keys: the ones the last tail held. */
    long i = (x >> 33) % 4 ? c - 1 - (long)((x >> 20) % PER_ROUND)
                           : (long)((x >> 20) % (uint64_t)c);
    if (i < 0) i = 0;
    int kl = snprintf(k, sizeof k, "k%08ld", i);
    int type = 0;
    const void *v;
    uint32_t vl;
    if (!mt_get(s->m, k, (size_t)kl, UINT64_MAX, &type, &v, &vl) ||
        type != MT_PUT) {
      long none = -1;
      atomic_compare_exchange_strong(&s->first_bad, &none, i);
      atomic_fetch_add(&s->bad, 1);
    }
    atomic_fetch_add_explicit(&s->reads, 1, memory_order_relaxed);
  }
  return NULL;
}

/* The hook the test's own memtable.c calls in every lookup (see
 * CMakeLists.txt): when armed, the first lookup to reach it tells the
 * writer and waits until the writer has ended the tail. */
static _Atomic int hook_armed, hook_reached, hook_release;

void mt_race_hook(void);
void mt_race_hook(void) {
  int one = 1;
  if (!atomic_compare_exchange_strong(&hook_armed, &one, 0)) return;
  atomic_store(&hook_reached, 1);
  while (!atomic_load(&hook_release))
    tu_sleep_ms(1);
}

typedef struct one_get {
  mt *m;
  const char *key;
  int found;
} one_get;

static void *get_once(void *p) {
  one_get *g = p;
  int type = 0;
  const void *v;
  uint32_t vl;
  g->found = mt_get(g->m, g->key, strlen(g->key), UINT64_MAX, &type, &v, &vl) &&
             type == MT_PUT;
  return NULL;
}

/* The interleaving the stress test below needs luck for, forced: a
 * lookup of a key of the unindexed tail stops inside the lookup while the
 * writer indexes the tail (growing the index) and clears it; the lookup
 * must still find the key. */
static void test_lookup_across_tail_indexing(void **st) {
  (void)st;
  mt *m;
  char k[16];
  assert_int_equal(mt_create(NULL, 1 << 20, &m), LDB_OK);
  assert_int_equal(mt_enable_bloom(m, 1 << 16), LDB_OK);
  assert_int_equal(mt_enable_index(m, 32), LDB_OK);
  /* A few indexed keys first (the index stays small), then appends: the
   * tail, in several batches (mt_reserve sizes the index for one batch's
   * keys at a time, not for the tail's), so the index must grow to take
   * it. */
  for (int round = 0; round < 5; round++) {
    int from = round ? 10 + (round - 1) * 500 : 0, to = round ? from + 500 : 10;
    snprintf(k, sizeof k, "k%08d", from);
    mt_batch_begin(m, k, strlen(k), round > 0); /* the first: indexed */
    assert_int_equal(mt_reserve(m, (size_t)(to - from), (size_t)to * 16),
                     LDB_OK);
    for (int j = from; j < to; j++) {
      int kl = snprintf(k, sizeof k, "k%08d", j);
      mt_insert(m, (uint64_t)round + 1, MT_PUT, k, (uint32_t)kl, "v", 1);
    }
  }
  assert_int_equal(mt_unindexed(m), 2000);
  one_get g = {m, "k00001500", 0};
  atomic_store(&hook_reached, 0);
  atomic_store(&hook_release, 0);
  atomic_store(&hook_armed, 1);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, get_once, &g), 0);
  while (!atomic_load(&hook_reached))
    tu_sleep_ms(1);
  /* No append: the tail is indexed, into a grown index, and cleared. */
  mt_batch_begin(m, "a", 1, 1);
  assert_int_equal(mt_reserve(m, 1, 16), LDB_OK);
  mt_insert(m, 3, MT_PUT, "a", 1, "w", 1);
  assert_int_equal(mt_unindexed(m), 0);
  atomic_store(&hook_release, 1);
  pthread_join(th, NULL);
  assert_true(g.found);
  mt_unref(m);
}

static void test_readers_while_tail_is_indexed(void **st) {
  (void)st;
  shared s;
  memset(&s, 0, sizeof s);
  atomic_store(&s.first_bad, -1);
  long rounds = (long)tu_scale(150, 5, 30), next = 0, other = 0;
  uint64_t seq = 1;
  char k[24];
  assert_int_equal(mt_create(NULL, 1 << 20, &s.m), LDB_OK);
  assert_int_equal(mt_enable_bloom(s.m, 1 << 16), LDB_OK);
  assert_int_equal(mt_enable_index(s.m, 32), LDB_OK);
  pthread_t th[NREADERS];
  for (int i = 0; i < NREADERS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, reader, &s), 0);
  for (long r = 0; r < rounds && !atomic_load(&s.bad); r++) {
    /* Appends: past every key, ascending, in four batches (so ending the
     * tail grows the index, see above). */
    for (int b = 0; b < 4; b++) {
      snprintf(k, sizeof k, "k%08ld", next);
      mt_batch_begin(s.m, k, strlen(k), 1);
      assert_int_equal(mt_reserve(s.m, PER_ROUND / 4, PER_ROUND * 4), LDB_OK);
      for (int j = 0; j < PER_ROUND / 4; j++, next++) {
        int kl = snprintf(k, sizeof k, "k%08ld", next);
        mt_insert(s.m, seq, MT_PUT, k, (uint32_t)kl, "v", 1);
      }
      seq++;
      atomic_store_explicit(&s.committed, next, memory_order_release);
    }
    /* No append: indexes the tail (growing the index) before it. */
    int kl = snprintf(k, sizeof k, "a%08ld", other++);
    mt_batch_begin(s.m, k, (size_t)kl, 1);
    assert_int_equal(mt_reserve(s.m, 1, 16), LDB_OK);
    mt_insert(s.m, seq++, MT_PUT, k, (uint32_t)kl, "w", 1);
  }
  atomic_store(&s.stop, 1);
  for (int i = 0; i < NREADERS; i++)
    pthread_join(th[i], NULL);
  printf("%ld reads, %ld found a committed key absent (first k%08ld)\n",
         atomic_load(&s.reads), atomic_load(&s.bad), atomic_load(&s.first_bad));
  assert_int_equal(atomic_load(&s.bad), 0);
  assert_int_equal(mt_check(s.m), LDB_OK);
  mt_unref(s.m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lookup_across_tail_indexing),
      cmocka_unit_test(test_readers_while_tail_is_indexed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
