/*
 * fuzz_ops.c — libFuzzer target: differential test of operation sequences.
 * The input is read as a program of operations (put, delete, get, batch,
 * transaction commit/abort, iteration with bounds in either direction,
 * checkpoint, close/reopen) run against a database on a memory store with
 * 512-byte pages and, in parallel, against a 32-slot reference model. Any
 * difference, any error code other than the expected ones, a crash, or a
 * leaked allocation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_alloc.h"
#include "lightningdb.h"

#define NK 32

typedef struct slot {
  int present;
  size_t len;
  uint8_t fill; /* value bytes are all `fill`, except byte 0 = slot */
} slot;

#define CHECK(c)                                                               \
  do {                                                                         \
    if (!(c)) {                                                                \
      fprintf(stderr, "fuzz_ops: check failed: %s (line %d, errmsg %s)\n", #c, \
              __LINE__, ldb_errmsg(NULL));                                     \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* Slot i's key: short for most, long (300 bytes) for a few; slot 0's key
 * is a prefix of slot 1's. */
static size_t key_of(int i, uint8_t *k) {
  int n = snprintf((char *)k, 16, "k%02d", i);
  if (i == 0) return 2;
  if (i % 8 == 7) {
    memset(k + n, 'x', 300 - (size_t)n);
    return 300;
  }
  return (size_t)n;
}

static void value_of(int i, const slot *s, uint8_t *v) {
  memset(v, s->fill, s->len);
  if (s->len) v[0] = (uint8_t)i;
}

typedef struct rd {
  const uint8_t *p;
  size_t n;
} rd;
static int take(rd *r) {
  if (!r->n) return -1;
  r->n--;
  return *r->p++;
}

static void check_value(const slot *s, int i, const void *v, size_t vl) {
  static uint8_t want[4096];
  CHECK(s->present);
  CHECK(vl == s->len);
  value_of(i, s, want);
  CHECK(memcmp(v, want, vl) == 0);
}

static void open_db(ldb_store *st, ldb_db **db, int comp) {
  ldb_options o;
  ldb_options_default(&o);
  o.store = st;
  o.page_size = 512;
  o.cache_size = 512 * 16;
  o.background_checkpoint = 0;
  o.sync_mode = LDB_SYNC_OFF;
  o.memtable_size = 8 * 1024;
  o.compression = comp % 3;
  o.allocator = &fuzz_alloc_hook;
  CHECK(ldb_open("fuzz", &o, db) == LDB_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  slot m[NK];
  ldb_store *st = NULL;
  ldb_db *db = NULL;
  static uint8_t val[4096];
  uint8_t key[320];
  rd r = {data, size};
  memset(m, 0, sizeof m);
  fuzz_live_allocs = 0;
  CHECK(ldb_store_memory(&st) == LDB_OK);
  open_db(st, &db, size ? data[0] : 0);
  int op;
  int budget = 200;
  while (budget-- > 0 && (op = take(&r)) >= 0) {
    int a = take(&r);
    if (a < 0) break;
    int i = a % NK;
    size_t kl = key_of(i, key);
    switch (op % 9) {
    case 0:
    case 1: { /* put */
      int b = take(&r);
      slot s = {1, b < 0 ? 0 : (size_t)(b % 5 == 4 ? b * 12 : b), (uint8_t)a};
      value_of(i, &s, val);
      CHECK(ldb_put(db, key, kl, val, s.len) == LDB_OK);
      m[i] = s;
      break;
    }
    case 2: /* delete */
      CHECK(ldb_delete(db, key, kl) == LDB_OK);
      m[i].present = 0;
      break;
    case 3: { /* get */
      void *v = NULL;
      size_t vl;
      int rc = ldb_get(db, key, kl, &v, &vl);
      if (m[i].present) {
        CHECK(rc == LDB_OK);
        check_value(&m[i], i, v, vl);
      } else {
        CHECK(rc == LDB_NOTFOUND);
      }
      ldb_free(db, v);
      break;
    }
    case 4: { /* transaction over a few slots; commit or abort */
      ldb_txn *t = NULL;
      slot view[NK];
      memcpy(view, m, sizeof m);
      CHECK(ldb_txn_begin(db, 0, &t) == LDB_OK);
      int n = 1 + a % 5;
      for (int j = 0; j < n; j++) {
        int b = take(&r);
        if (b < 0) b = j;
        int x = b % NK;
        size_t xl = key_of(x, key);
        if (b & 0x80) {
          CHECK(ldb_txn_delete(t, key, xl) == LDB_OK);
          view[x].present = 0;
        } else if (b & 0x40) {
          void *v = NULL;
          size_t vl;
          int rc = ldb_txn_get(t, key, xl, &v, &vl);
          if (view[x].present) {
            CHECK(rc == LDB_OK);
            check_value(&view[x], x, v, vl);
          } else {
            CHECK(rc == LDB_NOTFOUND);
          }
          ldb_free(db, v);
        } else {
          slot s = {1, (size_t)b * 3, (uint8_t)(b + j)};
          value_of(x, &s, val);
          CHECK(ldb_txn_put(t, key, xl, val, s.len) == LDB_OK);
          view[x] = s;
        }
      }
      if (a & 1) {
        ldb_txn_abort(t);
      } else {
        CHECK(ldb_txn_commit(t) == LDB_OK);
        memcpy(m, view, sizeof m);
      }
      break;
    }
    case 5: { /* batch */
      ldb_batch *b = NULL;
      CHECK(ldb_batch_create(db, &b) == LDB_OK);
      int n = 1 + a % 6;
      slot view[NK];
      memcpy(view, m, sizeof m);
      for (int j = 0; j < n; j++) {
        int c = take(&r);
        if (c < 0) c = j;
        int x = c % NK;
        size_t xl = key_of(x, key);
        if (c & 0x80) {
          CHECK(ldb_batch_delete(b, key, xl) == LDB_OK);
          view[x].present = 0;
        } else {
          slot s = {1, (size_t)c, (uint8_t)(c ^ j)};
          value_of(x, &s, val);
          CHECK(ldb_batch_put(b, key, xl, val, s.len) == LDB_OK);
          view[x] = s;
        }
      }
      CHECK(ldb_write(db, b) == LDB_OK);
      memcpy(m, view, sizeof m);
      ldb_batch_destroy(b);
      break;
    }
    case 6: { /* iterate from a bound, either direction */
      ldb_iter_options io;
      ldb_iter *it = NULL;
      memset(&io, 0, sizeof io);
      io.reverse = a & 1;
      uint8_t bound[320];
      size_t bl = key_of((a >> 1) % NK, bound);
      if (a & 2) {
        io.lower = bound;
        io.lower_len = bl;
        io.lower_exclusive = (a >> 6) & 1;
      } else {
        io.upper = bound;
        io.upper_len = bl;
        io.upper_exclusive = (a >> 6) & 1;
      }
      CHECK(ldb_iter_create(db, NULL, &io, &it) == LDB_OK);
      /* Expected keys, sorted by bytes. */
      int order[NK], n = 0;
      uint8_t kb[NK][320];
      size_t kls[NK];
      for (int x = 0; x < NK; x++) {
        if (!m[x].present) continue;
        kls[x] = key_of(x, kb[x]);
        size_t cl = kls[x] < bl ? kls[x] : bl;
        int c = memcmp(kb[x], bound, cl);
        if (!c) c = kls[x] < bl ? -1 : kls[x] > bl;
        if (io.lower && (c < 0 || (c == 0 && io.lower_exclusive))) continue;
        if (io.upper && (c > 0 || (c == 0 && io.upper_exclusive))) continue;
        order[n++] = x;
      }
      for (int p = 1; p < n; p++)
        for (int q = p; q > 0; q--) {
          int u = order[q - 1], w = order[q];
          size_t cl = kls[u] < kls[w] ? kls[u] : kls[w];
          int c = memcmp(kb[u], kb[w], cl);
          if (!c) c = kls[u] < kls[w] ? -1 : 1;
          if ((c > 0) != (io.reverse != 0)) {
            order[q - 1] = w;
            order[q] = u;
          }
        }
      int pos = 0, rc;
      for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
        const void *k, *v;
        size_t kl2, vl;
        CHECK(pos < n);
        CHECK(ldb_iter_key(it, &k, &kl2) == LDB_OK);
        CHECK(ldb_iter_value(it, &v, &vl) == LDB_OK);
        CHECK(kl2 == kls[order[pos]] && !memcmp(k, kb[order[pos]], kl2));
        check_value(&m[order[pos]], order[pos], v, vl);
        pos++;
      }
      CHECK(rc == LDB_NOTFOUND);
      CHECK(pos == n);
      ldb_iter_destroy(it);
      break;
    }
    case 7: CHECK(ldb_checkpoint(db) == LDB_OK); break;
    default:
      CHECK(ldb_close(db) == LDB_OK);
      CHECK(fuzz_live_allocs == 0);
      open_db(st, &db, a);
      break;
    }
  }
  CHECK(ldb_check(db) == LDB_OK);
  CHECK(ldb_close(db) == LDB_OK);
  CHECK(fuzz_live_allocs == 0);
  ldb_store_destroy(st);
  return 0;
}
