/*
 * fuzz_big.c — libFuzzer target: differential test over a large key space
 * on the directory store, with the data file read through the mapping.
 *
 * fuzz_ops.c covers the API's corners on 32 keys in memory; this target
 * reaches what 32 keys cannot: multi-level trees, leaf repacks across many
 * leaves, the memtable's unindexed tail (sorted appends past the largest
 * key), the rightmost-leaf finger, overflow chains and combined page runs,
 * and the bounded mapping (mmap_bounded with the smallest cache, so its
 * CLOCK releases chunks all the time).
 *
 * The input's first byte picks the configuration (page size, compression,
 * background checkpoint thread, mmap_bounded); the rest is a program of
 * operations, each an opcode byte and argument bytes (a PRNG seeded from
 * them sizes the bulk operations): single puts and deletes, sorted runs
 * and random sets written as batches, transactions, range deletes,
 * checkpoints (whole or in steps), close/reopen, ldb_check, full scans,
 * ldb_count, ldb_iter_read (the bulk read of the bindings), ldb_get_buf,
 * iterators over a transaction's own writes, and two iterators that live across
 * all of these, each compared with a copy of the model taken when it was made
 * (its snapshot). Keys are NK indexes; key(i) starts with i as two big-endian
 * bytes (key(0) is the empty key), so byte order is index order, and has 0..40
 * bytes of padding (600 for one index in 97). A value is (length, seed): its
 * bytes are generated from the seed, repetitive for even seeds (compressible).
 * Any difference from the model, an unexpected error code, a crash or a
 * leaked allocation aborts, and so does a NULL key or value pointer from
 * an iterator (never NULL, even when empty).
 *
 * The database lives in a directory under /dev/shm (tmpfs), or /tmp.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_alloc.h"
#include "lightningdb.h"

#define NK 12000
#define MAXV (200 * 1024)
#define NIT 2

typedef struct slot {
  uint32_t len; /* value length; present when seed != 0 */
  uint32_t seed;
} slot;

#define CHECK(c)                                                               \
  do {                                                                         \
    if (!(c)) {                                                                \
      fprintf(stderr, "fuzz_big: check failed: %s (line %d, errmsg %s)\n", #c, \
              __LINE__, ldb_errmsg(NULL));                                     \
      abort();                                                                 \
    }                                                                          \
  } while (0)

static char dir[64];

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

/* Every key but the empty one starts with PFX (a long prefix every page
 * shares: the pages' prefix compression and search hints). */
#define PFX "tenant-0042/objects/"
#define PFXLEN (sizeof PFX - 1)

static size_t key_of(uint32_t i, uint8_t *k) {
  if (i == 0) return 0;
  memcpy(k, PFX, PFXLEN);
  k[PFXLEN] = (uint8_t)(i >> 8);
  k[PFXLEN + 1] = (uint8_t)i;
  size_t pad = i % 97 == 5    ? 600
               : i % 97 == 50 ? LDB_MAX_KEY_SIZE - PFXLEN - 2
                              : mix(i) % 41;
  for (size_t j = 0; j < pad; j++)
    k[PFXLEN + 2 + j] = (uint8_t)('a' + (i + j) % 26);
  return PFXLEN + 2 + pad;
}

