/*
 * test_pager.c — the page cache and page I/O (pager.h): hits, misses and
 * eviction under the byte budget, ARC behaviour (scan resistance, ghost
 * hits adapting the target), lending the unused budget (pager_borrow),
 * pinned pages surviving pressure, checksum
 * mismatches / misdirected writes / short reads as LDB_CORRUPT naming the
 * page, every page size, cache coherence on writes, and many threads; and
 * the residency sample of reads through the mapping (posix store): a page
 * dropped from the OS page cache counts as a fault, the same page read
 * again as resident.
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
#include "pager.h"
#include "store.h"

#ifndef _WIN32
#include <fcntl.h>
#include <sys/vfs.h>
#include <unistd.h>
#endif

typedef struct fixture {
  ldb_store *s;
  ldb_file *file;
  pager *p;
  uint32_t ps;
} fixture;

/* Page images: byte i of page n is (n * 31 + i) & 0xff after the crc. */
static void fill_page(uint8_t *pg, uint32_t ps, uint64_t n) {
  for (uint32_t i = 4; i < ps; i++)
    pg[i] = (uint8_t)(n * 31 + i);
}

static void check_page_image(const uint8_t *pg, uint32_t ps, uint64_t n) {
  for (uint32_t i = 4; i < ps; i += 97)
    assert_int_equal(pg[i], (uint8_t)(n * 31 + i));
}

static void setup_fx(fixture *fx, uint32_t ps, uint64_t cache_pages,
                     uint64_t npages) {
  memset(fx, 0, sizeof *fx);
  fx->ps = ps;
  assert_int_equal(ldb_store_memory(&fx->s), LDB_OK);
  assert_int_equal(ldb_fopen(fx->s, "data.ldb", LDB_STORE_CREATE, &fx->file),
                   LDB_OK);
  assert_int_equal(pager_open(fx->file, ps, cache_pages * ps, 0, NULL, &fx->p),
                   LDB_OK);
  uint8_t *pg = malloc(ps);
  for (uint64_t n = 0; n < npages; n++) {
    fill_page(pg, ps, n);
    assert_int_equal(pager_write(fx->p, n, pg, false), LDB_OK);
  }
  free(pg);
}

static void teardown_fx(fixture *fx) {
  pager_close(fx->p);
  ldb_fclose(fx->file);
  ldb_store_destroy(fx->s);
}

static void get_check(fixture *fx, uint64_t n) {
  const uint8_t *d;
  pg_ent *e;
  int rc = pager_get(fx->p, n, &d, &e);
  if (rc)
    print_error("pager_get(%llu): %s\n", (unsigned long long)n, ldb_err_get());
  assert_int_equal(rc, LDB_OK);
  check_page_image(d, fx->ps, n);
  pager_unpin(fx->p, e);
}

static void test_hit_miss_and_budget(void **st) {
  (void)st;
  fixture fx;
  setup_fx(&fx, 4096, 16, 200);
  pager_stats s0, s1;
  pager_stats_get(fx.p, &s0);
  assert_int_equal(s0.cache_capacity, 16 * 4096);
  assert_int_equal(s0.cache_bytes, 0);
  get_check(&fx, 5);
  get_check(&fx, 5);
  get_check(&fx, 6);
  pager_stats_get(fx.p, &s1);
  assert_int_equal(s1.misses - s0.misses, 2);
  assert_int_equal(s1.hits - s0.hits, 1);
  assert_int_equal(s1.bytes_read - s0.bytes_read, 2 * 4096);
  for (uint64_t n = 0; n < 200; n++)
    get_check(&fx, n);
  pager_stats_get(fx.p, &s1);
  assert_true(s1.cache_bytes <= s1.cache_capacity);
  assert_true(s1.evictions >= 200 - 16);
  /* a budget below 16 pages still gets 16 */
  teardown_fx(&fx);
  setup_fx(&fx, 512, 1, 4);
  pager_stats_get(fx.p, &s0);
  assert_int_equal(s0.cache_capacity, 16 * 512);
  teardown_fx(&fx);
}

/* One budget (pager_borrow): only the budget the cache does not use is
 * lent, the cache then stays within the budget less the loan (evicting to
 * stay there), a full cache lends nothing, and a repaid loan is the
 * cache's again. */
