/*
 * test_model.c — randomized model test of the public API: puts, deletes,
 * write batches, transactions (commit and abort, read-your-writes),
 * read-only snapshots, forward and reverse iteration with random bounds,
 * prefixes, seeks and direction changes, point gets, checkpoints and
 * close/reopen cycles, all checked against a simple in-memory reference
 * model. One cmocka test per page size x compression configuration.
 *
 * Replay a failure with LDB_SEED=<seed printed at start>.
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

#define NKEYS 1500

typedef struct ctx {
  const char *name;
  uint64_t seed;
  tu_rng r;
  ldb_store *store;
  ldb_options opts;
  ldb_db *db;
  tu_model *m;
  uint64_t op;      /* operation counter */
  const char *what; /* current operation, for failure messages */
  uint8_t *vbuf;
} ctx;

static ctx *g_ctx;

#define FAILF(...)                                                             \
  do {                                                                         \
    fprintf(stderr, "[%s seed=%llu op=%llu during %s] ", g_ctx->name,          \
            (unsigned long long)g_ctx->seed, (unsigned long long)g_ctx->op,    \
            g_ctx->what);                                                      \
    fprintf(stderr, __VA_ARGS__);                                              \
    fprintf(stderr, " (errmsg: %s)\n", ldb_errmsg(NULL));                      \
    fail();                                                                    \
  } while (0)

#define EXPECT_RC(call, want)                                                  \
  do {                                                                         \
    int rc_ = (call);                                                          \
    if (rc_ != (want))                                                         \
      FAILF("%s returned %s, expected %s", #call, ldb_code_name(rc_),          \
            ldb_code_name(want));                                              \
  } while (0)

/* ---- keys and values ---------------------------------------------------- */

/* Key id -> bytes. Some keys are prefixes of others, a few are long (up to
 * the 1024-byte limit) and contain 0x00/0xff bytes. */
static size_t make_key(uint32_t id, uint8_t *k) {
  int n = snprintf((char *)k, 16, "%c%04u", 'a' + (int)(id % 5), id / 5);
  size_t len = (size_t)n;
  if (id % 11 == 0) len = 3; /* a prefix of its neighbours */
  if (id % 97 == 0) {
    size_t target = id % 2 ? 1024 : 200 + (id % 700);
    tu_rng r;
    tu_rng_init(&r, id);
    for (size_t i = len; i < target; i++) {
      uint64_t x = tu_next(&r) % 4;
      k[i] = x == 0 ? 0x00 : x == 1 ? 0xff : (uint8_t)('0' + i % 10);
    }
    len = target;
  }
  return len;
}

static size_t make_value(ctx *c, uint8_t *v) {
  size_t len;
  uint64_t p = tu_below(&c->r, 100);
  if (p < 10)
    len = 0;
  else if (p < 80)
    len = tu_below(&c->r, 100);
  else if (p < 97)
    len = 100 + tu_below(&c->r, 900);
  else
    len = 2000 + tu_below(&c->r, 18000); /* overflow pages */
  /* Half compressible text, half random bytes; the op number first so a
   * stale value can never match by accident. */
  if (tu_chance(&c->r, 50)) {
    for (size_t i = 0; i < len; i++)
      v[i] = (uint8_t)("lightning"[i % 9]);
  } else {
    tu_fill(&c->r, v, len);
  }
  if (len >= 8) memcpy(v, &c->op, 8);
  return len;
}

/* ---- checks ------------------------------------------------------------ */

