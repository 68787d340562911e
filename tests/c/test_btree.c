/*
 * test_btree.c — the copy-on-write B+tree and the data file (btree.h):
 * randomized puts/deletes against a reference model with cursors in both
 * directions and seeks, on page sizes 512/4096/16384 and every codec;
 * overflow keys and values up to several MiB; reopen; free-page reuse;
 * old versions staying readable; bt_check passing and catching damage;
 * merge abort, commit failures (I/O error, disk full) and simulated
 * crashes during a commit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "btree.h"
#include "helpers/store_faulty.h"
#include "helpers/testutil.h"
#include "pager.h"

static bt_file *open_bt(ldb_store *s, uint32_t ps, int codec, int create,
                        int *created_out) {
  bt_config cfg = {0};
  cfg.page_size = ps;
  cfg.cache_size = 4u << 20;
  cfg.compression = codec;
  cfg.compression_level = 0;
  cfg.create = create;
  bt_file *f = NULL;
  int created = 0;
  int rc = bt_open(s, &cfg, &f, &created);
  if (rc != LDB_OK) {
    print_error("bt_open: %d %s\n", rc, ldb_err_get());
    fail();
  }
  if (created_out) *created_out = created;
  return f;
}

static void check_ok(bt_file *f) {
  int rc = bt_check(f);
  if (rc != LDB_OK) print_error("bt_check: %s\n", ldb_err_get());
  assert_int_equal(rc, LDB_OK);
}

/* bt_check reports a damaged (or never completed) meta slot by number. */
static void check_meta_damaged(bt_file *f, int slot) {
  char want[32];
  snprintf(want, sizeof want, "meta page %d", slot);
  assert_int_equal(bt_check(f), LDB_CORRUPT);
  if (!strstr(ldb_err_get(), want))
    print_error("bt_check: %s (wanted %s)\n", ldb_err_get(), want);
  assert_non_null(strstr(ldb_err_get(), want));
}

/* Deterministic value bytes for (key, version): compressible when asked. */
static void make_val(tu_rng *r, uint8_t *buf, size_t n, int compressible) {
  if (compressible) {
    uint8_t b = (uint8_t)tu_next(r);
    for (size_t i = 0; i < n; i++)
      buf[i] = (uint8_t)(b + (i / 16) % 4);
  } else {
    tu_fill(r, buf, n);
  }
}

/* Compares the whole tree with the model: count, gets, both directions of
 * iteration and random seeks. */
static void compare(bt_file *f, tu_model *m, tu_rng *r, int probes) {
  bt_tree *t = bt_current(f);
  size_t n = tu_model_count(m);
  assert_int_equal(bt_tree_count(t), n);
  bt_cursor *c;
  assert_int_equal(bt_cursor_open(t, &c), LDB_OK);
  size_t i = 0;
  int rc = bt_cursor_first(c);
  while (rc == LDB_OK) {
    const void *k, *v, *mk, *mv;
    size_t kl, vl, mkl, mvl;
    assert_true(i < n);
    tu_model_at(m, i, &mk, &mkl, &mv, &mvl);
    assert_int_equal(bt_cursor_key(c, &k, &kl), LDB_OK);
    assert_int_equal(kl, mkl);
    assert_memory_equal(k, mk, kl);
    assert_int_equal(bt_cursor_value(c, &v, &vl), LDB_OK);
    assert_int_equal(vl, mvl);
    if (vl) assert_memory_equal(v, mv, vl);
    i++;
    rc = bt_cursor_next(c);
  }
  assert_int_equal(rc, LDB_NOTFOUND);
  assert_int_equal(i, n);
  rc = bt_cursor_last(c);
  while (rc == LDB_OK) {
    const void *k, *mk, *mv;
    size_t kl, mkl, mvl;
    assert_true(i > 0);
    i--;
    tu_model_at(m, i, &mk, &mkl, &mv, &mvl);
    assert_int_equal(bt_cursor_key(c, &k, &kl), LDB_OK);
    assert_int_equal(kl, mkl);
    assert_memory_equal(k, mk, kl);
    rc = bt_cursor_prev(c);
  }
  assert_int_equal(rc, LDB_NOTFOUND);
  assert_int_equal(i, 0);
  /* seeks and gets at random probes (present keys and gaps) */
  uint8_t key[40];
  uint8_t *vbuf = malloc(1 << 20);
  for (int p = 0; p < probes; p++) {
    const void *k, *mk, *mv;
    size_t kl, mkl, mvl;
    size_t pl;
    if (n && tu_chance(r, 50)) {
      tu_model_at(m, tu_below(r, n), &mk, &mkl, &mv, &mvl);
      pl = mkl < sizeof key ? mkl : sizeof key;
      memcpy(key, mk, pl);
      if (mkl <= sizeof key && tu_chance(r, 30)) key[pl - 1] ^= 1;
    } else {
      pl = 1 + tu_below(r, 6);
      tu_fill(r, key, pl);
    }
    size_t lo = tu_model_lower(m, key, pl);
    rc = bt_cursor_seek_ge(c, key, pl);
    if (lo == n) {
      assert_int_equal(rc, LDB_NOTFOUND);
    } else {
      assert_int_equal(rc, LDB_OK);
      tu_model_at(m, lo, &mk, &mkl, &mv, &mvl);
      assert_int_equal(bt_cursor_key(c, &k, &kl), LDB_OK);
      assert_int_equal(kl, mkl);
      assert_memory_equal(k, mk, kl);
      if (lo > 0) {
        assert_int_equal(bt_cursor_prev(c), LDB_OK);
        tu_model_at(m, lo - 1, &mk, &mkl, &mv, &mvl);
        assert_int_equal(bt_cursor_key(c, &k, &kl), LDB_OK);
        assert_int_equal(kl, mkl);
        assert_memory_equal(k, mk, kl);
      }
    }
    /* seek_le: last key <= probe */
    /* le = number of keys <= probe */
    size_t le = lo;
    if (lo < n) {
      tu_model_at(m, lo, &mk, &mkl, &mv, &mvl);
      if (tu_keycmp(mk, mkl, key, pl) == 0) le = lo + 1;
    }
    rc = bt_cursor_seek_le(c, key, pl);
    if (le == 0) {
      assert_int_equal(rc, LDB_NOTFOUND);
    } else {
      assert_int_equal(rc, LDB_OK);
      tu_model_at(m, le - 1, &mk, &mkl, &mv, &mvl);
      assert_int_equal(bt_cursor_key(c, &k, &kl), LDB_OK);
      assert_int_equal(kl, mkl);
      assert_memory_equal(k, mk, kl);
      if (le < n) {
        assert_int_equal(bt_cursor_next(c), LDB_OK);
        tu_model_at(m, le, &mk, &mkl, &mv, &mvl);
        assert_int_equal(bt_cursor_key(c, &k, &kl), LDB_OK);
        assert_memory_equal(k, mk, kl);
      }
    }
    /* point lookup */
    const void *gv;
    size_t gl;
    int present = tu_model_get(m, key, pl, &gv, &gl);
    size_t len = 0;
    rc = bt_get(t, key, pl, vbuf, 1 << 20, &len);
    if (!present) {
      assert_int_equal(rc, LDB_NOTFOUND);
    } else {
      assert_int_equal(rc, LDB_OK);
      assert_int_equal(len, gl);
      if (gl <= (1 << 20) && gl) assert_memory_equal(vbuf, gv, gl);
    }
  }
  free(vbuf);
  bt_cursor_close(c);
  bt_tree_release(t);
}