static void test_borrow(void **st) {
  (void)st;
  fixture fx;
  setup_fx(&fx, 4096, 64, 200);
  pager_stats s;
  for (uint64_t n = 0; n < 10; n++)
    get_check(&fx, n);
  /* 10 pages used: 54 of 64 are spare; a part-page is rounded up. */
  assert_int_equal(pager_borrow(fx.p, 20 * 4096 + 1), 21 * 4096);
  pager_stats_get(fx.p, &s);
  assert_int_equal(s.cache_capacity - s.cache_lent, 43 * 4096);
  assert_int_equal(s.cache_lent, 21 * 4096);
  /* The cache keeps at least 16 pages, used or not. */
  assert_int_equal(pager_borrow(fx.p, 100 * 4096), 27 * 4096);
  assert_int_equal(pager_borrow(fx.p, 4096), 0);
  pager_stats_get(fx.p, &s);
  assert_int_equal(s.cache_capacity - s.cache_lent, 16 * 4096);
  /* The cache stays within what is left, evicting as it reads. */
  for (uint64_t n = 0; n < 200; n++)
    get_check(&fx, n);
  pager_stats_get(fx.p, &s);
  assert_true(s.cache_bytes <= 16 * 4096);
  assert_true(s.cache_bytes + s.cache_lent <= 64 * 4096);
  /* Repaid in part, the cache grows into it and fills it (a hot set read
   * twice): then there is nothing to lend, however much is asked. */
  pager_repay(fx.p, 30 * 4096);
  for (int pass = 0; pass < 2; pass++)
    for (uint64_t n = 100; n < 146; n++)
      get_check(&fx, n);
  pager_stats_get(fx.p, &s);
  assert_int_equal(s.cache_capacity - s.cache_lent, 46 * 4096);
  assert_int_equal(s.cache_bytes, 46 * 4096);
  assert_int_equal(pager_borrow(fx.p, 64 * 4096), 0);
  /* Repaying more than is lent repays what is lent. */
  pager_repay(fx.p, 1000 * 4096);
  pager_stats_get(fx.p, &s);
  assert_int_equal(s.cache_lent, 0);
  assert_int_equal(s.cache_capacity, 64 * 4096);
  teardown_fx(&fx);
}

/* A hot set touched twice lives in T2 and survives a long one-time scan
 * (which only churns T1); a page evicted from T1 comes back as a ghost hit
 * into T2 and grows the T1 target. */
static void test_arc_behaviour(void **st) {
  (void)st;
  fixture fx;
  setup_fx(&fx, 512, 32, 400);
  for (int rep = 0; rep < 2; rep++)
    for (uint64_t n = 2; n < 12; n++)
      get_check(&fx, n);
  for (uint64_t n = 2; n < 12; n++)
    assert_int_equal(pager_debug_list(fx.p, n), 2 /* T2 */);
  for (uint64_t n = 100; n < 400; n++)
    get_check(&fx, n);
  pager_stats s0, s1;
  pager_stats_get(fx.p, &s0);
  for (uint64_t n = 2; n < 12; n++)
    get_check(&fx, n);
  pager_stats_get(fx.p, &s1);
  assert_int_equal(s1.hits - s0.hits, 10); /* the scan did not flush them */
  assert_int_equal(s1.misses, s0.misses);
  /* recently scanned pages: the newest are resident in T1, older ones
   * are ghosts in B1 */
  assert_int_equal(pager_debug_list(fx.p, 399), 1 /* T1 */);
  int ghost = 0;
  uint64_t gpg = 0;
  for (uint64_t n = 399; n >= 100 && !ghost; n--)
    if (pager_debug_list(fx.p, n) == 3 /* B1 */) ghost = 1, gpg = n;
  assert_true(ghost);
  uint64_t before = pager_debug_target(fx.p);
  get_check(&fx, gpg);
  assert_int_equal(pager_debug_list(fx.p, gpg), 2 /* T2 */);
  assert_true(pager_debug_target(fx.p) > before);
  pager_stats_get(fx.p, &s1);
  assert_true(s1.cache_bytes <= s1.cache_capacity);
  teardown_fx(&fx);
}

/* Pinned pages are never evicted or changed, even when more pages are
 * pinned than the budget allows; the cache shrinks back once unpinned. */