static void check_get(ctx *c, ldb_txn *txn, const tu_model *m, const uint8_t *k,
                      size_t kl) {
  const void *want;
  size_t wl;
  int present = tu_model_get(m, k, kl, &want, &wl);
  void *v = NULL;
  size_t vl = 0;
  int rc =
      txn ? ldb_txn_get(txn, k, kl, &v, &vl) : ldb_get(c->db, k, kl, &v, &vl);
  if (present) {
    if (rc != LDB_OK)
      FAILF("get %.*s: %s, expected a value", (int)(kl > 40 ? 40 : kl), k,
            ldb_code_name(rc));
    if (!v) FAILF("get returned a NULL value");
    if (vl != wl || memcmp(v, want, wl))
      FAILF("get %.*s: value of %zu bytes differs from the model's %zu",
            (int)(kl > 40 ? 40 : kl), k, vl, wl);
  } else if (rc != LDB_NOTFOUND) {
    FAILF("get %.*s: %s, expected NOT_FOUND", (int)(kl > 40 ? 40 : kl), k,
          ldb_code_name(rc));
  }
  ldb_free(c->db, v);
  /* get_buf with a small buffer reports the full length and copies a
   * value that fits; one that does not leaves a prefix or nothing, and no
   * byte past what it copied is written. */
  if (present && tu_chance(&c->r, 20)) {
    uint8_t small[16], untouched[16];
    size_t full = 0;
    memset(small, 0xee, sizeof small);
    memset(untouched, 0xee, sizeof untouched);
    rc = txn ? ldb_txn_get_buf(txn, k, kl, small, sizeof small, &full)
             : ldb_get_buf(c->db, k, kl, small, sizeof small, &full);
    size_t n = wl < sizeof small ? wl : sizeof small;
    if (rc != LDB_OK || full != wl ||
        (memcmp(small, want, n) &&
         (wl <= sizeof small || memcmp(small, untouched, sizeof small))) ||
        memcmp(small + n, untouched, sizeof small - n))
      FAILF("get_buf: rc %s length %zu (model %zu)", ldb_code_name(rc), full,
            wl);
  }
}

/* Entries of m within the iterator range, in ascending key order, are the
 * indexes lo..hi-1 filtered by prefix. */
typedef struct range {
  const uint8_t *lower, *upper, *prefix;
  size_t lower_len, upper_len, prefix_len;
  int lower_excl, upper_excl, reverse;
} range;

static int in_range(const range *g, const void *k, size_t kl) {
  if (g->lower) {
    int cmp = tu_keycmp(k, kl, g->lower, g->lower_len);
    if (cmp < 0 || (cmp == 0 && g->lower_excl)) return 0;
  }
  if (g->upper) {
    int cmp = tu_keycmp(k, kl, g->upper, g->upper_len);
    if (cmp > 0 || (cmp == 0 && g->upper_excl)) return 0;
  }
  if (g->prefix && (kl < g->prefix_len || memcmp(k, g->prefix, g->prefix_len)))
    return 0;
  return 1;
}

/* The model's entries in iteration order, as indexes. */
static size_t expected_order(const tu_model *m, const range *g, size_t *out) {
  size_t n = 0, cnt = tu_model_count(m);
  for (size_t i = 0; i < cnt; i++) {
    const void *k;
    size_t kl;
    tu_model_at(m, i, &k, &kl, NULL, NULL);
    if (in_range(g, k, kl)) out[n++] = i;
  }
  if (g->reverse)
    for (size_t a = 0, b = n ? n - 1 : 0; a < b; a++, b--) {
      size_t t = out[a];
      out[a] = out[b];
      out[b] = t;
    }
  return n;
}

static void check_entry(ctx *c, ldb_iter *it, const tu_model *m, size_t idx,
                        size_t pos) {
  (void)c;
  const void *k, *v, *wk, *wv;
  size_t kl, vl, wkl, wvl;
  tu_model_at(m, idx, &wk, &wkl, &wv, &wvl);
  EXPECT_RC(ldb_iter_key(it, &k, &kl), LDB_OK);
  EXPECT_RC(ldb_iter_value(it, &v, &vl), LDB_OK);
  if (!ldb_iter_valid(it)) FAILF("iterator not valid on an entry");
  if (tu_keycmp(k, kl, wk, wkl))
    FAILF("iteration position %zu: key %.*s, expected %.*s", pos,
          (int)(kl > 40 ? 40 : kl), (const char *)k, (int)(wkl > 40 ? 40 : wkl),
          (const char *)wk);
  if (vl != wvl || memcmp(v, wv, vl))
    FAILF("iteration position %zu: value differs (%zu vs %zu bytes)", pos, vl,
          wvl);
}

