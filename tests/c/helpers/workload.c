/*
 * workload.c — see workload.h.
 */
#include "workload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void wl_init(wl *w, uint64_t seed, uint32_t n, uint32_t nkeys,
             uint32_t page_size) {
  tu_rng r;
  tu_rng_init(&r, seed);
  w->n = n;
  w->page_size = page_size;
  w->txns = calloc(n ? n : 1, sizeof *w->txns);
  if (!w->txns) tu_die("out of memory");
  for (uint32_t i = 0; i < n; i++) {
    wl_txn *t = &w->txns[i];
    t->id = i + 1;
    t->nops = (uint8_t)(2 + tu_below(&r, 5));
    t->as_batch = tu_chance(&r, 30);
    for (int j = 0; j < t->nops; j++) {
      wl_op *o = &t->ops[j];
      o->key = (uint16_t)tu_below(&r, nkeys);
      o->del = tu_chance(&r, 15);
      if (tu_chance(&r, 4))
        o->vlen = page_size + (uint32_t)tu_below(&r, 3 * page_size);
      else
        o->vlen = 24 + (uint32_t)tu_below(&r, 120);
    }
  }
}

void wl_free(wl *w) {
  free(w->txns);
  w->txns = NULL;
}

void wl_value(uint32_t id, uint16_t key, uint32_t vlen, uint8_t *buf) {
  char head[32];
  int hn = snprintf(head, sizeof head, "txn=%08u key=%04u;", id, key);
  tu_rng r;
  tu_rng_init(&r, ((uint64_t)id << 16) ^ key);
  for (uint32_t i = 0; i < vlen; i++)
    buf[i] = i < (uint32_t)hn ? (uint8_t)head[i]
                              : (uint8_t)('a' + (tu_next(&r) % 4));
}

static void data_key(uint16_t key, char *k) {
  snprintf(k, 8, "d%04u", key);
}
static void marker_key(uint32_t id, char *k) {
  snprintf(k, 12, "m%06u", id);
}

int wl_apply(ldb_db *db, const wl *w, uint32_t i) {
  const wl_txn *t = &w->txns[i];
  uint8_t *val = malloc(4 * w->page_size + 256);
  char k[16], mv[16];
  int rc;
  if (!val) tu_die("out of memory");
  snprintf(mv, sizeof mv, "%u", t->id);
  marker_key(t->id, k);
  if (t->as_batch) {
    ldb_batch *b = NULL;
    rc = ldb_batch_create(db, &b);
    for (int j = 0; rc == LDB_OK && j < t->nops; j++) {
      const wl_op *o = &t->ops[j];
      char dk[8];
      data_key(o->key, dk);
      if (o->del) {
        rc = ldb_batch_delete(b, dk, strlen(dk));
      } else {
        wl_value(t->id, o->key, o->vlen, val);
        rc = ldb_batch_put(b, dk, strlen(dk), val, o->vlen);
      }
    }
    if (rc == LDB_OK) rc = ldb_batch_put(b, k, strlen(k), mv, strlen(mv));
    if (rc == LDB_OK) rc = ldb_write(db, b);
    ldb_batch_destroy(b);
  } else {
    ldb_txn *x = NULL;
    rc = ldb_txn_begin(db, 0, &x);
    for (int j = 0; rc == LDB_OK && j < t->nops; j++) {
      const wl_op *o = &t->ops[j];
      char dk[8];
      data_key(o->key, dk);
      if (o->del) {
        rc = ldb_txn_delete(x, dk, strlen(dk));
      } else {
        wl_value(t->id, o->key, o->vlen, val);
        rc = ldb_txn_put(x, dk, strlen(dk), val, o->vlen);
      }
    }
    if (rc == LDB_OK) rc = ldb_txn_put(x, k, strlen(k), mv, strlen(mv));
    if (rc == LDB_OK)
      rc = ldb_txn_commit(x);
    else if (x)
      ldb_txn_abort(x);
  }
  free(val);
  return rc;
}