static void test_pins(void **st) {
  (void)st;
  fixture fx;
  setup_fx(&fx, 1024, 16, 300);
  const uint8_t *d[40];
  pg_ent *e[40];
  for (int i = 0; i < 40; i++)
    assert_int_equal(pager_get(fx.p, (uint64_t)i + 10, &d[i], &e[i]), LDB_OK);
  for (uint64_t n = 100; n < 300; n++)
    get_check(&fx, n);
  for (int i = 0; i < 40; i++)
    check_page_image(d[i], 1024, (uint64_t)i + 10);
  pager_stats s;
  pager_stats_get(fx.p, &s);
  assert_true(s.cache_bytes >= 40 * 1024); /* over budget while pinned */
  for (int i = 0; i < 40; i++)
    pager_unpin(fx.p, e[i]);
  for (uint64_t n = 100; n < 140; n++)
    get_check(&fx, n);
  pager_stats_get(fx.p, &s);
  assert_true(s.cache_bytes <= s.cache_capacity);
  /* forgetting a pinned page keeps its image valid until unpinned */
  const uint8_t *pd;
  pg_ent *pe;
  assert_int_equal(pager_get(fx.p, 7, &pd, &pe), LDB_OK);
  pager_forget(fx.p, 7);
  check_page_image(pd, 1024, 7);
  assert_int_equal(pager_debug_list(fx.p, 7), 0);
  pager_unpin(fx.p, pe);
  get_check(&fx, 7);
  teardown_fx(&fx);
}

/* Writes replace cached images: no stale page is ever served. */
static void test_write_coherence(void **st) {
  (void)st;
  fixture fx;
  setup_fx(&fx, 4096, 16, 10);
  get_check(&fx, 3);
  uint8_t *pg = malloc(4096);
  fill_page(pg, 4096, 77); /* new content for page 3 */
  assert_int_equal(pager_write(fx.p, 3, pg, true), LDB_OK);
  const uint8_t *d;
  pg_ent *e;
  assert_int_equal(pager_get(fx.p, 3, &d, &e), LDB_OK);
  check_page_image(d, 4096, 77);
  pager_unpin(fx.p, e);
  fill_page(pg, 4096, 78);
  assert_int_equal(pager_write(fx.p, 3, pg, false), LDB_OK);
  assert_int_equal(pager_get(fx.p, 3, &d, &e), LDB_OK);
  check_page_image(d, 4096, 78);
  pager_unpin(fx.p, e);
  /* direct reads verify too */
  assert_int_equal(pager_read_direct(fx.p, 3, pg), LDB_OK);
  check_page_image(pg, 4096, 78);
  pager_stats s;
  pager_stats_get(fx.p, &s);
  assert_int_equal(s.bytes_written, 12 * 4096);
  assert_int_equal(pager_sync(fx.p), LDB_OK);
  pager_stats_get(fx.p, &s);
  assert_int_equal(s.syncs, 1);
  free(pg);
  teardown_fx(&fx);
}

static void expect_corrupt(fixture *fx, uint64_t n) {
  const uint8_t *d;
  pg_ent *e = NULL;
  assert_int_equal(pager_get(fx->p, n, &d, &e), LDB_CORRUPT);
  char want[32];
  snprintf(want, sizeof want, "page %llu", (unsigned long long)n);
  assert_non_null(strstr(ldb_err_get(), want));
  uint8_t *buf = malloc(fx->ps);
  assert_int_equal(pager_read_direct(fx->p, n, buf), LDB_CORRUPT);
  free(buf);
}

static void test_checksums(void **st) {
  (void)st;
  fixture fx;
  setup_fx(&fx, 512, 16, 20);
  tu_rng r;
  tu_rng_init(&r, tu_seed("pager_checksums"));
  /* a flipped bit anywhere in the page, including the crc itself */
  for (uint64_t n = 2; n < 12; n++) {
    uint8_t b;
    uint64_t off = n * 512 + tu_below(&r, 512);
    assert_int_equal(ldb_fread_full(fx.file, off, &b, 1), LDB_OK);
    b ^= (uint8_t)(1u << tu_below(&r, 8));
    assert_int_equal(ldb_fwrite(fx.file, off, &b, 1), LDB_OK);
    expect_corrupt(&fx, n);
  }
  /* a misdirected write: page 12's image stored at page 13 */
  uint8_t pg[512];
  assert_int_equal(ldb_fread_full(fx.file, 12 * 512, pg, 512), LDB_OK);
  assert_int_equal(ldb_fwrite(fx.file, 13 * 512, pg, 512), LDB_OK);
  expect_corrupt(&fx, 13);
  get_check(&fx, 12);
  /* short read past the end */
  expect_corrupt(&fx, 20);
  assert_int_equal(ldb_fwrite(fx.file, 21 * 512, pg, 100), LDB_OK);
  expect_corrupt(&fx, 21);
  /* seal/verify */
  fill_page(pg, 512, 3);
  pager_seal(pg, 512, 3);
  assert_true(pager_verify(pg, 512, 3));
  assert_false(pager_verify(pg, 512, 4));
  teardown_fx(&fx);
}