static void value_of(const slot *s, uint8_t *v) {
  uint64_t x = s->seed;
  if (!(s->seed & 1)) {
    for (uint32_t j = 0; j < s->len; j++)
      v[j] = (uint8_t)("abcdefgh"[j % 8]);
    for (uint32_t j = 0; j < s->len && j < 8; j++)
      v[j] = (uint8_t)(x >> j);
    return;
  }
  for (uint32_t j = 0; j < s->len; j++) {
    if (j % 8 == 0) x = mix(x + j);
    v[j] = (uint8_t)(x >> (j % 8 * 8));
  }
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

static uint32_t take16(rd *r) {
  int a = take(r), b = take(r);
  return (uint32_t)((a < 0 ? 0 : a) << 8 | (b < 0 ? 0 : b));
}

static uint8_t kbuf[LDB_MAX_KEY_SIZE + 1], kbuf2[LDB_MAX_KEY_SIZE + 1],
    vbuf[MAXV];

static void check_value(const slot *s, const void *v, size_t vl) {
  CHECK(s->seed != 0);
  CHECK(vl == s->len);
  value_of(s, vbuf);
  CHECK(memcmp(v, vbuf, vl) == 0);
}

/* A value length: empty, small, a few hundred bytes, overflow pages, or a
 * chain long enough for combined page runs. */
static uint32_t pick_len(uint64_t x, uint32_t page) {
  switch (x % 16) {
  case 0: return 0;
  case 1:
  case 2:
  case 3:
  case 4:
  case 5: return (uint32_t)(x >> 8) % 24;
  case 6:
  case 7:
  case 8:
  case 9: return (uint32_t)(x >> 8) % 200;
  case 10:
  case 11: return (uint32_t)(x >> 8) % 600;
  case 12:
  case 13: return page / 2 + (uint32_t)(x >> 8) % (3 * page);
  case 14: return (uint32_t)(x >> 8) % (8 * page);
  default: return (x >> 8) % 8 ? (uint32_t)(x >> 16) % 1000 : MAXV - 1;
  }
}

typedef struct fit {
  ldb_iter *it;
  slot *snap;      /* the model when the iterator was made */
  uint32_t lo, hi; /* the range, inclusive, as indexes (lo > hi: empty) */
  int prefix;      /* -1 or the first byte keys must have */
  int reverse;
  long pos; /* current index, -1 when unpositioned */
} fit;

static int in_range(const fit *f, long i) {
  if (i < (long)f->lo || i > (long)f->hi) return 0;
  if (!f->snap[i].seed) return 0;
  if (f->prefix >= 0 && (i == 0 || (i >> 8) != f->prefix)) return 0;
  return 1;
}

/* The next index from `from` (exclusive) stepping by dir, or -1. */
static long step_model(const fit *f, long from, int dir) {
  for (long i = from + dir; i >= 0 && i < NK; i += dir)
    if (in_range(f, i)) return i;
  return -1;
}

static void expect_at(fit *f, int rc, long want) {
  if (want < 0) {
    CHECK(rc == LDB_NOTFOUND);
    CHECK(!ldb_iter_valid(f->it));
    f->pos = -1;
    return;
  }
  CHECK(rc == LDB_OK);
  const void *k, *v;
  size_t kl, vl;
  CHECK(ldb_iter_key(f->it, &k, &kl) == LDB_OK && k);
  size_t wl = key_of((uint32_t)want, kbuf2);
  CHECK(kl == wl && !memcmp(k, kbuf2, kl));
  CHECK(ldb_iter_value(f->it, &v, &vl) == LDB_OK && v);
  check_value(&f->snap[want], v, vl);
  f->pos = want;
}

static void iter_drop(fit *f, int closed) {
  if (!f->it) return;
  if (closed) CHECK(ldb_iter_next(f->it) == LDB_CLOSED);
  ldb_iter_destroy(f->it);
  free(f->snap);
  f->it = NULL;
  f->snap = NULL;
}

static const uint32_t pages[4] = {512, 1024, 4096, 2048};

static void open_db(ldb_store *st, ldb_db **db, int cfg) {
  ldb_options o;
  ldb_options_default(&o);
  o.store = st;
  o.page_size = pages[cfg & 3];
  o.cache_size = 0;               /* raised to the minimum, 16 pages */
  o.compression = (cfg >> 2) & 3; /* none, lz4, zstd, snappy */
  o.background_checkpoint = (cfg >> 4) & 1;
  o.mmap_bounded = !((cfg >> 5) & 1);
  o.sync_mode = LDB_SYNC_OFF;
  o.memtable_size = 16 * 1024 << ((cfg >> 6) & 3);
  o.allocator = &fuzz_alloc_hook;
  int rc = ldb_open("fuzz", &o, db);
  CHECK(rc == LDB_OK);
}

static void clear_dir(void) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char path[600];
  if (!d) return;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
}