static void random_bound(ctx *c, uint8_t *buf, const uint8_t **p, size_t *len) {
  if (tu_chance(&c->r, 50)) {
    *p = NULL;
    *len = 0;
    return;
  }
  if (tu_chance(&c->r, 80)) {
    *len = make_key((uint32_t)tu_below(&c->r, NKEYS), buf);
    if (tu_chance(&c->r, 30) && *len > 1) *len -= 1;
  } else {
    *len = 1 + tu_below(&c->r, 4);
    tu_fill(&c->r, buf, *len);
  }
  *p = buf;
}

static void check_iter(ctx *c, ldb_txn *txn, const tu_model *m) {
  uint8_t lb[1100], ub[1100], pb[8], sk[1100];
  range g;
  ldb_iter_options io;
  ldb_iter *it = NULL;
  size_t cnt = tu_model_count(m);
  size_t *order = malloc((cnt + 1) * sizeof *order);
  if (!order) tu_die("oom");
  memset(&g, 0, sizeof g);
  random_bound(c, lb, &g.lower, &g.lower_len);
  random_bound(c, ub, &g.upper, &g.upper_len);
  g.lower_excl = tu_chance(&c->r, 50);
  g.upper_excl = tu_chance(&c->r, 50);
  g.reverse = tu_chance(&c->r, 40);
  if (tu_chance(&c->r, 30)) {
    uint8_t kb[1100];
    size_t kl = make_key((uint32_t)tu_below(&c->r, NKEYS), kb);
    g.prefix_len = 1 + tu_below(&c->r, kl < 3 ? kl : 3);
    memcpy(pb, kb, g.prefix_len);
    g.prefix = pb;
  }
  memset(&io, 0, sizeof io);
  io.lower = g.lower;
  io.lower_len = g.lower_len;
  io.lower_exclusive = g.lower_excl;
  io.upper = g.upper;
  io.upper_len = g.upper_len;
  io.upper_exclusive = g.upper_excl;
  io.prefix = g.prefix;
  io.prefix_len = g.prefix_len;
  io.reverse = g.reverse;
  size_t n = expected_order(m, &g, order);
  EXPECT_RC(ldb_iter_create(c->db, txn, &io, &it), LDB_OK);
  if (ldb_iter_valid(it)) FAILF("new iterator is positioned");
  size_t limit = 1 + tu_below(&c->r, tu_chance(&c->r, 10) ? 100000 : 40);
  size_t pos = 0;
  int mode = (int)tu_below(&c->r, 4);
  int rc;
  if (mode == 0) { /* first, next... */
    rc = ldb_iter_first(it);
  } else if (mode == 1) { /* seek to a random key */
    size_t kl = make_key((uint32_t)tu_below(&c->r, NKEYS), sk);
    if (tu_chance(&c->r, 30) && kl > 1) kl--;
    /* expected: first entry in iteration order at or after sk */
    pos = 0;
    while (pos < n) {
      const void *k;
      size_t kkl;
      tu_model_at(m, order[pos], &k, &kkl, NULL, NULL);
      int cmp = tu_keycmp(k, kkl, sk, kl);
      if (g.reverse ? cmp <= 0 : cmp >= 0) break;
      pos++;
    }
    rc = ldb_iter_seek(it, sk, kl);
  } else if (mode == 2) { /* last, then prev (the opposite order) */
    rc = ldb_iter_last(it);
    size_t k = 0;
    while (rc == LDB_OK && k < limit) {
      if (k >= n) FAILF("last/prev returned more than %zu entries", n);
      check_entry(c, it, m, order[n - 1 - k], n - 1 - k);
      k++;
      rc = ldb_iter_prev(it);
    }
    if (rc != LDB_OK && rc != LDB_NOTFOUND)
      FAILF("last/prev: %s", ldb_code_name(rc));
    if (rc == LDB_NOTFOUND && k != n)
      FAILF("last/prev ended after %zu entries, expected %zu", k, n);
    goto out;
  } else { /* bulk read */
    rc = ldb_iter_first(it);
    uint8_t buf[8192];
    while (rc == LDB_OK) {
      size_t got = 0, used = 0;
      rc = ldb_iter_read(it, buf, sizeof buf, 1 + tu_below(&c->r, 10), &got,
                         &used);
      if (rc == LDB_NOTFOUND) break;
      if (rc != LDB_OK) FAILF("iter_read: %s", ldb_code_name(rc));
      if (got == 0) {
        /* Entry larger than the buffer: check the size and step over. */
        const void *wk, *wv;
        size_t wkl, wvl;
        if (pos >= n) FAILF("iter_read past the end");
        tu_model_at(m, order[pos], &wk, &wkl, &wv, &wvl);
        if (used != 8 + wkl + wvl)
          FAILF("iter_read needs %zu bytes, expected %zu", used, 8 + wkl + wvl);
        check_entry(c, it, m, order[pos], pos);
        pos++;
        rc = ldb_iter_next(it);
        continue;
      }
      size_t off = 0;
      for (size_t e = 0; e < got; e++, pos++) {
        const void *wk, *wv;
        size_t wkl, wvl;
        uint32_t kl, vl;
        if (pos >= n) FAILF("iter_read returned too many entries");
        tu_model_at(m, order[pos], &wk, &wkl, &wv, &wvl);
        memcpy(&kl, buf + off, 4);
        memcpy(&vl, buf + off + 4, 4);
        if (kl != wkl || vl != wvl || memcmp(buf + off + 8, wk, kl) ||
            memcmp(buf + off + 8 + kl, wv, vl))
          FAILF("iter_read entry %zu differs", pos);
        off += 8 + kl + vl;
      }
      if (off != used) FAILF("iter_read used %zu, entries take %zu", used, off);
      if (!ldb_iter_valid(it)) rc = LDB_NOTFOUND;
    }
    if (rc != LDB_NOTFOUND) FAILF("iter_read loop: %s", ldb_code_name(rc));
    if (pos != n) FAILF("iter_read saw %zu entries, expected %zu", pos, n);
    goto out;
  }
  /* modes 0 and 1: walk forward, sometimes stepping back once. */
  size_t steps = 0;
  while (rc == LDB_OK && steps < limit) {
    if (pos >= n)
      FAILF("iterator returned more entries than the model (%zu)", n);
    check_entry(c, it, m, order[pos], pos);
    steps++;
    if (pos > 0 && tu_chance(&c->r, 5)) {
      rc = ldb_iter_prev(it);
      if (rc != LDB_OK) FAILF("prev after next: %s", ldb_code_name(rc));
      pos--;
      check_entry(c, it, m, order[pos], pos);
    }
    rc = ldb_iter_next(it);
    pos++;
  }
  if (rc == LDB_NOTFOUND) {
    if (pos != n)
      FAILF("iteration ended at position %zu, expected %zu entries", pos, n);
    if (ldb_iter_valid(it)) FAILF("exhausted iterator still valid");
    const void *k;
    size_t kl;
    EXPECT_RC(ldb_iter_key(it, &k, &kl), LDB_NOTFOUND);
  } else if (rc != LDB_OK) {
    FAILF("iteration: %s", ldb_code_name(rc));
  }
out:
  ldb_iter_destroy(it);
  free(order);
}

