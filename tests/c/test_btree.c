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
#include "helpers/testutil.h"
#include "store.h"

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

/* Deterministic value bytes for (key, version): compressible when asked. */
static void make_val(tu_rng *r, uint8_t *buf, size_t n, int compressible) {
  if (compressible) {
    uint8_t b = (uint8_t)tu_next(r);
    for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(b + (i / 16) % 4);
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

static void test_random_512_none(void **st) {
  (void)st;
  random_run(512, LDB_COMPRESSION_NONE, tu_seed("random_512_none"));
}
static void test_random_4096_lz4(void **st) {
  (void)st;
  random_run(4096, LDB_COMPRESSION_LZ4, tu_seed("random_4096_lz4"));
}
static void test_random_16384_zstd(void **st) {
  (void)st;
  random_run(16384, LDB_COMPRESSION_ZSTD, tu_seed("random_16384_zstd"));
}
static void test_random_4096_none(void **st) {
  (void)st;
  random_run(4096, LDB_COMPRESSION_NONE, tu_seed("random_4096_none"));
}
static void test_random_512_zstd(void **st) {
  (void)st;
  random_run(512, LDB_COMPRESSION_ZSTD, tu_seed("random_512_zstd"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_512_none),
      cmocka_unit_test(test_random_4096_lz4),
      cmocka_unit_test(test_random_16384_zstd),
      cmocka_unit_test(test_random_4096_none),
      cmocka_unit_test(test_random_512_zstd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