/* One randomized run: rounds of merges of random puts/deletes. */
static void random_run(uint32_t ps, int codec, uint64_t seed) {
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  int created;
  bt_file *f = open_bt(s, ps, codec, 1, &created);
  assert_int_equal(created, 1);
  assert_int_equal(bt_page_size(f), ps);
  tu_model *m = tu_model_new();
  tu_rng r;
  tu_rng_init(&r, seed);
  int rounds = (int)tu_scale(12, 3, 4);
  int ops = (int)tu_scale(1500, 5, 200);
  uint8_t *val = malloc(300000);
  uint8_t key[LDB_MAX_KEY_SIZE];
  for (int round = 0; round < rounds; round++) {
    bt_merge *mg;
    assert_int_equal(bt_merge_begin(f, &mg), LDB_OK);
    int del_pct = round % 3 == 2 ? 70 : 25;
    for (int i = 0; i < ops; i++) {
      size_t kl;
      if (tu_model_count(m) && tu_chance(&r, 40)) {
        const void *mk, *mv;
        size_t mvl;
        tu_model_at(m, tu_below(&r, tu_model_count(m)), &mk, &kl, &mv, &mvl);
        memcpy(key, mk, kl);
      } else {
        kl = tu_chance(&r, 3) ? 100 + tu_below(&r, LDB_MAX_KEY_SIZE - 99)
                              : 1 + tu_below(&r, 24);
        tu_fill(&r, key, kl);
        key[0] = (uint8_t)('a' + tu_below(&r, 8)); /* clusters */
      }
      if (tu_chance(&r, del_pct)) {
        assert_int_equal(bt_merge_delete(mg, key, kl), LDB_OK);
        tu_model_del(m, key, kl);
      } else {
        size_t vl = tu_chance(&r, 2)    ? 5000 + tu_below(&r, 290000)
                    : tu_chance(&r, 10) ? 0
                                        : tu_below(&r, 400);
        make_val(&r, val, vl, tu_chance(&r, 50));
        assert_int_equal(bt_merge_put(mg, key, kl, val, vl), LDB_OK);
        tu_model_put(m, key, kl, val, vl);
      }
    }
    int rc = bt_merge_commit(mg, round + 1);
    if (rc) print_error("commit: %s\n", ldb_err_get());
    assert_int_equal(rc, LDB_OK);
    check_ok(f);
    compare(f, m, &r, 200);
  }
  bt_tree *t = bt_current(f);
  assert_int_equal(bt_tree_seq(t), (uint64_t)rounds);
  bt_tree_release(t);
  bt_close(f);
  /* reopen: same content, check passes */
  f = open_bt(s, 4096, codec, 0, &created);
  assert_int_equal(created, 0);
  assert_int_equal(bt_page_size(f), ps);
  check_ok(f);
  compare(f, m, &r, 200);
  /* delete everything: the tree becomes empty and every page free */
  bt_merge *mg;
  assert_int_equal(bt_merge_begin(f, &mg), LDB_OK);
  while (tu_model_count(m)) {
    const void *mk, *mv;
    size_t kl, mvl;
    tu_model_at(m, 0, &mk, &kl, &mv, &mvl);
    memcpy(key, mk, kl);
    assert_int_equal(bt_merge_delete(mg, key, kl), LDB_OK);
    tu_model_del(m, key, kl);
  }
  assert_int_equal(bt_merge_commit(mg, 99), LDB_OK);
  check_ok(f);
  compare(f, m, &r, 20);
  bt_close(f);
  free(val);
  tu_model_free(m);
  ldb_store_destroy(s);
}