static void full_compare(ctx *c) {
  ldb_iter *it = NULL;
  size_t i = 0, n = tu_model_count(c->m);
  int rc;
  c->what = "full scan";
  EXPECT_RC(ldb_iter_create(c->db, NULL, NULL, &it), LDB_OK);
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it), i++) {
    if (i >= n) FAILF("database has more than the model's %zu entries", n);
    check_entry(c, it, c->m, i, i);
  }
  if (rc != LDB_NOTFOUND) FAILF("full scan: %s", ldb_code_name(rc));
  if (i != n) FAILF("database has %zu entries, model %zu", i, n);
  ldb_iter_destroy(it);
}

/* ---- operations -------------------------------------------------------- */

static void op_put(ctx *c) {
  uint8_t k[1100];
  size_t kl = make_key((uint32_t)tu_below(&c->r, NKEYS), k);
  size_t vl = make_value(c, c->vbuf);
  c->what = "put";
  EXPECT_RC(ldb_put(c->db, k, kl, c->vbuf, vl), LDB_OK);
  tu_model_put(c->m, k, kl, c->vbuf, vl);
}

static void op_delete(ctx *c) {
  uint8_t k[1100];
  size_t kl = make_key((uint32_t)tu_below(&c->r, NKEYS), k);
  c->what = "delete";
  EXPECT_RC(ldb_delete(c->db, k, kl), LDB_OK);
  tu_model_del(c->m, k, kl);
}