static void test_page_sizes(void **st) {
  (void)st;
  for (uint32_t ps = 512; ps <= 65536; ps <<= 1) {
    fixture fx;
    setup_fx(&fx, ps, 16, 24);
    for (uint64_t n = 0; n < 24; n++)
      get_check(&fx, n);
    for (uint64_t n = 0; n < 24; n++)
      get_check(&fx, n);
    teardown_fx(&fx);
  }
  ldb_store *s;
  ldb_file *file;
  pager *p = NULL;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  assert_int_equal(ldb_fopen(s, "data.ldb", LDB_STORE_CREATE, &file), LDB_OK);
  static const uint32_t bad[] = {0, 256, 1000, 4095, 131072};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(pager_open(file, bad[i], 1 << 20, 0, NULL, &p),
                     LDB_INVALID);
    assert_null(p);
  }
  ldb_fclose(file);
  ldb_store_destroy(s);
}

/* Allocation failures surface as LDB_NOMEM and leak nothing. */
static void test_nomem(void **st) {
  (void)st;
  ldb_store *s;
  ldb_file *file;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  assert_int_equal(ldb_fopen(s, "data.ldb", LDB_STORE_CREATE, &file), LDB_OK);
  tu_alloc ta;
  tu_alloc_init(&ta);
  pager *p = NULL;
  for (uint64_t nth = 1; nth <= 2; nth++) {
    tu_alloc_fail_nth(&ta, nth, 0);
    assert_int_equal(pager_open(file, 512, 1 << 16, 0, &ta.a, &p), LDB_NOMEM);
  }
  tu_alloc_fail_nth(&ta, 0, 0);
  assert_int_equal(pager_open(file, 512, 1 << 16, 0, &ta.a, &p), LDB_OK);
  uint8_t pg[512];
  fill_page(pg, 512, 2);
  assert_int_equal(pager_write(p, 2, pg, false), LDB_OK);
  const uint8_t *d;
  pg_ent *e;
  tu_alloc_fail_nth(&ta, 1, 0);
  assert_int_equal(pager_get(p, 2, &d, &e), LDB_NOMEM);
  tu_alloc_fail_nth(&ta, 2, 0);
  assert_int_equal(pager_get(p, 2, &d, &e), LDB_NOMEM);
  tu_alloc_fail_nth(&ta, 0, 0);
  assert_int_equal(pager_get(p, 2, &d, &e), LDB_OK);
  check_page_image(d, 512, 2);
  pager_unpin(p, e);
  pager_close(p);
  assert_int_equal(tu_alloc_live(&ta), 0);
  ldb_fclose(file);
  ldb_store_destroy(s);
}

typedef struct thr_arg {
  fixture *fx;
  uint64_t seed;
  int errors;
} thr_arg;

static void *thr_main(void *p) {
  thr_arg *a = p;
  tu_rng r;
  tu_rng_init(&r, a->seed);
  int iters = (int)tu_scale(200000, 10, 5000);
  for (int i = 0; i < iters; i++) {
    uint64_t n = tu_chance(&r, 70) ? tu_below(&r, 20) : tu_below(&r, 500);
    const uint8_t *d;
    pg_ent *e;
    if (pager_get(a->fx->p, n, &d, &e) != LDB_OK) {
      a->errors++;
      continue;
    }
    for (uint32_t j = 4; j < a->fx->ps; j += 131)
      if (d[j] != (uint8_t)(n * 31 + j)) a->errors++;
    pager_unpin(a->fx->p, e);
  }
  return NULL;
}

static void test_threads(void **st) {
  (void)st;
  if (!ldb_threads_available()) skip();
  fixture fx;
  setup_fx(&fx, 512, 64, 500);
  ldb_thread th[4];
  thr_arg args[4];
  for (int i = 0; i < 4; i++) {
    args[i].fx = &fx;
    args[i].seed = (uint64_t)i + 1;
    args[i].errors = 0;
    assert_int_equal(ldb_thread_start(&th[i], thr_main, &args[i]), LDB_OK);
  }
  /* a writer replacing pages the readers do not read, at the same time */
  uint8_t pg[512];
  for (int i = 0; i < 2000; i++) {
    uint64_t n = 500 + (uint64_t)(i % 50);
    fill_page(pg, 512, n);
    assert_int_equal(pager_write(fx.p, n, pg, i % 2), LDB_OK);
  }
  for (int i = 0; i < 4; i++) {
    ldb_thread_join(th[i]);
    assert_int_equal(args[i].errors, 0);
  }
  pager_stats s;
  pager_stats_get(fx.p, &s);
  assert_true(s.hits > 0 && s.misses > 0 && s.evictions > 0);
  assert_true(s.cache_bytes <= s.cache_capacity);
  teardown_fx(&fx);
}