#define RANDOM_TEST(ps, codec, name)                                           \
  static void test_random_##ps##_##name(void **st) {                           \
    (void)st;                                                                  \
    random_run(ps, codec, tu_seed("random_" #ps "_" #name));                   \
  }
RANDOM_TEST(512, LDB_COMPRESSION_NONE, none)
RANDOM_TEST(512, LDB_COMPRESSION_LZ4, lz4)
RANDOM_TEST(512, LDB_COMPRESSION_ZSTD, zstd)
RANDOM_TEST(4096, LDB_COMPRESSION_NONE, none)
RANDOM_TEST(4096, LDB_COMPRESSION_LZ4, lz4)
RANDOM_TEST(4096, LDB_COMPRESSION_ZSTD, zstd)
RANDOM_TEST(16384, LDB_COMPRESSION_NONE, none)
RANDOM_TEST(16384, LDB_COMPRESSION_LZ4, lz4)
RANDOM_TEST(16384, LDB_COMPRESSION_ZSTD, zstd)

/* ---- helpers for the targeted tests ------------------------------------ */

static void fmt_key(uint8_t *k, size_t *kl, uint64_t i) {
  *kl = (size_t)snprintf((char *)k, 32, "key%010llu", (unsigned long long)i);
}

/* When non-zero, put_range gives every g_big_every-th key a BIG_VLEN
 * value (overflow pages). */
static uint64_t g_big_every;
#define BIG_VLEN 6000

/* Puts keys [0,n) with value "v<ver>-<i>" padded to vlen bytes. */
static void put_range(bt_file *f, tu_model *m, uint64_t n, int ver, size_t vlen,
                      uint64_t seq) {
  bt_merge *mg;
  assert_int_equal(bt_merge_begin(f, &mg), LDB_OK);
  uint8_t k[32], v[BIG_VLEN];
  size_t kl;
  for (uint64_t i = 0; i < n; i++) {
    fmt_key(k, &kl, i);
    memset(v, 'x', sizeof v);
    snprintf((char *)v, sizeof v, "v%d-%llu", ver, (unsigned long long)i);
    size_t vl = g_big_every && i % g_big_every == 0 ? BIG_VLEN : vlen;
    assert_int_equal(bt_merge_put(mg, k, kl, v, vl), LDB_OK);
    if (m) tu_model_put(m, k, kl, v, vl);
  }
  int rc = bt_merge_commit(mg, seq);
  if (rc) print_error("commit: %s\n", ldb_err_get());
  assert_int_equal(rc, LDB_OK);
}

static uint64_t file_pages(bt_file *f) {
  bt_stats st;
  bt_stats_get(f, &st);
  return st.page_count;
}

/* Overwriting the same keys again and again reuses freed pages, also
 * across a reopen. */
static void test_free_page_reuse(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  bt_file *f = open_bt(s, 4096, LDB_COMPRESSION_NONE, 1, NULL);
  uint64_t n = tu_scale(10000, 5, 1000);
  int rounds = (int)tu_scale(50, 3, 10);
  put_range(f, NULL, n, 0, 100, 1);
  uint64_t first = file_pages(f);
  for (int r = 1; r <= rounds; r++) {
    put_range(f, NULL, n, r, 100, (uint64_t)r + 1);
    if (r == rounds / 2) {
      bt_close(f);
      f = open_bt(s, 4096, LDB_COMPRESSION_NONE, 0, NULL);
    }
  }
  uint64_t last = file_pages(f);
  print_message("free reuse: %llu pages after the load, %llu after %d "
                "overwrites\n",
                (unsigned long long)first, (unsigned long long)last, rounds);
  assert_true(last < 3 * first);
  ldb_file *df;
  uint64_t size;
  assert_int_equal(ldb_fopen(s, "data.ldb", 0, &df), LDB_OK);
  assert_int_equal(ldb_fsize(df, &size), LDB_OK);
  ldb_fclose(df);
  assert_true(size < 3 * first * 4096);
  check_ok(f);
  bt_close(f);
  ldb_store_destroy(s);
}

/* A reader holding an old version keeps seeing it while merges rewrite
 * and delete everything; its pages are not reused until it lets go. */
static void test_old_version_stays_readable(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  bt_file *f = open_bt(s, 512, LDB_COMPRESSION_NONE, 1, NULL);
  uint64_t n = tu_scale(3000, 3, 500);
  tu_model *m0 = tu_model_new();
  put_range(f, m0, n, 0, 40, 1);
  bt_tree *old = bt_current(f);
  for (int r = 1; r <= 6; r++) {
    put_range(f, NULL, n, r, 60, (uint64_t)r + 1);
    bt_merge *mg;
    assert_int_equal(bt_merge_begin(f, &mg), LDB_OK);
    for (uint64_t i = 0; i < n; i += 2) {
      uint8_t k[32];
      size_t kl;
      fmt_key(k, &kl, i);
      assert_int_equal(bt_merge_delete(mg, k, kl), LDB_OK);
    }
    assert_int_equal(bt_merge_commit(mg, 100 + r), LDB_OK);
    check_ok(f);
  }
  /* the old version is intact */
  assert_int_equal(bt_tree_count(old), n);
  assert_int_equal(bt_tree_seq(old), 1);
  bt_cursor *c;
  assert_int_equal(bt_cursor_open(old, &c), LDB_OK);
  size_t i = 0;
  for (int rc = bt_cursor_first(c); rc == LDB_OK; rc = bt_cursor_next(c), i++) {
    const void *k, *v, *mk, *mv;
    size_t kl, vl, mkl, mvl;
    tu_model_at(m0, i, &mk, &mkl, &mv, &mvl);
    assert_int_equal(bt_cursor_key(c, &k, &kl), LDB_OK);
    assert_int_equal(bt_cursor_value(c, &v, &vl), LDB_OK);
    assert_int_equal(kl, mkl);
    assert_memory_equal(k, mk, kl);
    assert_int_equal(vl, mvl);
    assert_memory_equal(v, mv, vl);
  }
  assert_int_equal(i, n);
  bt_cursor_close(c);
  bt_tree_release(old);
  /* once released, the next merges reuse its pages */
  uint64_t before = file_pages(f);
  for (int r = 0; r < 4; r++)
    put_range(f, NULL, n, 50 + r, 60, 200 + r);
  assert_true(file_pages(f) <= before + before / 4);
  check_ok(f);
  bt_close(f);
  tu_model_free(m0);
  ldb_store_destroy(s);
}

/* Aborting a merge changes nothing and leaks no page. */
static void test_merge_abort(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  bt_file *f = open_bt(s, 4096, LDB_COMPRESSION_NONE, 1, NULL);
  tu_model *m = tu_model_new();
  tu_rng r;
  tu_rng_init(&r, 7);
  put_range(f, m, 2000, 0, 50, 1);
  uint64_t pages = file_pages(f);
  bt_merge *mg;
  assert_int_equal(bt_merge_begin(f, &mg), LDB_OK);
  /* a second merge at once is refused */
  bt_merge *mg2 = NULL;
  assert_int_not_equal(bt_merge_begin(f, &mg2), LDB_OK);
  assert_null(mg2);
  uint8_t *big = malloc(100000);
  memset(big, 7, 100000);
  for (int i = 0; i < 1500; i++) {
    uint8_t k[32];
    size_t kl;
    fmt_key(k, &kl, (uint64_t)i * 3);
    if (i % 2)
      assert_int_equal(bt_merge_delete(mg, k, kl), LDB_OK);
    else
      assert_int_equal(bt_merge_put(mg, k, kl, big, i % 100 ? 20 : 100000),
                       LDB_OK);
  }
  bt_merge_abort(mg);
  assert_int_equal(file_pages(f), pages);
  check_ok(f);
  compare(f, m, &r, 100);
  /* a merge after the abort works */
  put_range(f, m, 2500, 1, 30, 2);
  check_ok(f);
  compare(f, m, &r, 100);
  free(big);
  tu_model_free(m);
  bt_close(f);
  ldb_store_destroy(s);
}

/* Makes a merge of a fixed random batch on top of the model (applied to
 * the model copy only when asked). */
static int apply_batch(bt_file *f, tu_model *m, uint64_t seed, int ops,
                       uint64_t seq) {
  tu_rng r;
  tu_rng_init(&r, seed);
  bt_merge *mg;
  int rc = bt_merge_begin(f, &mg);
  if (rc) return rc;
  static uint8_t val[20000];
  for (int i = 0; i < ops; i++) {
    uint8_t k[32];
    size_t kl;
    fmt_key(k, &kl, tu_below(&r, 4000));
    if (tu_chance(&r, 30)) {
      if ((rc = bt_merge_delete(mg, k, kl))) goto fail;
      if (m) tu_model_del(m, k, kl);
    } else {
      size_t vl =
          tu_chance(&r, 3) ? 2000 + tu_below(&r, 18000) : tu_below(&r, 100);
      tu_fill(&r, val, vl);
      if ((rc = bt_merge_put(mg, k, kl, val, vl))) goto fail;
      if (m) tu_model_put(m, k, kl, val, vl);
    }
  }
  return bt_merge_commit(mg, seq);
fail:
  bt_merge_abort(mg);
  return rc;
}

/* Every write or sync of a commit failing (I/O error or disk full, once or
 * sticky) leaves the previous version current, durable and leak-free, and
 * the same merge succeeds once the fault is gone. */
static void test_commit_failures(void **st) {
  (void)st;
  ldb_store *inner, *fs;
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  bt_file *f = open_bt(fs, 4096, LDB_COMPRESSION_NONE, 1, NULL);
  tu_model *m = tu_model_new();
  tu_rng r;
  tu_rng_init(&r, 11);
  assert_int_equal(apply_batch(f, m, 1, 3000, 1), LDB_OK);
  int ops = (int)tu_scale(600, 3, 150);
  /* how many writes+syncs does one commit take? */
  tu_model *probe = tu_model_clone(m);
  uint64_t c0 = ldb_faulty_count(fs, LDB_FAULT_WRITE | LDB_FAULT_SYNC);
  assert_int_equal(apply_batch(f, probe, 2, ops, 2), LDB_OK);
  uint64_t per = ldb_faulty_count(fs, LDB_FAULT_WRITE | LDB_FAULT_SYNC) - c0;
  tu_model_free(m);
  m = probe;
  uint64_t step = per / (uint64_t)tu_scale(40, 4, 8) + 1;
  uint64_t seed = 100, seq = 3;
  for (uint64_t nth = 1; nth <= per + 2; nth += step) {
    int code = nth % 2 ? LDB_FULL : LDB_IOERR;
    int sticky = (nth / step) % 3 != 0;
    ldb_faulty_fail_nth(fs, nth, LDB_FAULT_WRITE | LDB_FAULT_SYNC, code,
                        sticky);
    tu_model *next = tu_model_clone(m);
    int rc = apply_batch(f, next, seed, ops, seq);
    ldb_faulty_clear(fs);
    if (rc == LDB_OK) {
      tu_model_free(m);
      m = next;
    } else {
      assert_true(rc == code);
      tu_model_free(next);
      bt_tree *t = bt_current(f);
      assert_int_equal(bt_tree_seq(t), seq - 1);
      bt_tree_release(t);
      check_ok(f);
      compare(f, m, &r, 30);
      /* the same merge succeeds now */
      next = tu_model_clone(m);
      assert_int_equal(apply_batch(f, next, seed, ops, seq), LDB_OK);
      tu_model_free(m);
      m = next;
    }
    seed++;
    seq++;
    check_ok(f);
    compare(f, m, &r, 30);
  }
  /* read errors (cold cache: reopened each time) during merges */
  int read_failures = 0;
  for (uint64_t nth = 1; nth <= 40; nth += 3) {
    bt_close(f);
    f = open_bt(fs, 4096, LDB_COMPRESSION_NONE, 0, NULL);
    ldb_faulty_fail_nth(fs, nth, LDB_FAULT_READ, LDB_IOERR, nth % 2);
    tu_model *next = tu_model_clone(m);
    int rc = apply_batch(f, next, seed, ops, seq);
    ldb_faulty_clear(fs);
    if (rc == LDB_OK) {
      tu_model_free(m);
      m = next;
      seq++;
    } else {
      assert_int_equal(rc, LDB_IOERR);
      tu_model_free(next);
      read_failures++;
    }
    seed++;
    check_ok(f);
    compare(f, m, &r, 30);
  }
  assert_true(read_failures > 0);
  /* and a reopen sees the last version */
  bt_close(f);
  f = open_bt(fs, 4096, LDB_COMPRESSION_NONE, 0, NULL);
  check_ok(f);
  compare(f, m, &r, 100);
  bt_close(f);
  tu_model_free(m);
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
}

/* Power loss at any sync of the next few commits (unsynced writes dropped
 * or torn), after free pages have started to be reused, leaves the tree
 * of the last commit whose meta was durable or of the one in flight,
 * whole. */
static void test_crash_during_commit(void **st) {
  (void)st;
  int trials = (int)tu_scale(40, 5, 8);
  for (int trial = 0; trial < trials; trial++) {
    ldb_store *inner, *fs;
    assert_int_equal(ldb_store_memory(&inner), LDB_OK);
    assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
    bt_file *f =
        open_bt(fs, trial % 2 ? 512 : 4096, LDB_COMPRESSION_NONE, 1, NULL);
    tu_model *models[8] = {0}; /* models[i]: content at seq i */
    models[0] = tu_model_new();
    tu_rng r;
    tu_rng_init(&r, (uint64_t)trial);
    uint64_t seq = 0;
    for (int i = 0; i < 3; i++) {
      models[seq + 1] = tu_model_clone(models[seq]);
      assert_int_equal(apply_batch(f, models[seq + 1],
                                   1000 + (uint64_t)trial * 10 + i, 800,
                                   seq + 1),
                       LDB_OK);
      seq++;
    }
    /* two syncs per commit: crash somewhere in the next three commits */
    int mode = trial % 4 < 2 ? LDB_CRASH_DROP : LDB_CRASH_TEAR;
    ldb_faulty_crash_at_sync(fs, (uint64_t)(trial % 6) + 1, mode,
                             (uint64_t)trial);
    int rc = LDB_OK;
    while (rc == LDB_OK && seq < 7) {
      models[seq + 1] = tu_model_clone(models[seq]);
      rc = apply_batch(f, models[seq + 1], 5000 + (uint64_t)trial * 10 + seq,
                       800, seq + 1);
      if (rc == LDB_OK) seq++;
    }
    assert_int_not_equal(rc, LDB_OK);
    assert_true(ldb_faulty_crashed(fs));
    bt_close(f);
    ldb_store_destroy(fs);
    /* "reboot" on the inner store */
    f = open_bt(inner, 4096, LDB_COMPRESSION_NONE, 0, NULL);
    check_ok(f);
    bt_tree *t = bt_current(f);
    uint64_t got = bt_tree_seq(t);
    bt_tree_release(t);
    /* the commit in flight may or may not have become durable */
    assert_true(got == seq || got == seq + 1);
    tu_model *m = models[got];
    compare(f, m, &r, 50);
    /* and it keeps working */
    assert_int_equal(apply_batch(f, m, 77, 300, 10), LDB_OK);
    check_ok(f);
    compare(f, m, &r, 50);
    bt_close(f);
    for (int i = 0; i < 8; i++)
      tu_model_free(models[i]);
    ldb_store_destroy(inner);
  }
}

/* Raw access to the data file for damage tests. */
static void patch_page(ldb_store *s, uint64_t off, size_t len, uint8_t xor_) {
  ldb_file *df;
  assert_int_equal(ldb_fopen(s, "data.ldb", 0, &df), LDB_OK);
  uint8_t b[1];
  for (size_t i = 0; i < len; i++) {
    assert_int_equal(ldb_fread_full(df, off + i, b, 1), LDB_OK);
    b[0] ^= xor_;
    assert_int_equal(ldb_fwrite(df, off + i, b, 1), LDB_OK);
  }
  ldb_fclose(df);
}

/* A flipped byte anywhere in a tree or overflow page is LDB_CORRUPT for
 * bt_check (and for reads that reach it), never a crash. */
static void test_check_detects_flipped_byte(void **st) {
  (void)st;
  tu_rng r;
  tu_rng_init(&r, tu_seed("flip"));
  for (int trial = 0; trial < (int)tu_scale(30, 3, 8); trial++) {
    ldb_store *s;
    assert_int_equal(ldb_store_memory(&s), LDB_OK);
    bt_file *f = open_bt(s, 512, LDB_COMPRESSION_NONE, 1, NULL);
    tu_model *m = tu_model_new();
    assert_int_equal(apply_batch(f, m, 3, 500, 1), LDB_OK);
    /* pick a page that is in use: not free, not meta */
    uint64_t pages = file_pages(f);
    bt_close(f);
    uint64_t pg = 2 + tu_below(&r, pages - 2);
    patch_page(s, pg * 512 + 4 + tu_below(&r, 508), 1,
               (uint8_t)(1 + tu_below(&r, 255)));
    f = open_bt(s, 512, LDB_COMPRESSION_NONE, 0, NULL);
    int rc = bt_check(f);
    /* free pages are not read by the check, so a flip there may pass */
    if (rc != LDB_OK) {
      assert_int_equal(rc, LDB_CORRUPT);
      assert_non_null(strstr(ldb_err_get(), "page"));
    }
    /* reads never crash: every lookup is OK, NOTFOUND or CORRUPT */
    bt_tree *t = bt_current(f);
    uint8_t buf[100];
    for (size_t i = 0; i < tu_model_count(m); i++) {
      const void *k, *v;
      size_t kl, vl, len;
      tu_model_at(m, i, &k, &kl, &v, &vl);
      int g = bt_get(t, k, kl, buf, sizeof buf, &len);
      assert_true(g == LDB_OK || g == LDB_CORRUPT);
    }
    bt_tree_release(t);
    bt_close(f);
    tu_model_free(m);
    ldb_store_destroy(s);
  }
  /* a flip in the root page always fails the check */
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  bt_file *f = open_bt(s, 4096, LDB_COMPRESSION_NONE, 1, NULL);
  put_range(f, NULL, 10, 0, 10, 1);
  check_ok(f);
  bt_close(f);
  patch_page(s, 2 * 4096 + 100, 1, 0x20); /* the only tree page */
  f = open_bt(s, 4096, LDB_COMPRESSION_NONE, 0, NULL);
  assert_int_equal(bt_check(f), LDB_CORRUPT);
  assert_non_null(strstr(ldb_err_get(), "page 2"));
  bt_tree *t = bt_current(f);
  uint8_t buf[16];
  size_t len;
  assert_int_equal(bt_get(t, "key0000000001", 13, buf, sizeof buf, &len),
                   LDB_CORRUPT);
  bt_tree_release(t);
  bt_close(f);
  ldb_store_destroy(s);
}

/* Meta slots: a torn slot 0 (page size unknown) is found through slot 1;
 * both bad is LDB_CORRUPT; a newer format is LDB_INVALID. */
static void test_meta_slots(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  bt_file *f = open_bt(s, 16384, LDB_COMPRESSION_NONE, 1, NULL);
  tu_model *m = tu_model_new();
  tu_rng r;
  tu_rng_init(&r, 5);
  put_range(f, m, 500, 0, 20, 1); /* counter 2 -> slot 0 */
  put_range(f, m, 700, 1, 20, 2); /* counter 3 -> slot 1 */
  bt_close(f);
  /* wipe slot 0 entirely: page size must be discovered from slot 1 */
  patch_page(s, 0, 16384, 0xff);
  f = open_bt(s, 4096, LDB_COMPRESSION_NONE, 0, NULL);
  assert_int_equal(bt_page_size(f), 16384);
  bt_tree *t = bt_current(f);
  assert_int_equal(bt_tree_seq(t), 2);
  bt_tree_release(t);
  assert_int_equal(bt_damaged_meta(f), 0);
  check_meta_damaged(f, 0);
  compare(f, m, &r, 50);
  /* the next commit rewrites slot 0 */
  put_range(f, m, 800, 2, 20, 3);
  check_ok(f);
  bt_close(f);
  f = open_bt(s, 4096, LDB_COMPRESSION_NONE, 0, NULL);
  t = bt_current(f);
  assert_int_equal(bt_tree_seq(t), 3);
  bt_tree_release(t);
  compare(f, m, &r, 50);
  bt_close(f);
  /* a torn newest slot falls back to the older version */
  patch_page(s, 100, 1, 1); /* slot 0 holds counter 4 now */
  f = open_bt(s, 4096, LDB_COMPRESSION_NONE, 0, NULL);
  t = bt_current(f);
  assert_int_equal(bt_tree_seq(t), 2);
  bt_tree_release(t);
  check_meta_damaged(f, 0);
  bt_close(f);
  /* both bad */
  patch_page(s, 16384 + 200, 1, 1);
  bt_config cfg = {0};
  cfg.cache_size = 1 << 20;
  assert_int_equal(bt_open(s, &cfg, &f, NULL), LDB_CORRUPT);
  ldb_store_destroy(s);
  tu_model_free(m);

  /* newer format version in a valid meta page */
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  f = open_bt(s, 4096, LDB_COMPRESSION_NONE, 1, NULL);
  bt_close(f);
  ldb_file *df;
  uint8_t pg[4096];
  assert_int_equal(ldb_fopen(s, "data.ldb", 0, &df), LDB_OK);
  for (uint64_t slot = 0; slot < 2; slot++) {
    assert_int_equal(ldb_fread_full(df, slot * 4096, pg, 4096), LDB_OK);
    ldb_put32(pg + 16 + 8, LDB_FORMAT_VERSION + 1);
    pager_seal(pg, 4096, slot);
    assert_int_equal(ldb_fwrite(df, slot * 4096, pg, 4096), LDB_OK);
  }
  ldb_fclose(df);
  assert_int_equal(bt_open(s, &cfg, &f, NULL), LDB_INVALID);
  /* missing file without create */
  ldb_store *s2;
  assert_int_equal(ldb_store_memory(&s2), LDB_OK);
  assert_int_equal(bt_open(s2, &cfg, &f, NULL), LDB_NOTFOUND);
  ldb_store_destroy(s2);
  ldb_store_destroy(s);
}

/* Large values and keys: several MiB through overflow chains on small and
 * large pages, compressed and not; 1024-byte keys on 512-byte pages; empty
 * values; partial reads with a small buffer. */
static void test_large_values_and_keys(void **st) {
  (void)st;
  static const uint32_t sizes[] = {512, 4096, 65536};
  static const int codecs[] = {LDB_COMPRESSION_NONE, LDB_COMPRESSION_ZSTD,
                               LDB_COMPRESSION_LZ4};
  size_t big = tu_quick() ? (1u << 20) + 17 : (6u << 20) + 17;
  uint8_t *val = malloc(big), *out = malloc(big);
  tu_rng r;
  tu_rng_init(&r, 3);
  for (int si = 0; si < 3; si++) {
    for (int ci = 0; ci < 3; ci++) {
      ldb_store *s;
      assert_int_equal(ldb_store_memory(&s), LDB_OK);
      bt_file *f = open_bt(s, sizes[si], codecs[ci], 1, NULL);
      tu_model *m = tu_model_new();
      bt_merge *mg;
      assert_int_equal(bt_merge_begin(f, &mg), LDB_OK);
      make_val(&r, val, big, ci != 0);
      assert_int_equal(bt_merge_put(mg, "big", 3, val, big), LDB_OK);
      tu_model_put(m, "big", 3, val, big);
      assert_int_equal(bt_merge_put(mg, "empty", 5, "", 0), LDB_OK);
      tu_model_put(m, "empty", 5, "", 0);
      uint8_t key[LDB_MAX_KEY_SIZE];
      for (int i = 0; i < 40; i++) {
        memset(key, 'k', sizeof key); /* long shared prefixes */
        ldb_put32(key + sizeof key - 4 - (i % 3) * 300, (uint32_t)i * 7919);
        size_t kl = i % 2 ? LDB_MAX_KEY_SIZE : LDB_MAX_KEY_SIZE - 1 - i;
        size_t vl = (size_t)tu_below(&r, 3000);
        tu_fill(&r, val, vl);
        assert_int_equal(bt_merge_put(mg, key, kl, val, vl), LDB_OK);
        tu_model_put(m, key, kl, val, vl);
      }
      assert_int_equal(bt_merge_commit(mg, 1), LDB_OK);
      check_ok(f);
      compare(f, m, &r, 20);
      const void *mv;
      size_t mvl, len;
      assert_true(tu_model_get(m, "big", 3, &mv, &mvl));
      bt_tree *t = bt_current(f);
      assert_int_equal(bt_get(t, "big", 3, out, big, &len), LDB_OK);
      assert_int_equal(len, big);
      assert_memory_equal(out, mv, big);
      /* too small a buffer for a value on overflow pages: the length,
       * nothing copied */
      memset(out, 0xee, 10);
      assert_int_equal(bt_get(t, "big", 3, out, 10, &len), LDB_OK);
      assert_int_equal(len, big);
      assert_memory_equal(out, "\xee\xee\xee\xee\xee\xee\xee\xee\xee\xee", 10);
      assert_int_equal(bt_get(t, "empty", 5, out, 10, &len), LDB_OK);
      assert_int_equal(len, 0);
      /* oversize inputs are refused */
      bt_tree_release(t);
      assert_int_equal(bt_merge_begin(f, &mg), LDB_OK);
      assert_int_equal(bt_merge_put(mg, key, LDB_MAX_KEY_SIZE + 1, "", 0),
                       LDB_INVALID);
      assert_int_equal(bt_merge_put(mg, "", 0, "", 0), LDB_OK); /* empty key */
      bt_merge_abort(mg);
      /* replace then delete the big value: its chain is freed */
      uint64_t pages = file_pages(f);
      assert_int_equal(bt_merge_begin(f, &mg), LDB_OK);
      assert_int_equal(bt_merge_delete(mg, "big", 3), LDB_OK);
      tu_model_del(m, "big", 3);
      assert_int_equal(bt_merge_commit(mg, 2), LDB_OK);
      check_ok(f);
      bt_stats stt;
      bt_stats_get(f, &stt);
      /* the chain's pages are free now (the file only grew by a new leaf
       * and the pages of the longer free list) */
      if (codecs[ci] == LDB_COMPRESSION_NONE) /* else it compressed well */
        assert_true(stt.free_pages >= big / sizes[si] / 2);
      assert_true(stt.page_count <=
                  pages + 8 + (big / sizes[si] + 1) / ((sizes[si] - 16) / 4));
      bt_close(f);
      f = open_bt(s, 4096, codecs[ci], 0, NULL);
      compare(f, m, &r, 20);
      check_ok(f);
      bt_close(f);
      tu_model_free(m);
      ldb_store_destroy(s);
    }
  }
  free(val);
  free(out);
}

/* Readers on many threads see whole versions while merges run. */
typedef struct reader_arg {
  bt_file *f;
  uint64_t n;
  int stop;
  int errors;
  uint64_t reads;
} reader_arg;

static void *reader_main(void *p) {
  reader_arg *ra = p;
  tu_rng r;
  tu_rng_init(&r, (uint64_t)(uintptr_t)p);
  while (!__atomic_load_n(&ra->stop, __ATOMIC_ACQUIRE)) {
    bt_tree *t = bt_current(ra->f);
    uint64_t ver = bt_tree_seq(t);
    for (int i = 0; i < 200; i++) {
      uint8_t k[32], v[BIG_VLEN], want[64];
      size_t kl, len;
      uint64_t idx = tu_below(&r, ra->n);
      fmt_key(k, &kl, idx);
      int rc = bt_get(t, k, kl, v, sizeof v, &len);
      memset(want, 'x', sizeof want);
      snprintf((char *)want, sizeof want, "v%d-%llu", (int)ver - 1,
               (unsigned long long)idx);
      size_t wl = idx % g_big_every == 0 ? BIG_VLEN : 40;
      if (rc != LDB_OK || len != wl || memcmp(v, want, 40) != 0)
        __atomic_fetch_add(&ra->errors, 1, __ATOMIC_RELAXED);
      __atomic_fetch_add(&ra->reads, 1, __ATOMIC_RELAXED);
    }
    /* a short scan with a cursor, values included */
    bt_cursor *c;
    if (bt_cursor_open(t, &c) != LDB_OK) {
      __atomic_fetch_add(&ra->errors, 1, __ATOMIC_RELAXED);
    } else {
      uint8_t k[32];
      size_t kl;
      uint64_t idx = tu_below(&r, ra->n);
      fmt_key(k, &kl, idx);
      int rc = bt_cursor_seek_ge(c, k, kl);
      for (int j = 0; j < 30 && rc == LDB_OK; j++, idx++) {
        const void *ck, *cv;
        size_t ckl, cvl;
        uint8_t want[64];
        fmt_key(k, &kl, idx);
        memset(want, 'x', sizeof want);
        snprintf((char *)want, sizeof want, "v%d-%llu", (int)ver - 1,
                 (unsigned long long)idx);
        if (bt_cursor_key(c, &ck, &ckl) || ckl != kl || memcmp(ck, k, kl) ||
            bt_cursor_value(c, &cv, &cvl) ||
            cvl != (idx % g_big_every == 0 ? BIG_VLEN : 40) ||
            memcmp(cv, want, 40))
          __atomic_fetch_add(&ra->errors, 1, __ATOMIC_RELAXED);
        rc = bt_cursor_next(c);
      }
      bt_cursor_close(c);
    }
    bt_tree_release(t);
  }
  return NULL;
}

static void test_concurrent_readers(void **st) {
  (void)st;
  if (!ldb_threads_available()) skip();
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  bt_config cfg = {0};
  cfg.page_size = 4096;
  cfg.cache_size = 64 * 4096; /* small: eviction under concurrency */
  cfg.create = 1;
  bt_file *f;
  assert_int_equal(bt_open(s, &cfg, &f, NULL), LDB_OK);
  reader_arg ra = {0};
  ra.f = f;
  ra.n = tu_scale(20000, 4, 2000);
  g_big_every = 97;
  put_range(f, NULL, ra.n, 0, 40, 1);
  ldb_thread th[4];
  for (int i = 0; i < 4; i++)
    assert_int_equal(ldb_thread_start(&th[i], reader_main, &ra), LDB_OK);
  int rounds = (int)tu_scale(15, 3, 4);
  for (int v = 1; v <= rounds; v++)
    put_range(f, NULL, ra.n, v, 40, v + 1);
  __atomic_store_n(&ra.stop, 1, __ATOMIC_RELEASE);
  for (int i = 0; i < 4; i++)
    ldb_thread_join(th[i]);
  g_big_every = 0;
  assert_int_equal(ra.errors, 0);
  assert_true(ra.reads > 0);
  check_ok(f);
  bt_stats stt;
  bt_stats_get(f, &stt);
  assert_true(stt.cache_bytes <= stt.cache_capacity);
  assert_true(stt.cache_evictions > 0);
  bt_close(f);
  ldb_store_destroy(s);
}

/* An ascending bulk load fills pages well and is fast. */
static void test_ascending_load(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  bt_file *f = open_bt(s, 4096, LDB_COMPRESSION_NONE, 1, NULL);
  uint64_t n = tu_scale(100000, 10, 5000);
  uint64_t t0 = ldb_now_ns();
  put_range(f, NULL, n, 0, 16, 1);
  uint64_t t1 = ldb_now_ns();
  print_message("ascending load of %llu keys: %.1f ms, %llu pages\n",
                (unsigned long long)n, (t1 - t0) / 1e6,
                (unsigned long long)file_pages(f));
  /* 14-byte keys + 16-byte values: ~41 bytes a cell; >= 85% fill */
  assert_true(file_pages(f) < n * 41 / 4080 * 100 / 85 + 8);
  check_ok(f);
  /* lookups */
  bt_tree *t = bt_current(f);
  uint64_t t2 = ldb_now_ns();
  for (uint64_t i = 0; i < n; i++) {
    uint8_t k[32], v[32];
    size_t kl, len;
    fmt_key(k, &kl, (i * 7919) % n);
    assert_int_equal(bt_get(t, k, kl, v, sizeof v, &len), LDB_OK);
  }
  uint64_t t3 = ldb_now_ns();
  print_message("%llu gets: %.0f ns each\n", (unsigned long long)n,
                (double)(t3 - t2) / (double)n);
  bt_tree_release(t);
  bt_close(f);
  ldb_store_destroy(s);
}

/* Runs one merge (apply_batch) with the nth allocation failing. */
static void test_nomem(void **st) {
  (void)st;
  tu_alloc ta;
  tu_alloc_init(&ta);
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  bt_config cfg = {0};
  cfg.page_size = 512;
  cfg.cache_size = 1 << 16;
  cfg.create = 1;
  cfg.allocator = &ta.a;
  bt_file *f = NULL;
  /* open fails cleanly at every allocation */
  int rc;
  for (uint64_t nth = 1;; nth++) {
    tu_alloc_fail_nth(&ta, nth, 0);
    rc = bt_open(s, &cfg, &f, NULL);
    if (rc == LDB_OK) break;
    assert_int_equal(rc, LDB_NOMEM);
    assert_int_equal(tu_alloc_live(&ta), 0);
  }
  tu_alloc_fail_nth(&ta, 0, 0);
  tu_model *m = tu_model_new();
  tu_rng r;
  tu_rng_init(&r, 1);
  assert_int_equal(apply_batch(f, m, 1, 600, 1), LDB_OK);
  uint64_t seq = 2;
  int ops = (int)tu_scale(300, 3, 60);
  uint64_t step = tu_quick() ? 97 : 13;
  int failures = 0;
  for (uint64_t nth = 1; nth < 100000; nth += step) {
    tu_model *next = tu_model_clone(m);
    tu_alloc_fail_nth(&ta, nth, nth % 3 == 0);
    rc = apply_batch(f, next, 500 + seq, ops, seq);
    int injected = ta.failed;
    tu_alloc_fail_nth(&ta, 0, 0);
    if (rc == LDB_OK) {
      tu_model_free(m);
      m = next;
      seq++;
      if (!injected) break; /* the merge needs fewer allocations */
    } else {
      assert_int_equal(rc, LDB_NOMEM);
      failures++;
      tu_model_free(next);
      bt_tree *t = bt_current(f);
      assert_int_equal(bt_tree_seq(t), seq - 1);
      bt_tree_release(t);
    }
    check_ok(f);
    if (nth % 7 == 1) compare(f, m, &r, 10);
  }
  assert_true(failures > 0);
  compare(f, m, &r, 50);
  bt_close(f);
  assert_int_equal(tu_alloc_live(&ta), 0);
  /* the file reopens with the last committed version */
  cfg.create = 0;
  assert_int_equal(bt_open(s, &cfg, &f, NULL), LDB_OK);
  check_ok(f);
  compare(f, m, &r, 50);
  bt_close(f);
  assert_int_equal(tu_alloc_live(&ta), 0);
  tu_model_free(m);
  ldb_store_destroy(s);
}

/* Power loss while the file is being created leaves either a valid empty
 * tree or a file that opens as new. */
static void test_crash_during_create(void **st) {
  (void)st;
  for (uint64_t seed = 0; seed < 40; seed++) {
    ldb_store *inner, *fs;
    assert_int_equal(ldb_store_memory(&inner), LDB_OK);
    assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
    ldb_faulty_crash_at_sync(fs, 1 + (seed / 2) % 2,
                             seed % 4 ? LDB_CRASH_TEAR : LDB_CRASH_DROP, seed);
    bt_config cfg = {0};
    cfg.page_size = seed % 2 ? 4096 : 512;
    cfg.cache_size = 1 << 20;
    cfg.create = 1;
    bt_file *f = NULL;
    assert_int_not_equal(bt_open(fs, &cfg, &f, NULL), LDB_OK);
    ldb_store_destroy(fs);
    int created = -1;
    cfg.create = 0;
    int rc = bt_open(inner, &cfg, &f, &created);
    if (rc == LDB_NOTFOUND) {
      cfg.create = 1;
      assert_int_equal(bt_open(inner, &cfg, &f, &created), LDB_OK);
      assert_int_equal(created, 1);
    } else {
      assert_int_equal(rc, LDB_OK);
      assert_int_equal(created, 0);
    }
    /* a slot 0 torn while it was first written stays reported until the
     * first commit rewrites it */
    if (bt_damaged_meta(f) >= 0)
      check_meta_damaged(f, bt_damaged_meta(f));
    else
      check_ok(f);
    put_range(f, NULL, 100, 0, 10, 1);
    check_ok(f);
    bt_close(f);
    ldb_store_destroy(inner);
  }
}

/* The previous version stays whole until the next commit is durable: a
 * checkpoint cut short by a crash (its pages written, its meta page not),
 * then damage to the newest meta page, falls back to the version before,
 * and that one must read back exactly, whether the free list was loaded
 * or (damaged) rebuilt from the tree at open. */
static void test_previous_version_kept(void **st) {
  (void)st;
  for (int damage_fl = 0; damage_fl < 2; damage_fl++) {
    ldb_store *s, *fs;
    assert_int_equal(ldb_store_memory(&s), LDB_OK);
    bt_file *f = open_bt(s, 512, LDB_COMPRESSION_NONE, 1, NULL);
    tu_model *ma = tu_model_new();
    tu_rng r;
    tu_rng_init(&r, 11);
    assert_int_equal(apply_batch(f, ma, 1, 2000, 1), LDB_OK); /* A */
    tu_model *mb = tu_model_clone(ma);
    assert_int_equal(apply_batch(f, mb, 2, 2000, 2), LDB_OK); /* B */
    bt_close(f);
    uint8_t pg[512];
    ldb_file *df;
    uint64_t c0, c1, head;
    assert_int_equal(ldb_fopen(s, "data.ldb", 0, &df), LDB_OK);
    assert_int_equal(ldb_fread_full(df, 0, pg, 512), LDB_OK);
    c0 = ldb_get64(pg + 16 + 16);
    assert_int_equal(ldb_fread_full(df, 512, pg, 512), LDB_OK);
    c1 = ldb_get64(pg + 16 + 16);
    int newest = c1 > c0 ? 1 : 0;
    assert_int_equal(ldb_fread_full(df, (uint64_t)newest * 512, pg, 512),
                     LDB_OK);
    head = ldb_get64(pg + 16 + 64);
    ldb_fclose(df);
    if (damage_fl) {
      assert_true(head >= 2);
      patch_page(s, head * 512 + 20, 1, 0x40);
    }
    /* C: its pages reach the disk, its meta page never does */
    assert_int_equal(ldb_store_faulty(s, &fs), LDB_OK);
    f = open_bt(fs, 512, LDB_COMPRESSION_NONE, 0, NULL);
    ldb_faulty_crash_at_sync(fs, 2, LDB_CRASH_DROP, 0);
    assert_int_not_equal(apply_batch(f, NULL, 3, 2000, 3), LDB_OK);
    assert_true(ldb_faulty_crashed(fs));
    bt_close(f);
    ldb_store_destroy(fs);
    /* the newest meta page (B) is damaged: A must be intact */
    patch_page(s, (uint64_t)newest * 512 + 20, 1, 0x01);
    f = open_bt(s, 512, LDB_COMPRESSION_NONE, 0, NULL);
    bt_tree *t = bt_current(f);
    assert_int_equal(bt_tree_seq(t), 1);
    bt_tree_release(t);
    compare(f, ma, &r, 200);
    check_meta_damaged(f, newest);
    bt_close(f);
    tu_model_free(ma);
    tu_model_free(mb);
    ldb_store_destroy(s);
  }
}

/* A damaged free list does not block the data: open rebuilds the free set
 * from the tree, bt_check reports the damage until the next commit. */
static void test_damaged_free_list(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  bt_file *f = open_bt(s, 512, LDB_COMPRESSION_NONE, 1, NULL);
  tu_model *m = tu_model_new();
  tu_rng r;
  tu_rng_init(&r, 9);
  assert_int_equal(apply_batch(f, m, 1, 2000, 1), LDB_OK);
  assert_int_equal(apply_batch(f, m, 2, 2000, 2), LDB_OK);
  uint64_t pages = file_pages(f);
  bt_close(f);
  /* the newest meta names the free-list head */
  ldb_file *df;
  uint8_t pg[512];
  uint64_t best = 0, head = 0;
  assert_int_equal(ldb_fopen(s, "data.ldb", 0, &df), LDB_OK);
  for (uint64_t slot = 0; slot < 2; slot++) {
    assert_int_equal(ldb_fread_full(df, slot * 512, pg, 512), LDB_OK);
    if (ldb_get64(pg + 16 + 16) >= best) {
      best = ldb_get64(pg + 16 + 16);
      head = ldb_get64(pg + 16 + 64);
    }
  }
  ldb_fclose(df);
  assert_true(head >= 2);
  patch_page(s, head * 512 + 20, 1, 0x40);
  f = open_bt(s, 512, LDB_COMPRESSION_NONE, 0, NULL);
  assert_int_equal(bt_check(f), LDB_CORRUPT);
  compare(f, m, &r, 50);
  assert_int_equal(apply_batch(f, m, 3, 500, 3), LDB_OK);
  check_ok(f);
  compare(f, m, &r, 50);
  assert_true(file_pages(f) <= pages + pages / 4);
  bt_close(f);
  tu_model_free(m);
  ldb_store_destroy(s);
}

/* Deleting most keys in random order merges underfull pages: the tree
 * shrinks with the data instead of keeping sparse pages. */
static void test_shrink_merges_pages(void **st) {
  (void)st;
  static const uint32_t sizes[] = {512, 4096};
  for (int si = 0; si < 2; si++) {
    ldb_store *s;
    assert_int_equal(ldb_store_memory(&s), LDB_OK);
    bt_file *f = open_bt(s, sizes[si], LDB_COMPRESSION_NONE, 1, NULL);
    tu_model *m = tu_model_new();
    tu_rng r;
    tu_rng_init(&r, 21 + (uint64_t)si);
    uint64_t n = tu_scale(20000, 5, 2000);
    uint8_t val[64];
    memset(val, 'v', sizeof val);
    bt_merge *mg;
    assert_int_equal(bt_merge_begin(f, &mg), LDB_OK);
    uint64_t *order = malloc(n * sizeof *order);
    for (uint64_t i = 0; i < n; i++) {
      uint8_t k[32];
      size_t kl;
      fmt_key(k, &kl, i);
      /* some long keys so branches hold few cells on small pages */
      if (i % 10 == 0) {
        memset(k + kl, 'z', 32 - kl);
        kl = 32;
      }
      assert_int_equal(bt_merge_put(mg, k, kl, val, 20), LDB_OK);
      tu_model_put(m, k, kl, val, 20);
      order[i] = i;
    }
    assert_int_equal(bt_merge_commit(mg, 1), LDB_OK);
    for (uint64_t i = n - 1; i > 0; i--) {
      uint64_t j = tu_below(&r, i + 1), t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    uint64_t keep = n / 50, pos = 0;
    for (int round = 0; round < 6; round++) {
      assert_int_equal(bt_merge_begin(f, &mg), LDB_OK);
      uint64_t until = (n - keep) * (uint64_t)(round + 1) / 6;
      for (; pos < until; pos++) {
        uint8_t k[32];
        size_t kl;
        fmt_key(k, &kl, order[pos]);
        if (order[pos] % 10 == 0) {
          memset(k + kl, 'z', 32 - kl);
          kl = 32;
        }
        assert_int_equal(bt_merge_delete(mg, k, kl), LDB_OK);
        tu_model_del(m, k, kl);
      }
      assert_int_equal(bt_merge_commit(mg, 2 + (uint64_t)round), LDB_OK);
      check_ok(f);
    }
    compare(f, m, &r, 100);
    bt_stats stt;
    bt_stats_get(f, &stt);
    uint64_t used = stt.page_count - stt.free_pages;
    /* ~keep cells of <= 60 bytes: a few pages' worth, plus branches,
     * metas and the free list's own pages */
    uint64_t fl_pages = stt.free_pages / ((sizes[si] - 16) / 4) + 1;
    uint64_t minimal = keep * 60 / (sizes[si] - 16) + 1;
    print_message("page %u: %llu pages in use for %llu keys (minimal %llu)\n",
                  sizes[si], (unsigned long long)used, (unsigned long long)keep,
                  (unsigned long long)minimal);
    assert_true(used <= 4 * minimal + 8 + fl_pages);
    free(order);
    bt_close(f);
    tu_model_free(m);
    ldb_store_destroy(s);
  }
}

/* Values written under different codecs stay readable after switching
 * and after reopening with yet another setting. */
static void test_codec_switch(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  bt_file *f = open_bt(s, 4096, LDB_COMPRESSION_ZSTD, 1, NULL);
  tu_model *m = tu_model_new();
  tu_rng r;
  tu_rng_init(&r, 31);
  static const int seq[] = {LDB_COMPRESSION_ZSTD, LDB_COMPRESSION_LZ4,
                            LDB_COMPRESSION_NONE, LDB_COMPRESSION_ZSTD};
  uint8_t *val = malloc(50000);
  for (int round = 0; round < 4; round++) {
    bt_set_compression(f, seq[round], round);
    bt_merge *mg;
    assert_int_equal(bt_merge_begin(f, &mg), LDB_OK);
    for (int i = 0; i < 300; i++) {
      uint8_t k[32];
      size_t kl;
      fmt_key(k, &kl, (uint64_t)(round * 200 + i));
      size_t vl = i % 10 == 0 ? 20000 + tu_below(&r, 30000) : tu_below(&r, 500);
      make_val(&r, val, vl, 1);
      assert_int_equal(bt_merge_put(mg, k, kl, val, vl), LDB_OK);
      tu_model_put(m, k, kl, val, vl);
    }
    assert_int_equal(bt_merge_commit(mg, (uint64_t)round + 1), LDB_OK);
    check_ok(f);
    compare(f, m, &r, 50);
  }
  bt_stats stt;
  bt_stats_get(f, &stt);
  /* compressible values: far fewer pages than their raw size */
  assert_true(stt.page_count * 4096 < 1200 * 2500);
  bt_close(f);
  f = open_bt(s, 4096, LDB_COMPRESSION_LZ4, 0, NULL);
  check_ok(f);
  compare(f, m, &r, 100);
  bt_close(f);
  free(val);
  tu_model_free(m);
  ldb_store_destroy(s);
}

/* Pages with valid checksums but damaged structure (as a bug or a crafted
 * file would produce): every call returns a code, nothing crashes. */
static void test_resealed_damage(void **st) {
  (void)st;
  tu_rng r;
  tu_rng_init(&r, tu_seed("resealed"));
  int trials = (int)tu_scale(300, 6, 40);
  for (int trial = 0; trial < trials; trial++) {
    ldb_store *s;
    assert_int_equal(ldb_store_memory(&s), LDB_OK);
    bt_file *f = open_bt(s, 512, LDB_COMPRESSION_LZ4, 1, NULL);
    tu_model *m = tu_model_new();
    assert_int_equal(apply_batch(f, m, (uint64_t)trial, 300, 1), LDB_OK);
    uint64_t pages = file_pages(f);
    bt_close(f);
    ldb_file *df;
    uint8_t pg[512];
    assert_int_equal(ldb_fopen(s, "data.ldb", 0, &df), LDB_OK);
    uint64_t pgno = tu_below(&r, pages);
    assert_int_equal(ldb_fread_full(df, pgno * 512, pg, 512), LDB_OK);
    int nflips = 1 + (int)tu_below(&r, 4);
    for (int i = 0; i < nflips; i++) {
      /* favour the header and slot array, where structure lives */
      size_t off =
          tu_chance(&r, 50) ? 4 + tu_below(&r, 60) : 4 + tu_below(&r, 508);
      pg[off] = tu_chance(&r, 50)
                    ? (uint8_t)tu_next(&r)
                    : (uint8_t)(pg[off] ^ (1u << tu_below(&r, 8)));
    }
    pager_seal(pg, 512, pgno);
    assert_int_equal(ldb_fwrite(df, pgno * 512, pg, 512), LDB_OK);
    ldb_fclose(df);
    bt_config cfg = {0};
    cfg.cache_size = 1 << 16;
    int rc = bt_open(s, &cfg, &f, NULL);
    if (rc == LDB_OK) {
      rc = bt_check(f);
      assert_true(rc == LDB_OK || rc == LDB_CORRUPT);
      bt_tree *t = bt_current(f);
      bt_cursor *c;
      assert_int_equal(bt_cursor_open(t, &c), LDB_OK);
      int steps = 0;
      for (rc = bt_cursor_first(c); rc == LDB_OK && steps < 5000; steps++) {
        const void *k, *v;
        size_t kl, vl;
        (void)bt_cursor_key(c, &k, &kl);
        (void)bt_cursor_value(c, &v, &vl);
        rc = bt_cursor_next(c);
      }
      for (rc = bt_cursor_last(c); rc == LDB_OK && steps < 10000; steps++)
        rc = bt_cursor_prev(c);
      uint8_t buf[64];
      for (size_t i = 0; i < tu_model_count(m); i += 7) {
        const void *k, *v;
        size_t kl, vl, len;
        tu_model_at(m, i, &k, &kl, &v, &vl);
        (void)bt_get(t, k, kl, buf, sizeof buf, &len);
        (void)bt_cursor_seek_ge(c, k, kl);
        (void)bt_cursor_seek_le(c, k, kl);
      }
      bt_cursor_close(c);
      bt_tree_release(t);
      (void)apply_batch(f, NULL, 99 + (uint64_t)trial, 200, 2);
      (void)bt_check(f);
      bt_close(f);
    } else {
      assert_true(rc == LDB_CORRUPT || rc == LDB_INVALID);
    }
    tu_model_free(m);
    ldb_store_destroy(s);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_512_none),
      cmocka_unit_test(test_random_512_lz4),
      cmocka_unit_test(test_random_512_zstd),
      cmocka_unit_test(test_random_4096_none),
      cmocka_unit_test(test_random_4096_lz4),
      cmocka_unit_test(test_random_4096_zstd),
      cmocka_unit_test(test_random_16384_none),
      cmocka_unit_test(test_random_16384_lz4),
      cmocka_unit_test(test_random_16384_zstd),
      cmocka_unit_test(test_free_page_reuse),
      cmocka_unit_test(test_old_version_stays_readable),
      cmocka_unit_test(test_merge_abort),
      cmocka_unit_test(test_commit_failures),
      cmocka_unit_test(test_crash_during_commit),
      cmocka_unit_test(test_check_detects_flipped_byte),
      cmocka_unit_test(test_meta_slots),
      cmocka_unit_test(test_large_values_and_keys),
      cmocka_unit_test(test_concurrent_readers),
      cmocka_unit_test(test_ascending_load),
      cmocka_unit_test(test_nomem),
      cmocka_unit_test(test_crash_during_create),
      cmocka_unit_test(test_damaged_free_list),
      cmocka_unit_test(test_previous_version_kept),
      cmocka_unit_test(test_shrink_merges_pages),
      cmocka_unit_test(test_codec_switch),
      cmocka_unit_test(test_resealed_damage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