static void apply_to_model(tu_model *m, const wl *w, uint32_t i) {
  const wl_txn *t = &w->txns[i];
  uint8_t *val = malloc(4 * w->page_size + 256);
  char k[16], mv[16];
  if (!val) tu_die("out of memory");
  for (int j = 0; j < t->nops; j++) {
    const wl_op *o = &t->ops[j];
    char dk[8];
    data_key(o->key, dk);
    if (o->del) {
      tu_model_del(m, dk, strlen(dk));
    } else {
      wl_value(t->id, o->key, o->vlen, val);
      tu_model_put(m, dk, strlen(dk), val, o->vlen);
    }
  }
  marker_key(t->id, k);
  snprintf(mv, sizeof mv, "%u", t->id);
  tu_model_put(m, k, strlen(k), mv, strlen(mv));
  free(val);
}

int wl_verify(ldb_db *db, const wl *w, const uint8_t *status, int prefix,
              uint32_t *survived, char *msg, size_t msg_cap) {
  tu_model *actual = tu_model_new(), *want = tu_model_new();
  uint8_t *present = calloc(w->n + 1, 1);
  ldb_iter *it = NULL;
  int rc;
  uint32_t count = 0;
  if (!present) tu_die("out of memory");
  msg[0] = 0;
  rc = ldb_iter_create(db, NULL, NULL, &it);
  if (rc) goto done;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
    const void *k, *v;
    size_t kl, vl;
    if ((rc = ldb_iter_key(it, &k, &kl)) != LDB_OK) goto done;
    if ((rc = ldb_iter_value(it, &v, &vl)) != LDB_OK) goto done;
    if (kl >= 2 && !memcmp(k, "zz", 2)) continue;
    tu_model_put(actual, k, kl, v, vl);
  }
  if (rc != LDB_NOTFOUND) goto done;
  rc = LDB_OK;
  /* Which markers survived. */
  for (size_t i = 0; i < tu_model_count(actual); i++) {
    const void *k;
    size_t kl;
    tu_model_at(actual, i, &k, &kl, NULL, NULL);
    if (kl != 7 || ((const char *)k)[0] != 'm') continue;
    char buf[8];
    memcpy(buf, (const char *)k + 1, 6);
    buf[6] = 0;
    unsigned long id = strtoul(buf, NULL, 10);
    if (id < 1 || id > w->n) {
      snprintf(msg, msg_cap, "unexpected marker key m%06lu", id);
      rc = LDB_CORRUPT;
      goto done;
    }
    present[id] = 1;
    count++;
  }
  for (uint32_t id = 1; id <= w->n; id++) {
    uint8_t st = status[id - 1];
    if (present[id] && st == WL_ABSENT) {
      snprintf(msg, msg_cap, "txn %u is present but was never attempted", id);
      rc = LDB_CORRUPT;
      goto done;
    }
    if (!present[id] && st == WL_PRESENT) {
      snprintf(msg, msg_cap,
               "txn %u was acknowledged (durable) but is "
               "missing (%u txns survived)",
               id, count);
      rc = LDB_CORRUPT;
      goto done;
    }
    if (prefix && present[id] && id > 1 && !present[id - 1]) {
      snprintf(msg, msg_cap,
               "survivors are not a prefix: txn %u present "
               "but txn %u missing",
               id, id - 1);
      rc = LDB_CORRUPT;
      goto done;
    }
  }
  for (uint32_t id = 1; id <= w->n; id++)
    if (present[id]) apply_to_model(want, w, id - 1);
  /* Exact comparison. */
  size_t na = tu_model_count(actual), nw = tu_model_count(want);
  for (size_t i = 0; i < na || i < nw; i++) {
    const void *ak = NULL, *av = NULL, *wk = NULL, *wv = NULL;
    size_t akl = 0, avl = 0, wkl = 0, wvl = 0;
    if (i < na) tu_model_at(actual, i, &ak, &akl, &av, &avl);
    if (i < nw) tu_model_at(want, i, &wk, &wkl, &wv, &wvl);
    if (!ak || !wk || tu_keycmp(ak, akl, wk, wkl) || avl != wvl ||
        memcmp(av, wv, avl)) {
      snprintf(msg, msg_cap,
               "state mismatch at entry %zu: db has %.*s (%zu bytes: %.*s), "
               "expected %.*s (%zu bytes: %.*s); %u txns survived",
               i, ak ? (int)akl : 6, ak ? (const char *)ak : "<none>", avl,
               av ? (int)(avl < 24 ? avl : 24) : 0, av ? (const char *)av : "",
               wk ? (int)wkl : 6, wk ? (const char *)wk : "<none>", wvl,
               wv ? (int)(wvl < 24 ? wvl : 24) : 0, wv ? (const char *)wv : "",
               count);
      rc = LDB_CORRUPT;
      goto done;
    }
  }