static void op_get(ctx *c) {
  uint8_t k[1100];
  size_t kl = make_key((uint32_t)tu_below(&c->r, NKEYS), k);
  c->what = "get";
  check_get(c, NULL, c->m, k, kl);
}

static void op_batch(ctx *c) {
  ldb_batch *b = NULL;
  tu_model *after = NULL;
  int n = 1 + (int)tu_below(&c->r, 20);
  c->what = "batch";
  EXPECT_RC(ldb_batch_create(c->db, &b), LDB_OK);
  /* Model the batch as ops applied in order (later ones win). */
  typedef struct {
    uint8_t k[1100];
    size_t kl;
    int del;
    size_t vo, vl;
  } bop;
  bop *ops = malloc(sizeof(bop) * (size_t)n);
  uint8_t *vals = malloc(50000u * 4);
  size_t voff = 0;
  if (!ops || !vals) tu_die("oom");
  for (int i = 0; i < n; i++) {
    ops[i].kl = make_key((uint32_t)tu_below(&c->r, NKEYS), ops[i].k);
    ops[i].del = tu_chance(&c->r, 25);
    if (!ops[i].del) {
      size_t vl = make_value(c, c->vbuf);
      if (voff + vl > 50000u * 4) vl = 0;
      memcpy(vals + voff, c->vbuf, vl);
      ops[i].vo = voff;
      ops[i].vl = vl;
      voff += vl;
      EXPECT_RC(ldb_batch_put(b, ops[i].k, ops[i].kl, vals + ops[i].vo, vl),
                LDB_OK);
    } else {
      EXPECT_RC(ldb_batch_delete(b, ops[i].k, ops[i].kl), LDB_OK);
    }
  }
  if (ldb_batch_count(b) != (size_t)n)
    FAILF("batch count %zu, expected %d", ldb_batch_count(b), n);
  EXPECT_RC(ldb_write(c->db, b), LDB_OK);
  for (int i = 0; i < n; i++) {
    if (ops[i].del)
      tu_model_del(c->m, ops[i].k, ops[i].kl);
    else
      tu_model_put(c->m, ops[i].k, ops[i].kl, vals + ops[i].vo, ops[i].vl);
  }
  /* Reuse after clear: an empty batch commits nothing. */
  if (tu_chance(&c->r, 20)) {
    ldb_batch_clear(b);
    if (ldb_batch_count(b) != 0) FAILF("cleared batch not empty");
    EXPECT_RC(ldb_write(c->db, b), LDB_OK);
  }
  ldb_batch_destroy(b);
  free(ops);
  free(vals);
  (void)after;
}