#ifndef _WIN32
/* Reads through the mapping of a posix file: with a sample of every read,
 * a page the OS page cache dropped (posix_fadvise DONTNEED on the synced,
 * never-mapped-in file) counts as a fault and, read again, as resident;
 * with 1 in 4, a quarter of the reads are sampled. */
static void test_map_residency(void **st) {
  (void)st;
  char *dir = tu_tmpdir("pager-resident");
  ldb_store *s = NULL;
  ldb_file *file = NULL;
  pager *p = NULL;
  const uint32_t ps = 4096;
  assert_int_equal(ldb_store_posix(dir, 1, &s), LDB_OK);
  assert_int_equal(ldb_fopen(s, "data.ldb", LDB_STORE_CREATE, &file), LDB_OK);
  assert_int_equal(pager_open(file, ps, 64 * ps, 1 << 20, NULL, &p), LDB_OK);
  uint8_t pg[4096];
  for (uint64_t n = 0; n < 32; n++) {
    fill_page(pg, ps, n);
    assert_int_equal(pager_write(p, n, pg, false), LDB_OK);
  }
  assert_int_equal(pager_sync(p), LDB_OK);
  pager_stats ps0;
  pager_stats_get(p, &ps0);
  assert_int_equal(ps0.map_bytes, 1 << 20);
  assert_int_equal(ps0.map_resident + ps0.map_nonresident, 0);

  /* tmpfs keeps every page in memory: DONTNEED drops nothing there. */
  char path[4200];
  snprintf(path, sizeof path, "%s/data.ldb", dir);
  struct statfs sf;
  assert_int_equal(statfs(dir, &sf), 0);
  int droppable = sf.f_type != 0x01021994; /* TMPFS_MAGIC */
  int fd = open(path, O_RDONLY);
  assert_true(fd >= 0);
  assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
  close(fd);

  pager_debug_sample_every(p, 1);
  const uint8_t *d;
  pg_ent *e;
  assert_int_equal(pager_get(p, 5, &d, &e), LDB_OK);
  assert_null(e); /* served by the mapping */
  check_page_image(d, ps, 5);
  pager_stats_get(p, &ps0);
  if (droppable) {
    assert_int_equal(ps0.map_nonresident, 1);
    assert_int_equal(ps0.map_resident, 0);
  } else {
    print_message("tmpfs: the dropped-page case is not testable here\n");
    assert_int_equal(ps0.map_resident + ps0.map_nonresident, 1);
  }
  assert_int_equal(pager_get(p, 5, &d, &e), LDB_OK);
  pager_stats s1;
  pager_stats_get(p, &s1);
  assert_int_equal(s1.map_resident, ps0.map_resident + 1);
  assert_int_equal(s1.map_nonresident, ps0.map_nonresident);

  pager_debug_sample_every(p, 4);
  for (int i = 0; i < 8; i++)
    assert_int_equal(pager_get(p, 5, &d, &e), LDB_OK);
  pager_stats s2;
  pager_stats_get(p, &s2);
  assert_int_equal(s2.map_resident, s1.map_resident + 2);
  assert_int_equal(s2.map_nonresident, s1.map_nonresident);
  /* The cache saw none of these reads. */
  assert_int_equal(s2.hits + s2.misses, 0);
  pager_close(p);
  ldb_fclose(file);
  ldb_store_destroy(s);
  tu_rmrf(dir);
  free(dir);
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hit_miss_and_budget),
      cmocka_unit_test(test_borrow),
      cmocka_unit_test(test_arc_behaviour),
      cmocka_unit_test(test_pins),
      cmocka_unit_test(test_write_coherence),
      cmocka_unit_test(test_checksums),
      cmocka_unit_test(test_page_sizes),
      cmocka_unit_test(test_nomem),
      cmocka_unit_test(test_threads),
#ifndef _WIN32
      cmocka_unit_test(test_map_residency),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