done:
  if (survived) *survived = count;
  if (rc != LDB_OK && rc != LDB_CORRUPT && !msg[0])
    snprintf(msg, msg_cap, "scan failed: %s (%s)", ldb_code_name(rc),
             ldb_errmsg(db));
  ldb_iter_destroy(it);
  free(present);
  tu_model_free(actual);
  tu_model_free(want);
  return rc;
}

void wl_options(ldb_options *o, ldb_store *store, int sync_mode,
                uint32_t page_size) {
  ldb_options_default(o);
  o->store = store;
  o->sync_mode = sync_mode;
  o->page_size = page_size;
  o->cache_size = (uint64_t)page_size * 32;
  o->memtable_size = 64 * 1024;
  o->background_checkpoint = 0;
  o->sync_interval_ms = 1;
}

int wl_run(ldb_db *db, const wl *w, uint32_t from, uint32_t to,
           uint32_t ckpt_every, int sync_mode, uint8_t *status,
           uint32_t *next) {
  int rc = LDB_OK;
  uint32_t i = from;
  for (; i < to; i++) {
    status[i] = WL_MAYBE;
    rc = wl_apply(db, w, i);
    if (rc != LDB_OK) {
      i++;
      break;
    }
    if (sync_mode == LDB_SYNC_FULL) status[i] = WL_PRESENT;
    if (ckpt_every && (i + 1) % ckpt_every == 0) {
      rc = (i / ckpt_every) % 2 ? ldb_checkpoint(db) : ldb_flush(db);
      if (rc != LDB_OK) {
        i++;
        break;
      }
      for (uint32_t j = from; j <= i; j++)
        status[j] = WL_PRESENT;
    }
  }
  if (next) *next = i;
  return rc;
}

void wl_copy_store(ldb_store *src, ldb_store *dst) {
  static const char *names[] = {
      "data.ldb",    "feed.head",   "wal-0.log",   "wal-1.log",
      "feed-00.log", "feed-01.log", "feed-02.log", "feed-03.log",
      "feed-04.log", "feed-05.log", "feed-06.log", "feed-07.log",
      "feed-08.log", "feed-09.log", "feed-10.log", "feed-11.log",
      "feed-12.log", "feed-13.log", "feed-14.log", "feed-15.log"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    ldb_file *f = NULL, *g = NULL;
    uint64_t size;
    if (src->methods->open(src, names[i], 0, &f) != LDB_OK) continue;
    if (f->store->methods->size(f, &size) != LDB_OK) tu_die("size");
    uint8_t *buf = malloc(size ? size : 1);
    size_t got = 0;
    if (!buf) tu_die("oom");
    if (f->store->methods->read(f, 0, buf, size, &got) != LDB_OK || got != size)
      tu_die("read %s", names[i]);
    if (dst->methods->open(dst, names[i], LDB_STORE_CREATE, &g) != LDB_OK ||
        g->store->methods->truncate(g, 0) != LDB_OK ||
        g->store->methods->write(g, 0, buf, size) != LDB_OK ||
        g->store->methods->sync(g) != LDB_OK)
      tu_die("copy %s", names[i]);
    g->store->methods->close(g);
    f->store->methods->close(f);
    free(buf);
  }
}