/* A read-write transaction: reads see the snapshot plus its own writes. */
static void op_txn(ctx *c) {
  ldb_txn *t = NULL;
  tu_model *view = tu_model_clone(c->m);
  int n = 1 + (int)tu_below(&c->r, 12);
  c->what = "txn";
  EXPECT_RC(ldb_txn_begin(c->db, 0, &t), LDB_OK);
  for (int i = 0; i < n; i++) {
    uint8_t k[1100];
    size_t kl = make_key((uint32_t)tu_below(&c->r, NKEYS), k);
    uint64_t p = tu_below(&c->r, 100);
    if (p < 45) {
      size_t vl = make_value(c, c->vbuf);
      EXPECT_RC(ldb_txn_put(t, k, kl, c->vbuf, vl), LDB_OK);
      tu_model_put(view, k, kl, c->vbuf, vl);
    } else if (p < 60) {
      EXPECT_RC(ldb_txn_delete(t, k, kl), LDB_OK);
      tu_model_del(view, k, kl);
    } else if (p < 92) {
      check_get(c, t, view, k, kl);
    } else {
      c->what = "txn iterate";
      check_iter(c, t, view);
      c->what = "txn";
    }
  }
  if (tu_chance(&c->r, 25)) {
    ldb_txn_abort(t);
    c->what = "after abort";
    if (tu_chance(&c->r, 20)) full_compare(c);
    tu_model_free(view);
  } else {
    c->what = "txn commit";
    EXPECT_RC(ldb_txn_commit(t), LDB_OK);
    tu_model_free(c->m);
    c->m = view;
  }
}

/* A read-only snapshot must not see commits made after it began. */
static void op_snapshot(ctx *c) {
  ldb_txn *t = NULL;
  tu_model *snap = tu_model_clone(c->m);
  c->what = "snapshot";
  EXPECT_RC(ldb_txn_begin(c->db, LDB_TXN_READONLY, &t), LDB_OK);
  int writes = 1 + (int)tu_below(&c->r, 8);
  for (int i = 0; i < writes; i++) {
    if (tu_chance(&c->r, 70))
      op_put(c);
    else
      op_delete(c);
  }
  c->what = "snapshot read";
  for (int i = 0; i < 10; i++) {
    uint8_t k[1100];
    size_t kl = make_key((uint32_t)tu_below(&c->r, NKEYS), k);
    check_get(c, t, snap, k, kl);
  }
  if (tu_chance(&c->r, 30)) check_iter(c, t, snap);
  uint8_t v[4];
  EXPECT_RC(ldb_txn_put(t, "x", 1, v, 1), LDB_READONLY);
  EXPECT_RC(ldb_txn_commit(t), LDB_OK);
  tu_model_free(snap);
}

static void reopen(ctx *c) {
  c->what = "close";
  EXPECT_RC(ldb_close(c->db), LDB_OK);
  c->db = NULL;
  c->what = "reopen";
  EXPECT_RC(ldb_open("model", &c->opts, &c->db), LDB_OK);
  c->what = "check after reopen";
  EXPECT_RC(ldb_check(c->db), LDB_OK);
  full_compare(c);
}

static void run_config_on(uint32_t page_size, int compression, int sync_mode,
                          int posix, uint64_t nops);

static void run_config(uint32_t page_size, int compression, int sync_mode) {
  run_config_on(page_size, compression, sync_mode, 0,
                tu_scale(100000, 10, 2000));
}