static void remove_dir(void) {
  clear_dir();
  rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  snprintf(dir, sizeof dir, "/dev/shm/ldb-fuzzbig-XXXXXX");
  if (!mkdtemp(dir)) {
    snprintf(dir, sizeof dir, "/tmp/ldb-fuzzbig-XXXXXX");
    if (!mkdtemp(dir)) abort();
  }
  atexit(remove_dir);
  return 0;
}

static uint32_t model_max(const slot *m) {
  for (long i = NK - 1; i >= 0; i--)
    if (m[i].seed) return (uint32_t)i;
  return 0;
}

static void full_scan(ldb_db *db, const slot *m) {
  ldb_iter *it = NULL;
  CHECK(ldb_iter_create(db, NULL, NULL, &it) == LDB_OK);
  long i = -1;
  int rc;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
    const void *k, *v;
    size_t kl, vl;
    do
      i++;
    while (i < NK && !m[i].seed);
    CHECK(i < NK);
    CHECK(ldb_iter_key(it, &k, &kl) == LDB_OK && k);
    size_t wl = key_of((uint32_t)i, kbuf2);
    CHECK(kl == wl && !memcmp(k, kbuf2, kl));
    CHECK(ldb_iter_value(it, &v, &vl) == LDB_OK && v);
    check_value(&m[i], v, vl);
  }
  CHECK(rc == LDB_NOTFOUND);
  do
    i++;
  while (i < NK && !m[i].seed);
  CHECK(i == NK);
  ldb_iter_destroy(it);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static slot m[NK];
  fit its[NIT];
  ldb_store *st = NULL;
  ldb_db *db = NULL;
  rd r = {data, size};
  uint32_t gen = 1;
  if (size < 1) return 0;
  int cfg = take(&r);
  const uint32_t page = pages[cfg & 3];
  memset(m, 0, sizeof m);
  memset(its, 0, sizeof its);
  fuzz_live_allocs = 0;
  clear_dir();
  CHECK(ldb_store_posix(dir, 0, &st) == LDB_OK);
  open_db(st, &db, cfg);
  int op;
  long work = 60000; /* keys written, read or stepped over, per input */
  while (work > 0 && (op = take(&r)) >= 0) {
    uint64_t x = mix((uint64_t)op << 32 | take16(&r) | (uint64_t)gen << 48);
    gen++;
    switch (op % 20) {
    case 0:
    case 1: { /* put */
      uint32_t i = (uint32_t)(x % NK);
      slot s = {pick_len(x >> 20, page), gen};
      value_of(&s, vbuf);
      size_t kl = key_of(i, kbuf);
      CHECK(ldb_put(db, kbuf, kl, vbuf, s.len) == LDB_OK);
      m[i] = s;
      work -= 1 + s.len / 4096;
      break;
    }
    case 2: { /* delete */
      uint32_t i = (uint32_t)(x % NK);
      size_t kl = key_of(i, kbuf);
      CHECK(ldb_delete(db, kbuf, kl) == LDB_OK);
      m[i].seed = 0;
      work--;
      break;
    }
    case 3: { /* get */
      uint32_t i = (uint32_t)(x % NK);
      if (x & (1 << 20)) i = model_max(m) - (uint32_t)(x >> 24) % 8;
      if (i >= NK) i = 0;
      size_t kl = key_of(i, kbuf);
      void *v = NULL;
      size_t vl;
      int rc = ldb_get(db, kbuf, kl, &v, &vl);
      if (m[i].seed) {
        CHECK(rc == LDB_OK);
        check_value(&m[i], v, vl);
      } else {
        CHECK(rc == LDB_NOTFOUND);
      }
      ldb_free(db, v);
      /* ldb_get_buf into a buffer that may be too small: a value that
       * does not fit leaves its prefix or nothing, and nothing past it */
      static uint8_t gb[MAXV], fresh[64];
      size_t cap = (x >> 32) & 1 ? MAXV : (x >> 33) % 64, full = 0;
      memset(gb, 0xee, sizeof fresh);
      memset(fresh, 0xee, sizeof fresh);
      rc = ldb_get_buf(db, kbuf, kl, gb, cap, &full);
      if (m[i].seed) {
        CHECK(rc == LDB_OK && full == m[i].len);
        value_of(&m[i], vbuf);
        size_t n = full < cap ? full : cap;
        CHECK(!memcmp(gb, vbuf, n) || (full > cap && !memcmp(gb, fresh, cap)));
        if (cap < sizeof fresh) CHECK(!memcmp(gb + n, fresh, sizeof fresh - n));
      } else {
        CHECK(rc == LDB_NOTFOUND);
      }
      work--;
      break;
    }
    case 4:
    case 5:
    case 6: { /* a sorted run as one batch: appended past the largest key,
                 or from anywhere; some deletes; each batch its own
                 commit or several batches in a row */
      uint32_t mx = model_max(m);
      uint32_t start =
          (x & 3) ? mx + 1 + (uint32_t)(x >> 2) % 3 : (uint32_t)(x >> 2) % NK;
      uint32_t n = 1 + (uint32_t)(x >> 16) % 400;
      uint32_t stride = 1 + (uint32_t)(x >> 28) % 3;
      int nb = 1 + (int)(x >> 32) % 4;
      for (int b = 0; b < nb && start < NK; b++) {
        ldb_batch *bt = NULL;
        CHECK(ldb_batch_create(db, &bt) == LDB_OK);
        slot *view = malloc(sizeof m);
        CHECK(view);
        memcpy(view, m, sizeof m);
        uint32_t i = start;
        for (uint32_t j = 0; j < n && i < NK; j++, i += stride) {
          uint64_t y = mix(x + j * 7919 + b);
          size_t kl = key_of(i, kbuf);
          if (y % 23 == 0) {
            CHECK(ldb_batch_delete(bt, kbuf, kl) == LDB_OK);
            view[i].seed = 0;
          } else {
            slot s = {pick_len(y >> 8, page) % (y % 5 ? 300 : MAXV), ++gen};
            value_of(&s, vbuf);
            CHECK(ldb_batch_put(bt, kbuf, kl, vbuf, s.len) == LDB_OK);
            view[i] = s;
          }
        }
        CHECK(ldb_write(db, bt) == LDB_OK);
        memcpy(m, view, sizeof m);
        free(view);
        ldb_batch_destroy(bt);
        work -= n;
        start = i;
      }
      break;
    }
    case 7: { /* random keys as one batch */
      ldb_batch *bt = NULL;
      CHECK(ldb_batch_create(db, &bt) == LDB_OK);
      slot *view = malloc(sizeof m);
      CHECK(view);
      memcpy(view, m, sizeof m);
      uint32_t n = 1 + (uint32_t)(x >> 8) % 64;
      for (uint32_t j = 0; j < n; j++) {
        uint64_t y = mix(x ^ (j + 1));
        uint32_t i = (uint32_t)(y % NK);
        size_t kl = key_of(i, kbuf);
        if (y % 5 == 0) {
          CHECK(ldb_batch_delete(bt, kbuf, kl) == LDB_OK);
          view[i].seed = 0;
        } else {
          slot s = {pick_len(y >> 20, page), ++gen};
          value_of(&s, vbuf);
          CHECK(ldb_batch_put(bt, kbuf, kl, vbuf, s.len) == LDB_OK);
          view[i] = s;
        }
      }
      CHECK(ldb_write(db, bt) == LDB_OK);
      memcpy(m, view, sizeof m);
      free(view);
      ldb_batch_destroy(bt);
      work -= n;
      break;
    }
    case 8: { /* transaction: reads, puts, deletes; commit or abort */
      ldb_txn *t = NULL;
      slot *view = malloc(sizeof m);
      CHECK(view);
      memcpy(view, m, sizeof m);
      CHECK(ldb_txn_begin(db, 0, &t) == LDB_OK);
      uint32_t n = 1 + (uint32_t)(x >> 8) % 12;
      for (uint32_t j = 0; j < n; j++) {
        uint64_t y = mix(x + j);
        uint32_t i = (uint32_t)(y % NK);
        size_t kl = key_of(i, kbuf);
        if (y % 3 == 0) {
          void *v = NULL;
          size_t vl;
          int rc = ldb_txn_get(t, kbuf, kl, &v, &vl);
          if (view[i].seed) {
            CHECK(rc == LDB_OK);
            check_value(&view[i], v, vl);
          } else {
            CHECK(rc == LDB_NOTFOUND);
          }
          ldb_free(db, v);
        } else if (y % 3 == 1) {
          CHECK(ldb_txn_delete(t, kbuf, kl) == LDB_OK);
          view[i].seed = 0;
        } else {
          slot s = {pick_len(y >> 20, page), ++gen};
          value_of(&s, vbuf);
          CHECK(ldb_txn_put(t, kbuf, kl, vbuf, s.len) == LDB_OK);
          view[i] = s;
        }
      }
      if ((x >> 31) & 1) { /* an iterator over the txn: its writes too */
        ldb_iter *ti = NULL;
        ldb_iter_options io;
        memset(&io, 0, sizeof io);
        io.reverse = (int)(x >> 32) & 1;
        uint32_t a = (uint32_t)(x >> 33) % NK;
        io.lower = kbuf;
        io.lower_len = key_of(a, kbuf);
        CHECK(ldb_iter_create(db, t, &io, &ti) == LDB_OK);
        fit f = {ti, view, a, NK - 1, -1, io.reverse, -1};
        int dirn = io.reverse ? -1 : 1;
        int rc = ldb_iter_first(ti);
        expect_at(&f, rc, step_model(&f, dirn > 0 ? -1 : NK, dirn));
        for (int j = 0; j < 50 && f.pos >= 0; j++)
          expect_at(&f, ldb_iter_next(ti), step_model(&f, f.pos, dirn));
        ldb_iter_destroy(ti);
      }
      if (x & (1 << 30)) {
        ldb_txn_abort(t);
      } else {
        CHECK(ldb_txn_commit(t) == LDB_OK);
        memcpy(m, view, sizeof m);
      }
      free(view);
      work -= n;
      break;
    }
    case 9:
    case 10: { /* make an iterator (replacing the one in its slot) */
      fit *f = &its[x % NIT];
      iter_drop(f, 0);
      ldb_iter_options io;
      memset(&io, 0, sizeof io);
      f->snap = malloc(sizeof m);
      CHECK(f->snap);
      memcpy(f->snap, m, sizeof m);
      f->reverse = (int)(x >> 1) & 1;
      io.reverse = f->reverse;
      f->lo = 0;
      f->hi = NK - 1;
      f->prefix = -1;
      switch ((x >> 2) % 4) {
      case 0: break;
      case 1: { /* bounds from model keys */
        uint32_t a = (uint32_t)(x >> 8) % NK, b = (uint32_t)(x >> 24) % NK;
        if (a > b) {
          uint32_t t = a;
          a = b;
          b = t;
        }
        io.lower = kbuf;
        io.lower_len = key_of(a, kbuf);
        io.lower_exclusive = (int)(x >> 40) & 1;
        io.upper = kbuf2;
        io.upper_len = key_of(b, kbuf2);
        io.upper_exclusive = (int)(x >> 41) & 1;
        f->lo = a + (uint32_t)io.lower_exclusive;
        f->hi = b - (uint32_t)(io.upper_exclusive && b > 0);
        if (io.upper_exclusive && b == 0) f->lo = 1, f->hi = 0;
        break;
      }
      case 2: { /* a prefix: the first byte */
        f->prefix = (int)((x >> 8) % (NK >> 8 | 1));
        memcpy(kbuf, PFX, PFXLEN);
        kbuf[PFXLEN] = (uint8_t)f->prefix;
        io.prefix = kbuf;
        io.prefix_len = PFXLEN + 1;
        break;
      }
      default: { /* lower bound only, near the end */
        uint32_t a = model_max(m);
        a = a > 50 ? a - (uint32_t)(x >> 8) % 50 : 0;
        io.lower = kbuf;
        io.lower_len = key_of(a, kbuf);
        f->lo = a;
        break;
      }
      }
      CHECK(ldb_iter_create(db, NULL, &io, &f->it) == LDB_OK);
      f->pos = -1;
      break;
    }
    case 11:
    case 12: { /* step an iterator a few times */
      fit *f = &its[x % NIT];
      if (!f->it) break;
      int dirn = f->reverse ? -1 : 1;
      if (f->pos < 0) {
        int last = (int)(x >> 1) & 1;
        int rc = last ? ldb_iter_last(f->it) : ldb_iter_first(f->it);
        long want = last ? step_model(f, dirn > 0 ? NK : -1, -dirn)
                         : step_model(f, dirn > 0 ? -1 : NK, dirn);
        expect_at(f, rc, want);
      }
      uint32_t n = 1 + (uint32_t)(x >> 8) % 100;
      for (uint32_t j = 0; j < n && f->pos >= 0; j++) {
        int back = (mix(x + j) % 4) == 0;
        int rc = back ? ldb_iter_prev(f->it) : ldb_iter_next(f->it);
        expect_at(f, rc, step_model(f, f->pos, back ? -dirn : dirn));
      }
      work -= n;
      break;
    }
    case 13: { /* seek an iterator */
      fit *f = &its[x % NIT];
      if (!f->it) break;
      uint32_t i = (uint32_t)(x >> 8) % NK;
      if (x & (1ULL << 40)) i = model_max(f->snap);
      size_t kl = key_of(i, kbuf);
      /* key(i) + 1 byte: just after i (not for the longest keys) */
      int plus = i > 0 && (x >> 41) & 1 && kl < LDB_MAX_KEY_SIZE;
      if (plus) kbuf[kl++] = 0xff;
      int rc = ldb_iter_seek(f->it, kbuf, kl);
      long want;
      if (!f->reverse) {
        long from = (long)i - 1 + plus;
        if (from < (long)f->lo - 1) from = (long)f->lo - 1;
        want = step_model(f, from, 1);
      } else {
        long from = (long)i + 1;
        if (from > (long)f->hi + 1) from = (long)f->hi + 1;
        want = step_model(f, from, -1);
      }
      expect_at(f, rc, want);
      break;
    }
    case 14: { /* delete a range */
      ldb_iter_options io;
      memset(&io, 0, sizeof io);
      uint32_t a = (uint32_t)(x >> 8) % NK;
      uint32_t b = a + (uint32_t)(x >> 24) % 300;
      if (b >= NK) b = NK - 1;
      io.lower = kbuf;
      io.lower_len = key_of(a, kbuf);
      io.upper = kbuf2;
      io.upper_len = key_of(b, kbuf2);
      io.reverse = (int)(x >> 40) & 1;
      uint64_t limit = (x >> 41) & 1 ? UINT64_MAX : (x >> 42) % 50;
      uint64_t del = 0, want = 0;
      CHECK(ldb_delete_range(db, NULL, &io, limit, &del) == LDB_OK);
      for (uint32_t j = 0; j <= b - a && want < limit; j++) {
        uint32_t i = io.reverse ? b - j : a + j;
        if (!m[i].seed) continue;
        m[i].seed = 0;
        want++;
      }
      CHECK(del == want);
      work -= (long)(b - a);
      break;
    }
    case 15: CHECK(ldb_checkpoint(db) == LDB_OK); break;
    case 16: {
      int more = 1;
      uint32_t steps = 1 + (uint32_t)(x >> 8) % 8;
      for (uint32_t j = 0; j < steps && more; j++)
        CHECK(ldb_checkpoint_step(db, 1 + (uint32_t)(x >> 16) % 300, &more) ==
              LDB_OK);
      break;
    }
    case 17: /* close and reopen: open iterators are invalidated */
      if ((x >> 8) % 3) break;
      CHECK(ldb_close(db) == LDB_OK);
      for (int j = 0; j < NIT; j++)
        iter_drop(&its[j], 1);
      CHECK(fuzz_live_allocs == 0);
      open_db(st, &db, cfg);
      break;
    case 18:
      if ((x >> 8) % 4 == 1) { /* ldb_count and ldb_iter_read */
        ldb_iter_options io;
        memset(&io, 0, sizeof io);
        uint32_t a = (uint32_t)(x >> 16) % NK;
        io.lower = kbuf;
        io.lower_len = key_of(a, kbuf);
        io.reverse = (int)(x >> 40) & 1;
        uint64_t cnt = 0, want = 0;
        CHECK(ldb_count(db, NULL, &io, &cnt) == LDB_OK);
        for (uint32_t i = a; i < NK; i++)
          want += m[i].seed != 0;
        CHECK(cnt == want);
        fit f = {NULL, m, a, NK - 1, -1, io.reverse, -1};
        CHECK(ldb_iter_create(db, NULL, &io, &f.it) == LDB_OK);
        static uint8_t rb[64 * 1024];
        size_t cap = 64 + (x >> 41) % sizeof rb, got, used;
        int dirn = io.reverse ? -1 : 1;
        long want_i = step_model(&f, dirn > 0 ? -1 : NK, dirn);
        int rc = ldb_iter_first(f.it);
        CHECK(rc == (want_i < 0 ? LDB_NOTFOUND : LDB_OK));
        for (int round = 0; round < 8 && want_i >= 0; round++) {
          rc = ldb_iter_read(f.it, rb, cap, 1 + (x >> 50) % 200, &got, &used);
          CHECK(rc == LDB_OK);
          if (!got) { /* the entry needs more than cap */
            CHECK(used > cap);
            break;
          }
          size_t off = 0;
          for (size_t e = 0; e < got; e++) {
            uint32_t kl2, vl2;
            CHECK(off + 8 <= used);
            memcpy(&kl2, rb + off, 4);
            memcpy(&vl2, rb + off + 4, 4);
            off += 8;
            CHECK(want_i >= 0);
            size_t wl = key_of((uint32_t)want_i, kbuf2);
            CHECK(kl2 == wl && !memcmp(rb + off, kbuf2, wl));
            off += kl2;
            check_value(&m[want_i], rb + off, vl2);
            off += vl2;
            want_i = step_model(&f, want_i, dirn);
          }
          CHECK(off == used);
          if (want_i < 0) {
            size_t g2 = 0, u2 = 0;
            CHECK(ldb_iter_read(f.it, rb, cap, 10, &g2, &u2) == LDB_NOTFOUND);
            CHECK(g2 == 0);
          }
        }
        ldb_iter_destroy(f.it);
        work -= NK / 8;
        break;
      }
      if ((x >> 8) % 4) break;
      full_scan(db, m);
      work -= NK / 4;
      break;
    default:
      if ((x >> 8) % 4) break;
      CHECK(ldb_check(db) == LDB_OK);
      work -= NK / 4;
      break;
    }
  }
  for (int j = 0; j < NIT; j++)
    iter_drop(&its[j], 0);
  full_scan(db, m);
  CHECK(ldb_check(db) == LDB_OK);
  CHECK(ldb_checkpoint(db) == LDB_OK);
  CHECK(ldb_close(db) == LDB_OK);
  CHECK(fuzz_live_allocs == 0);
  open_db(st, &db, cfg);
  full_scan(db, m);
  CHECK(ldb_close(db) == LDB_OK);
  CHECK(fuzz_live_allocs == 0);
  ldb_store_destroy(st);
  return 0;
}