static void run_config_on(uint32_t page_size, int compression, int sync_mode,
                          int posix, uint64_t nops) {
  char *dir = NULL;
  char name[64];
  ctx c;
  memset(&c, 0, sizeof c);
  snprintf(name, sizeof name, "model page=%u comp=%d sync=%d%s", page_size,
           compression, sync_mode, posix ? " posix" : "");
  c.name = name;
  g_ctx = &c;
  c.seed = tu_seed(name);
  tu_rng_init(&c.r, c.seed);
  c.vbuf = malloc(64 * 1024);
  c.m = tu_model_new();
  c.what = "setup";
  if (posix) {
    dir = tu_tmpdir("model");
    assert_int_equal(tu_store_dir(dir, 1, &c.store), LDB_OK);
  } else {
    assert_int_equal(ldb_store_memory(&c.store), LDB_OK);
  }
  ldb_options_default(&c.opts);
  c.opts.store = c.store;
  c.opts.page_size = page_size;
  c.opts.compression = compression;
  c.opts.sync_mode = sync_mode;
  c.opts.memtable_size = 256 * 1024 + tu_below(&c.r, 1024 * 1024);
  c.opts.cache_size = tu_chance(&c.r, 50) ? (uint64_t)page_size * 16 : 8u << 20;
  c.opts.background_checkpoint = (int)tu_below(&c.r, 2);
  EXPECT_RC(ldb_open("model", &c.opts, &c.db), LDB_OK);
  uint64_t reopen_every = nops / 8;
  for (c.op = 1; c.op <= nops; c.op++) {
    uint64_t p = tu_below(&c.r, 1000);
    if (p < 330)
      op_put(&c);
    else if (p < 430)
      op_delete(&c);
    else if (p < 640)
      op_get(&c);
    else if (p < 700)
      op_batch(&c);
    else if (p < 800)
      op_txn(&c);
    else if (p < 830)
      op_snapshot(&c);
    else if (p < 998) {
      c.what = "iterate";
      check_iter(&c, NULL, c.m);
    } else {
      c.what = "checkpoint";
      EXPECT_RC(ldb_checkpoint(c.db), LDB_OK);
    }
    if (c.op % reopen_every == 0) reopen(&c);
  }
  full_compare(&c);
  c.what = "final check";
  EXPECT_RC(ldb_check(c.db), LDB_OK);
  EXPECT_RC(ldb_close(c.db), LDB_OK);
  ldb_store_destroy(c.store);
  tu_model_free(c.m);
  free(c.vbuf);
  if (dir) {
    tu_rmrf(dir);
    free(dir);
  }
  g_ctx = NULL;
}

/* The same model on the directory store (pread/pwrite/fdatasync). */
static void test_posix_store(void **state) {
  (void)state;
  run_config_on(4096, LDB_COMPRESSION_LZ4, LDB_SYNC_NORMAL, 1,
                tu_scale(20000, 10, 2000));
}

#define CFG(ps, comp, sync)                                                    \
  static void test_p##ps##_##comp(void **state) {                              \
    (void)state;                                                               \
    run_config(ps, LDB_COMPRESSION_##comp, sync);                              \
  }
CFG(512, NONE, LDB_SYNC_OFF)
CFG(512, LZ4, LDB_SYNC_FULL)
CFG(512, ZSTD, LDB_SYNC_OFF)
CFG(4096, NONE, LDB_SYNC_FULL)
CFG(4096, LZ4, LDB_SYNC_OFF)
CFG(4096, ZSTD, LDB_SYNC_NORMAL)
CFG(16384, NONE, LDB_SYNC_OFF)
CFG(16384, LZ4, LDB_SYNC_NORMAL)
CFG(16384, ZSTD, LDB_SYNC_FULL)

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_p512_NONE),   cmocka_unit_test(test_p512_LZ4),
      cmocka_unit_test(test_p512_ZSTD),   cmocka_unit_test(test_p4096_NONE),
      cmocka_unit_test(test_p4096_LZ4),   cmocka_unit_test(test_p4096_ZSTD),
      cmocka_unit_test(test_p16384_NONE), cmocka_unit_test(test_p16384_LZ4),
      cmocka_unit_test(test_p16384_ZSTD), cmocka_unit_test(test_posix_store),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
