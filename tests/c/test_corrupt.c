/*
 * test_corrupt.c — flipped bytes in the data file (tree pages, overflow
 * pages, free pages), in the two meta pages and in the log, at many
 * offsets. open/get/iterate/check must return LDB_CORRUPT (in the log a
 * damaged record is CORRUPT unless it is a torn tail: test_wal.c flips
 * every byte of a log); nothing crashes, and whatever the database still serves
 * must be right: when every call succeeds, the content is a consistent prefix
 * of the commit sequence, and for damage outside the meta pages and the log it
 * is the complete committed state (a checksum never lets a damaged page through
 * silently).
 *
 * Damaged meta pages (issue 9, item 1): the report's database (k1..k3 as
 * durable commits, checkpoint, k4, checkpoint; then an overflow chain
 * written and deleted, so that free pages no meta page reaches exist) with
 * every byte of both meta pages, of the free pages and of every other
 * page flipped, one at a time: open either serves every acknowledged key
 * (or LDB_CORRUPT for the keys it cannot read) and ldb_check reports any
 * damage recovery may need, or open fails with LDB_CORRUPT; never a silent
 * loss. Damage in a free page that no meta page reaches is harmless:
 * ldb_check_report counts it and names the page, with LDB_OK, and never
 * reports a free page of an undamaged image. The newer meta page damaged
 * while a checkpoint was under way is bridged by the log, which keeps every
 * record after the older meta page's checkpoint.
 *
 * Replay a failure with LDB_SEED=<seed>.
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
#include "helpers/workload.h"

#define PAGE 512

static int ok_code(int rc) {
  return rc == LDB_OK || rc == LDB_CORRUPT;
}

/* Reads a whole file of a store into a malloc'd buffer. */
static uint8_t *slurp(ldb_store *s, const char *name, size_t *len) {
  ldb_file *f = NULL;
  uint64_t size;
  *len = 0;
  if (s->methods->open(s, name, 0, &f) != LDB_OK) return NULL;
  assert_int_equal(f->store->methods->size(f, &size), LDB_OK);
  uint8_t *buf = malloc(size ? size : 1);
  assert_non_null(buf);
  if (size) assert_int_equal(ldb_fread_full(f, 0, buf, size), LDB_OK);
  f->store->methods->close(f);
  *len = (size_t)size;
  return buf;
}

static void put_file(ldb_store *s, const char *name, const uint8_t *buf,
                     size_t len) {
  ldb_file *f = NULL;
  assert_int_equal(s->methods->open(s, name, LDB_STORE_CREATE, &f), LDB_OK);
  assert_int_equal(f->store->methods->truncate(f, 0), LDB_OK);
  if (len) assert_int_equal(f->store->methods->write(f, 0, buf, len), LDB_OK);
  f->store->methods->close(f);
}

typedef struct img {
  const char *name;
  uint8_t *buf;
  size_t len;
} img;

#define NFILES 3
/* The data file and the log (its one segment here, and its head). */
static const char *file_names[NFILES] = {"data.ldb", "feed-00.log",
                                         "feed.head"};

/* Exercises a damaged database; returns 1 when every call succeeded. */
static int exercise(const char *label, ldb_store *s, const wl *w, int want_full,
                    const uint8_t *full_status) {
  ldb_options o;
  ldb_db *db = NULL;
  char msg[512];
  int all_ok = 1;
  uint8_t *maybe = malloc(w->n);
  memset(maybe, WL_MAYBE, w->n);
  wl_options(&o, s, LDB_SYNC_FULL, PAGE);
  int rc = ldb_open("corrupt", &o, &db);
  if (rc != LDB_OK) {
    if (rc != LDB_CORRUPT) {
      fprintf(stderr, "%s: open returned %s (%s)\n", label, ldb_code_name(rc),
              ldb_errmsg(NULL));
      fail();
    }
    free(maybe);
    return 0;
  }
  /* Point reads of every key the workload touched. */
  for (uint32_t k = 0; k < 48; k++) {
    char key[8];
    void *v = NULL;
    size_t vl;
    snprintf(key, sizeof key, "d%04u", k);
    rc = ldb_get(db, key, strlen(key), &v, &vl);
    ldb_free(db, v);
    if (rc == LDB_NOTFOUND) continue;
    if (!ok_code(rc)) {
      fprintf(stderr, "%s: get returned %s (%s)\n", label, ldb_code_name(rc),
              ldb_errmsg(NULL));
      fail();
    }
    if (rc) all_ok = 0;
  }
  /* Reverse iteration over everything. */
  ldb_iter_options io;
  memset(&io, 0, sizeof io);
  io.reverse = 1;
  ldb_iter *it = NULL;
  rc = ldb_iter_create(db, NULL, &io, &it);
  if (rc == LDB_OK) {
    for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
      const void *k, *v;
      size_t kl, vl;
      rc = ldb_iter_key(it, &k, &kl);
      if (rc == LDB_OK) rc = ldb_iter_value(it, &v, &vl);
      if (rc != LDB_OK) break;
    }
    if (rc == LDB_NOTFOUND) rc = LDB_OK;
    ldb_iter_destroy(it);
  }
  if (!ok_code(rc)) {
    fprintf(stderr, "%s: iteration returned %s (%s)\n", label,
            ldb_code_name(rc), ldb_errmsg(NULL));
    fail();
  }
  if (rc) all_ok = 0;
  int crc = ldb_check(db);
  if (!ok_code(crc)) {
    fprintf(stderr, "%s: check returned %s (%s)\n", label, ldb_code_name(crc),
            ldb_errmsg(NULL));
    fail();
  }
  if (crc) all_ok = 0;
  if (all_ok) {
    /* Nothing reported: then the content must be right. */
    rc = wl_verify(db, w, want_full ? full_status : maybe, 1, NULL, msg,
                   sizeof msg);
    if (rc == LDB_CORRUPT && msg[0]) {
      fprintf(stderr, "%s: damage went unreported: %s\n", label, msg);
      fail();
    }
    if (!ok_code(rc)) {
      fprintf(stderr, "%s: scan returned %s (%s)\n", label, ldb_code_name(rc),
              ldb_errmsg(NULL));
      fail();
    }
  }
  ldb_close(db);
  free(maybe);
  return all_ok;
}

static void run(int leave_in_log) {
  char name[64], label[256];
  snprintf(name, sizeof name, "corrupt %s", leave_in_log ? "log" : "data");
  uint64_t seed = tu_seed(name);
  tu_rng r;
  tu_rng_init(&r, seed);
  wl w;
  uint32_t ntx = 160;
  wl_init(&w, seed, ntx, 48, PAGE);
  uint8_t *status = calloc(ntx, 1);

  /* Build the pristine database. */
  ldb_store *base = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  uint32_t next;
  assert_int_equal(ldb_store_memory(&base), LDB_OK);
  wl_options(&o, base, LDB_SYNC_FULL, PAGE);
  if (leave_in_log) o.memtable_size = 1u << 30;
  assert_int_equal(ldb_open("corrupt", &o, &db), LDB_OK);
  assert_int_equal(wl_run(db, &w, 0, ntx, leave_in_log ? 0 : 40, LDB_SYNC_FULL,
                          status, &next),
                   LDB_OK);
  if (!leave_in_log) assert_int_equal(ldb_checkpoint(db), LDB_OK);
  /* The log run takes the images before the close (which checkpoints the
   * log's records away from recovery): what a crash after the last commit
   * leaves, so recovery replays every record. */
  img files[NFILES];
  if (!leave_in_log) assert_int_equal(ldb_close(db), LDB_OK);
  for (int i = 0; i < NFILES; i++) {
    files[i].name = file_names[i];
    files[i].buf = slurp(base, file_names[i], &files[i].len);
  }
  if (leave_in_log) assert_int_equal(ldb_close(db), LDB_OK);
  for (uint32_t i = 0; i < ntx; i++)
    assert_int_equal(status[i], WL_PRESENT);
  assert_non_null(files[0].buf);

  uint64_t flips = tu_scale(300, 6, 40), reported = 0, served = 0;
  for (int fi = 0; fi < NFILES; fi++) {
    if (!files[fi].buf || !files[fi].len) continue;
    int is_data = fi == 0;
    if (leave_in_log == is_data) {
      /* Focus: the log run damages logs (plus the meta pages below). */
      if (!is_data) continue;
    }
    size_t len = files[fi].len;
    uint64_t n = flips < len ? flips : len;
    for (uint64_t j = 0; j < n; j++) {
      /* Spread evenly, with a random offset inside each stride, plus
       * every byte of the first two (meta) pages in the data file. */
      size_t off = (size_t)(j * len / n + tu_below(&r, len / n ? len / n : 1));
      if (off >= len) off = len - 1;
      uint8_t x = (uint8_t)(1 + tu_below(&r, 255));
      ldb_store *s = NULL;
      assert_int_equal(ldb_store_memory(&s), LDB_OK);
      for (int k = 0; k < NFILES; k++)
        if (files[k].buf)
          put_file(s, files[k].name, files[k].buf, files[k].len);
      files[fi].buf[off] ^= x;
      put_file(s, files[fi].name, files[fi].buf, files[fi].len);
      files[fi].buf[off] ^= x;
      /* In the data file, damage beyond the two meta pages must never
       * change what is served; meta and log damage may roll back to an
       * older consistent state. */
      int want_full = is_data && off >= 2 * PAGE;
      snprintf(label, sizeof label, "%s seed=%llu: %s byte %zu ^= 0x%02x", name,
               (unsigned long long)seed, files[fi].name, off, x);
      if (exercise(label, s, &w, want_full, status))
        served++;
      else
        reported++;
      ldb_store_destroy(s);
    }
  }
  /* Meta pages: every 8th byte of both. */
  for (size_t off = 0; off < 2 * PAGE && off < files[0].len;
       off += tu_quick() ? 61 : 8) {
    ldb_store *s = NULL;
    assert_int_equal(ldb_store_memory(&s), LDB_OK);
    for (int k = 0; k < NFILES; k++)
      if (files[k].buf) put_file(s, files[k].name, files[k].buf, files[k].len);
    files[0].buf[off] ^= 0x5a;
    put_file(s, files[0].name, files[0].buf, files[0].len);
    files[0].buf[off] ^= 0x5a;
    snprintf(label, sizeof label, "%s seed=%llu: meta byte %zu", name,
             (unsigned long long)seed, off);
    if (exercise(label, s, &w, 0, status))
      served++;
    else
      reported++;
    ldb_store_destroy(s);
  }
  /* Both meta pages damaged: open must refuse with LDB_CORRUPT. */
  {
    ldb_store *s = NULL;
    assert_int_equal(ldb_store_memory(&s), LDB_OK);
    for (int k = 0; k < NFILES; k++)
      if (files[k].buf) put_file(s, files[k].name, files[k].buf, files[k].len);
    uint8_t *d = malloc(files[0].len);
    memcpy(d, files[0].buf, files[0].len);
    for (size_t i = 16; i < 2 * PAGE; i += PAGE)
      d[i] ^= 0xff;
    put_file(s, "data.ldb", d, files[0].len);
    free(d);
    db = NULL;
    wl_options(&o, s, LDB_SYNC_FULL, PAGE);
    int rc = ldb_open("corrupt", &o, &db);
    if (rc == LDB_OK) {
      fprintf(stderr, "%s: both meta pages damaged, yet open succeeded\n",
              name);
      ldb_close(db);
      fail();
    }
    assert_int_equal(rc, LDB_CORRUPT);
    ldb_store_destroy(s);
  }
  printf("%s: %llu damaged images reported, %llu served (verified)\n", name,
         (unsigned long long)reported, (unsigned long long)served);
  for (int i = 0; i < NFILES; i++)
    free(files[i].buf);
  ldb_store_destroy(base);
  free(status);
  wl_free(&w);
}

/* Truncated files: every length of the log tail, and a data file cut at
 * page boundaries. */
static void test_truncated(void **state) {
  (void)state;
  uint64_t seed = tu_seed("corrupt truncated");
  wl w;
  uint32_t ntx = 60, next;
  wl_init(&w, seed, ntx, 16, PAGE);
  uint8_t *status = calloc(ntx, 1);
  ldb_store *base = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  assert_int_equal(ldb_store_memory(&base), LDB_OK);
  wl_options(&o, base, LDB_SYNC_FULL, PAGE);
  o.memtable_size = 1u << 30;
  assert_int_equal(ldb_open("corrupt", &o, &db), LDB_OK);
  assert_int_equal(wl_run(db, &w, 0, ntx, 0, LDB_SYNC_FULL, status, &next),
                   LDB_OK);
  /* Before the close, which would checkpoint the log's records away. */
  img files[NFILES];
  for (int i = 0; i < NFILES; i++) {
    files[i].name = file_names[i];
    files[i].buf = slurp(base, file_names[i], &files[i].len);
  }
  assert_int_equal(ldb_close(db), LDB_OK);
  char label[128];
  for (int fi = 0; fi < NFILES; fi++) {
    if (!files[fi].buf) continue;
    size_t step = fi == 0 ? PAGE / 2 : (tu_quick() ? 97 : 13);
    for (size_t cut = 0; cut < files[fi].len; cut += step) {
      ldb_store *s = NULL;
      assert_int_equal(ldb_store_memory(&s), LDB_OK);
      for (int k = 0; k < NFILES; k++)
        if (files[k].buf)
          put_file(s, files[k].name, files[k].buf,
                   k == fi ? cut : files[k].len);
      snprintf(label, sizeof label, "seed=%llu: %s cut to %zu bytes",
               (unsigned long long)seed, files[fi].name, cut);
      exercise(label, s, &w, 0, status);
      ldb_store_destroy(s);
    }
  }
  for (int i = 0; i < NFILES; i++)
    free(files[i].buf);
  ldb_store_destroy(base);
  free(status);
  wl_free(&w);
}

/* ---- damaged meta pages: nothing acknowledged is lost silently ---------- */

#define MPAGE 512

static void m_options(ldb_options *o, ldb_store *s) {
  ldb_options_default(o);
  o->store = s;
  o->page_size = MPAGE;
  o->sync_mode = LDB_SYNC_FULL;
  o->background_checkpoint = 0;
}

static void m_put(ldb_db *db, int i) {
  char k[8], v[32];
  snprintf(k, sizeof k, "k%d", i);
  int vl = snprintf(v, sizeof v, "value of k%d", i);
  assert_int_equal(ldb_put(db, k, strlen(k), v, (size_t)vl), LDB_OK);
}

/* Reads k1..kn: each is either there with its value or LDB_CORRUPT (a
 * damaged page, reported); absent or wrong is a silent loss and fails.
 * Returns the number of keys reported CORRUPT. */
static int m_verify(const char *label, ldb_db *db, int n) {
  int bad = 0;
  for (int i = 1; i <= n; i++) {
    char k[8], want[32];
    snprintf(k, sizeof k, "k%d", i);
    int wl_ = snprintf(want, sizeof want, "value of k%d", i);
    void *v = NULL;
    size_t vl = 0;
    int rc = ldb_get(db, k, strlen(k), &v, &vl);
    if (rc == LDB_CORRUPT) {
      bad++;
      continue;
    }
    if (rc != LDB_OK || vl != (size_t)wl_ || memcmp(v, want, vl)) {
      fprintf(stderr,
              "%s: %s is %s: an acknowledged commit was lost "
              "silently (%s)\n",
              label, k, rc == LDB_OK ? "wrong" : ldb_code_name(rc),
              ldb_errmsg(NULL));
      fail();
    }
    ldb_free(db, v);
  }
  return bad;
}

/* Loads images into a new memory store, with byte off of files[fi] XORed
 * with x (x == 0: unchanged). */
static ldb_store *m_store(img *files, int fi, size_t off, uint8_t x) {
  ldb_store *s = NULL;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  for (int k = 0; k < NFILES; k++) {
    if (!files[k].buf) continue;
    if (k == fi) files[k].buf[off] ^= x;
    put_file(s, files[k].name, files[k].buf, files[k].len);
    if (k == fi) files[k].buf[off] ^= x;
  }
  return s;
}

static void m_slurp(ldb_store *s, img *files) {
  for (int i = 0; i < NFILES; i++) {
    files[i].name = file_names[i];
    files[i].buf = slurp(s, file_names[i], &files[i].len);
  }
}

static void m_free(img *files) {
  for (int i = 0; i < NFILES; i++)
    free(files[i].buf);
}

/* The meta slot with the larger counter in a data file image. */
static int m_newest(const img *data) {
  uint64_t c0 = ldb_get64(data->buf + 16 + 16);
  uint64_t c1 = ldb_get64(data->buf + MPAGE + 16 + 16);
  return c1 > c0 ? 1 : 0;
}

/* Kinds of page in the report's database, from its newest meta page:
 * meta pages, pages kept for recovery from the older one (the previous
 * version's), other free pages (no version reaches them) and the rest
 * (tree and free-list pages). */
enum { PG_OTHER = 0, PG_META, PG_RECENT, PG_FREE };
static void m_page_kinds(const img *data, uint8_t *kind, size_t npages) {
  const uint8_t *m = data->buf + (size_t)m_newest(data) * MPAGE + 16;
  uint64_t head = ldb_get64(m + 64), count = ldb_get64(m + 72);
  uint64_t recent = ldb_get64(m + 88), seen = 0;
  memset(kind, PG_OTHER, npages);
  kind[0] = kind[1] = PG_META;
  /* the last `recent` free-list entries are the previous version's pages:
   * recovery from the older meta page needs them */
  for (uint64_t p = head; p && p < npages;) {
    const uint8_t *pg = data->buf + p * MPAGE;
    uint32_t cnt = ldb_get32(pg + 12);
    for (uint32_t i = 0; i < cnt; i++, seen++) {
      uint32_t fp = ldb_get32(pg + 16 + 4 * i);
      if (fp < npages) kind[fp] = seen >= count - recent ? PG_RECENT : PG_FREE;
    }
    p = ldb_get32(pg + 8);
  }
  assert_int_equal(seen, count);
  /* the previous version's own free-list pages are among them, but
   * recovery does not need them (a reopen there rebuilds a damaged free
   * list from the tree): free pages like the others */
  const uint8_t *om = data->buf + (size_t)(1 - m_newest(data)) * MPAGE + 16;
  for (uint64_t p = ldb_get64(om + 64); p && p < npages;
       p = ldb_get32(data->buf + p * MPAGE + 8))
    if (kind[p] == PG_RECENT) kind[p] = PG_FREE;
}

/* The database of the report: k1..k3, each a durable commit, checkpoint,
 * k4, checkpoint; closed cleanly. With frees, then: a value in an overflow
 * chain, checkpoint, its delete, checkpoint, k5, checkpoint: the chain's
 * pages become free pages that neither meta page reaches (keys k1..k5). */
static ldb_store *m_build(bool frees) {
  ldb_store *s = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  m_options(&o, s);
  assert_int_equal(ldb_open("meta", &o, &db), LDB_OK);
  for (int i = 1; i <= 3; i++)
    m_put(db, i);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  m_put(db, 4);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  if (frees) {
    static uint8_t big[6 * MPAGE];
    memset(big, 'b', sizeof big);
    assert_int_equal(ldb_put(db, "big", 3, big, sizeof big), LDB_OK);
    assert_int_equal(ldb_checkpoint(db), LDB_OK);
    assert_int_equal(ldb_delete(db, "big", 3), LDB_OK);
    assert_int_equal(ldb_checkpoint(db), LDB_OK);
    m_put(db, 5);
    assert_int_equal(ldb_checkpoint(db), LDB_OK);
  }
  assert_int_equal(ldb_close(db), LDB_OK);
  return s;
}

/* ldb_check's verdict must name what was damaged. */
static void m_check_reports(const char *label, ldb_db *db, const char *what) {
  int rc = ldb_check(db);
  if (rc != LDB_CORRUPT || !strstr(ldb_errmsg(NULL), what)) {
    fprintf(stderr,
            "%s: ldb_check returned %s (%s), wanted CORRUPT naming "
            "\"%s\"\n",
            label, ldb_code_name(rc), ldb_errmsg(NULL), what);
    fail();
  }
}

/* The report, exactly: byte 20 of page 1, the newer meta page. */
static void test_newer_meta_damaged(void **state) {
  (void)state;
  ldb_store *base = m_build(false);
  img files[NFILES];
  m_slurp(base, files);
  assert_int_equal(m_newest(&files[0]), 1);
  ldb_options o;
  ldb_db *db = NULL;
  /* read-only: served from the older meta page plus the log, and the
   * check names the damaged page */
  ldb_store *s = m_store(files, 0, MPAGE + 20, 0x01);
  m_options(&o, s);
  o.read_only = 1;
  assert_int_equal(ldb_open("meta", &o, &db), LDB_OK);
  assert_int_equal(m_verify("read-only", db, 4), 0);
  m_check_reports("read-only", db, "meta page 1");
  assert_int_equal(ldb_close(db), LDB_OK);
  /* writable: the same, and the open rewrites the page */
  m_options(&o, s);
  assert_int_equal(ldb_open("meta", &o, &db), LDB_OK);
  assert_int_equal(m_verify("writable", db, 4), 0);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.last_seq, 4);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_int_equal(ldb_open("meta", &o, &db), LDB_OK);
  assert_int_equal(m_verify("reopened", db, 4), 0);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
  m_free(files);
  ldb_store_destroy(base);
}

/* Every byte of the data file, one bit flip at a time (both meta pages,
 * the tree, the free list, the free pages). */
static void test_every_byte_of_data_file(void **state) {
  (void)state;
  ldb_store *base = m_build(true);
  img files[NFILES];
  m_slurp(base, files);
  size_t npages = files[0].len / MPAGE;
  uint8_t *kind = malloc(npages);
  m_page_kinds(&files[0], kind, npages);
  size_t nrecent = 0, nfree = 0;
  for (size_t p = 0; p < npages; p++) {
    nrecent += kind[p] == PG_RECENT;
    nfree += kind[p] == PG_FREE;
  }
  assert_true(nrecent > 0); /* the previous version's leaf at least */
  assert_true(nfree > 0);   /* the overflow chain's pages */
  printf("data.ldb: %zu pages, %zu kept for recovery, %zu free\n", npages,
         nrecent, nfree);
  char label[160], what[32];
  uint64_t refused = 0, served = 0;
  size_t step = tu_quick() ? 7 : 1;
  for (size_t off = 0; off < files[0].len; off += step) {
    size_t pg = off / MPAGE;
    uint8_t x = (uint8_t)(1u << (off % 8));
    snprintf(label, sizeof label, "data.ldb byte %zu (page %zu, %s) ^= 0x%02x",
             off, pg,
             kind[pg] == PG_META     ? "meta"
             : kind[pg] == PG_RECENT ? "kept for recovery"
             : kind[pg] == PG_FREE   ? "free"
                                     : "tree or free list",
             x);
    ldb_store *s = m_store(files, 0, off, x);
    ldb_options o;
    ldb_db *db = NULL;
    /* Read-only first: nothing is repaired, so what the check must find
     * is still there. */
    m_options(&o, s);
    o.read_only = 1;
    int rc = ldb_open("meta", &o, &db);
    if (rc == LDB_OK) {
      int bad = m_verify(label, db, 5);
      ldb_check_result res;
      int crc = ldb_check_report(db, &res);
      if (!ok_code(crc) || (bad && crc != LDB_CORRUPT)) {
        fprintf(stderr, "%s: %d keys unreadable, check says %s (%s)\n", label,
                bad, ldb_code_name(crc), ldb_errmsg(NULL));
        fail();
      }
      if (kind[pg] == PG_FREE) {
        /* harmless: reported as a damaged free page, not as CORRUPT */
        if (bad || crc != LDB_OK || res.free_damaged != 1 ||
            res.free_damaged_pages[0] != pg || res.free_checked < nfree) {
          fprintf(stderr,
                  "%s: %d keys unreadable, check %s (%s), %llu of %llu free "
                  "pages damaged (first %llu)\n",
                  label, bad, ldb_code_name(crc), ldb_errmsg(NULL),
                  (unsigned long long)res.free_damaged,
                  (unsigned long long)res.free_checked,
                  (unsigned long long)res.free_damaged_pages[0]);
          fail();
        }
      } else if (crc == LDB_OK && res.free_damaged) {
        fprintf(stderr, "%s: a damaged free page reported: %llu\n", label,
                (unsigned long long)res.free_damaged_pages[0]);
        fail();
      }
      snprintf(what, sizeof what, "%s %zu",
               kind[pg] == PG_META ? "meta page" : "page", pg);
      if (kind[pg] == PG_META || kind[pg] == PG_RECENT)
        m_check_reports(label, db, what);
      assert_int_equal(ldb_close(db), LDB_OK);
    } else if (rc != LDB_CORRUPT) {
      fprintf(stderr, "%s: read-only open returned %s (%s)\n", label,
              ldb_code_name(rc), ldb_errmsg(NULL));
      fail();
    }
    /* Then writable, twice (the first open may repair). */
    for (int round = 0; round < 2; round++) {
      m_options(&o, s);
      rc = ldb_open("meta", &o, &db);
      if (rc != LDB_OK) {
        if (rc != LDB_CORRUPT) {
          fprintf(stderr, "%s: open returned %s (%s)\n", label,
                  ldb_code_name(rc), ldb_errmsg(NULL));
          fail();
        }
        refused++;
        break;
      }
      int bad = m_verify(label, db, 5);
      int crc = ldb_check(db);
      if (!ok_code(crc) || (bad && crc != LDB_CORRUPT)) {
        fprintf(stderr, "%s: %d keys unreadable, check says %s (%s)\n", label,
                bad, ldb_code_name(crc), ldb_errmsg(NULL));
        fail();
      }
      /* a damaged meta page is replayed around and rewritten at open; a
       * damaged free page is no error (until it is reused and rewritten) */
      if ((kind[pg] == PG_META || kind[pg] == PG_FREE) &&
          (bad || crc != LDB_OK)) {
        fprintf(stderr, "%s: after open: %d keys unreadable, check %s (%s)\n",
                label, bad, ldb_code_name(crc), ldb_errmsg(NULL));
        fail();
      }
      if (!bad && round == 1) served++;
      assert_int_equal(ldb_close(db), LDB_OK);
    }
    ldb_store_destroy(s);
  }
  printf("every byte of data.ldb: %llu images served in full, %llu refused\n",
         (unsigned long long)served, (unsigned long long)refused);
  free(kind);
  m_free(files);
  ldb_store_destroy(base);
}

/* The newer meta page damaged after a checkpoint started and before it
 * finished: the log keeps every record after the older meta page's
 * checkpoint (format 1's log switch had trimmed them, and this case was
 * refused), so the open falls back to the older page and replays them:
 * nothing is lost, read-only or not. */
static void test_newer_meta_damaged_mid_checkpoint(void **state) {
  (void)state;
  ldb_store *inner = NULL, *fs = NULL;
  ldb_options o;
  ldb_db *db = NULL;
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  m_options(&o, fs);
  assert_int_equal(ldb_open("meta", &o, &db), LDB_OK);
  for (int i = 1; i <= 3; i++)
    m_put(db, i);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  m_put(db, 4);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  m_put(db, 5);
  /* the next checkpoint: its log sync (sync 1) succeeds, the data-file
   * sync before its meta page (sync 2) fails */
  ldb_faulty_fail_nth(fs, 2, LDB_FAULT_SYNC, LDB_IOERR, 0);
  assert_int_equal(ldb_checkpoint(db), LDB_IOERR);
  m_put(db, 6); /* synced into the log */
  ldb_faulty_crash_now(fs, LDB_CRASH_DROP, 0);
  (void)ldb_close(db);
  ldb_store_destroy(fs);
  img files[NFILES];
  m_slurp(inner, files);
  ldb_store_destroy(inner);
  int newer = m_newest(&files[0]);

  /* undamaged: a crash during a checkpoint loses nothing */
  ldb_store *s = m_store(files, 0, 0, 0);
  m_options(&o, s);
  assert_int_equal(ldb_open("meta", &o, &db), LDB_OK);
  assert_int_equal(m_verify("intact", db, 6), 0);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);

  /* the newer meta page damaged: the older one plus the log, read-only or
   * not; nothing lost, nothing reported */
  s = m_store(files, 0, (size_t)newer * MPAGE + 20, 0x01);
  for (int ro = 1; ro >= 0; ro--) {
    m_options(&o, s);
    o.read_only = ro;
    db = NULL;
    assert_int_equal(ldb_open("meta", &o, &db), LDB_OK);
    assert_int_equal(
        m_verify(ro ? "older meta, read-only" : "older meta", db, 6), 0);
    if (!ro) assert_int_equal(ldb_check(db), LDB_OK);
    assert_int_equal(ldb_close(db), LDB_OK);
  }
  m_options(&o, s);
  assert_int_equal(ldb_open("meta", &o, &db), LDB_OK);
  assert_int_equal(m_verify("reopened", db, 6), 0);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
  m_free(files);
}

/* ---- a damaged leaf under a write; a truncated data file ---------------- */

/* The store of a damage test: memory, or the posix store over a fresh
 * directory (*dir, freed by d_done). */
static ldb_store *d_store(int posix, char **dir) {
  ldb_store *s = NULL;
  *dir = NULL;
  if (!posix) {
    assert_int_equal(ldb_store_memory(&s), LDB_OK);
    return s;
  }
  *dir = tu_tmpdir("corrupt-damage");
  assert_non_null(*dir);
  assert_int_equal(ldb_store_posix(*dir, 1, &s), LDB_OK);
  return s;
}

static void d_done(ldb_store *s, char *dir) {
  ldb_store_destroy(s);
  if (dir) {
    tu_rmrf(dir);
    free(dir);
  }
}

#define DKEYS 600

static void d_key(int i, char *k) {
  snprintf(k, 16, "d%05d", i);
}

/* Key i's value: round 0 is the build's; any other round a rewrite. */
static size_t d_val(int i, int round, char *v) {
  return (size_t)snprintf(v, 64, "value %d of d%05d, round %d", i * 7, i,
                          round);
}

/* A cleanly closed database of DKEYS keys on 512-byte pages. */
static void d_build(ldb_store *s) {
  ldb_options o;
  ldb_db *db = NULL;
  m_options(&o, s);
  assert_int_equal(ldb_open("damage", &o, &db), LDB_OK);
  for (int i = 0; i < DKEYS; i++) {
    char k[16], v[64];
    d_key(i, k);
    size_t vl = d_val(i, 0, v);
    assert_int_equal(ldb_put(db, k, strlen(k), v, vl), LDB_OK);
  }
  assert_int_equal(ldb_close(db), LDB_OK);
}

/* Reads every key: round[i] is the round of its newest value (-1: must be
 * CORRUPT). Returns the number of keys that read CORRUPT. */
static int d_verify(const char *label, ldb_db *db, const int *round) {
  int bad = 0;
  for (int i = 0; i < DKEYS; i++) {
    char k[16], want[64];
    d_key(i, k);
    void *v = NULL;
    size_t vl = 0;
    int rc = ldb_get(db, k, strlen(k), &v, &vl);
    if (round[i] < 0) {
      if (rc != LDB_CORRUPT) {
        fprintf(stderr, "%s: %s read %s, wanted CORRUPT\n", label, k,
                ldb_code_name(rc));
        fail();
      }
      bad++;
      continue;
    }
    size_t wl_ = d_val(i, round[i], want);
    if (rc != LDB_OK || vl != wl_ || memcmp(v, want, vl)) {
      fprintf(stderr, "%s: %s is %s, wanted round %d (%s)\n", label, k,
              rc == LDB_OK ? "wrong" : ldb_code_name(rc), round[i],
              ldb_errmsg(NULL));
      fail();
    }
    ldb_free(db, v);
  }
  return bad;
}

static void d_put(ldb_db *db, int i, int r, int *round) {
  char k[16], v[64];
  d_key(i, k);
  size_t vl = d_val(i, r, v);
  assert_int_equal(ldb_put(db, k, strlen(k), v, vl), LDB_OK);
  round[i] = r;
}

/* The new-user trial's report: one damaged leaf of a cleanly closed
 * database, and a put of a key on it. The close's checkpoint cannot
 * rewrite the leaf (CORRUPT; the log keeps the put), and the next open's
 * checkpoint of the replayed log met the same page and failed the open:
 * read-write and salvage alike, so every key and the acknowledged put were
 * unreachable. Now that open succeeds: the replayed commits stay in the
 * memtable, reads of the leaf's other keys answer CORRUPT, every other key
 * and every put reads back, ldb_check names the page, and writes go on
 * (into the memtable and the log) across further closes and opens. */
static void damaged_leaf_write(int posix) {
  char *dir;
  ldb_store *s = d_store(posix, &dir);
  d_build(s);
  size_t len;
  uint8_t *data = slurp(s, "data.ldb", &len);
  assert_non_null(data);
  /* A leaf in the middle of the file, damaged in its cells. */
  size_t npages = len / MPAGE, pg = 0;
  for (size_t p = npages / 2; p < npages && !pg; p++)
    if (data[p * MPAGE + 4] == 2 /* PT_LEAF */) pg = p;
  assert_true(pg >= 2);
  data[pg * MPAGE + MPAGE - 20] ^= 0x5a;
  put_file(s, "data.ldb", data, len);
  free(data);
  char what[32], label[64];
  snprintf(what, sizeof what, "page %zu", pg);
  snprintf(label, sizeof label, "%s, damaged %s", posix ? "posix" : "memory",
           what);

  int round[DKEYS];
  memset(round, 0, sizeof round);
  ldb_options o;
  ldb_db *db = NULL;
  m_options(&o, s);
  assert_int_equal(ldb_open("damage", &o, &db), LDB_OK);
  /* The keys the damaged leaf holds. */
  int first = -1, nbad = 0;
  for (int i = 0; i < DKEYS; i++) {
    char k[16];
    void *v = NULL;
    size_t vl;
    d_key(i, k);
    int rc = ldb_get(db, k, strlen(k), &v, &vl);
    ldb_free(db, v);
    if (rc == LDB_CORRUPT) {
      round[i] = -1;
      nbad++;
      if (first < 0) first = i;
    } else {
      assert_int_equal(rc, LDB_OK);
    }
  }
  assert_true(nbad >= 2);
  d_put(db, first, 1, round); /* a key on the damaged leaf */
  d_put(db, first > 0 ? first - 1 : DKEYS - 1, 1, round);
  assert_int_equal(ldb_close(db), LDB_CORRUPT);
  assert_non_null(strstr(ldb_errmsg(NULL), what));

  /* Read-write, twice, then salvage; each writes once more. */
  for (int pass = 0; pass < 3; pass++) {
    m_options(&o, s);
    o.salvage = pass == 2;
    int rc = ldb_open("damage", &o, &db);
    if (rc != LDB_OK) {
      fprintf(stderr, "%s: open %d returned %s (%s)\n", label, pass,
              ldb_code_name(rc), ldb_errmsg(NULL));
      fail();
    }
    assert_int_equal(d_verify(label, db, round), nbad - 1);
    m_check_reports(label, db, what);
    /* what healthCheck reports: the failed checkpoint */
    ldb_stats st;
    assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
    assert_int_equal(st.background_error, LDB_CORRUPT);
    d_put(db, DKEYS - 1 - pass, 2 + pass, round);
    d_put(db, first, 2 + pass, round);
    assert_int_equal(d_verify(label, db, round), nbad - 1);
    assert_int_equal(ldb_close(db), LDB_CORRUPT);
  }
  /* Read-only sees the same. */
  m_options(&o, s);
  o.read_only = 1;
  assert_int_equal(ldb_open("damage", &o, &db), LDB_OK);
  assert_int_equal(d_verify(label, db, round), nbad - 1);
  assert_int_equal(ldb_close(db), LDB_OK);
  d_done(s, dir);
}

static void test_damaged_leaf_write_memory(void **state) {
  (void)state;
  damaged_leaf_write(0);
}

static void test_damaged_leaf_write_posix(void **state) {
  (void)state;
  damaged_leaf_write(1);
}

/* A data file shorter than its meta page says (cut by a byte, by a page,
 * to less than the two meta pages, to one meta page): the open fails with
 * CORRUPT naming the file, its size and the size expected, read-write and
 * read-only alike, and writes nothing. Before, it opened, reads of the
 * missing pages answered "short read", and after a write the close failed
 * and the database no longer opened. */
static void truncated_data_file(int posix) {
  char *dir;
  ldb_store *s = d_store(posix, &dir);
  d_build(s);
  size_t len;
  uint8_t *data = slurp(s, "data.ldb", &len);
  assert_non_null(data);
  assert_true(len % MPAGE == 0 && len > 8 * MPAGE);
  size_t cuts[] = {len - 1,       len - MPAGE,       len / 2 + 7,
                   2 * MPAGE - 1, MPAGE + MPAGE / 2, MPAGE};
  for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
    put_file(s, "data.ldb", data, cuts[c]);
    char want[200];
    snprintf(want, sizeof want,
             "database damage: data file data.ldb is truncated: it is %zu "
             "bytes, its meta page says %zu pages of %d bytes (%zu bytes)",
             cuts[c], len / MPAGE, MPAGE, len);
    for (int ro = 0; ro < 2; ro++) {
      ldb_options o;
      ldb_db *db = NULL;
      m_options(&o, s);
      o.read_only = ro;
      int rc = ldb_open("damage", &o, &db);
      if (rc != LDB_CORRUPT || !strstr(ldb_errmsg(NULL), want)) {
        fprintf(stderr,
                "%s: data.ldb cut to %zu bytes%s: open returned %s "
                "(%s), wanted CORRUPT \"%s\"\n",
                posix ? "posix" : "memory", cuts[c], ro ? ", read-only" : "",
                ldb_code_name(rc), ldb_errmsg(NULL), want);
        fail();
      }
      size_t now;
      uint8_t *after = slurp(s, "data.ldb", &now);
      assert_int_equal(now, cuts[c]); /* left as it was */
      assert_memory_equal(after, data, now);
      free(after);
    }
  }
  /* The whole file opens with every key. */
  put_file(s, "data.ldb", data, len);
  int round[DKEYS];
  memset(round, 0, sizeof round);
  ldb_options o;
  ldb_db *db = NULL;
  m_options(&o, s);
  assert_int_equal(ldb_open("damage", &o, &db), LDB_OK);
  assert_int_equal(d_verify("restored", db, round), 0);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  free(data);
  d_done(s, dir);
}

static void test_truncated_data_file_memory(void **state) {
  (void)state;
  truncated_data_file(0);
}

static void test_truncated_data_file_posix(void **state) {
  (void)state;
  truncated_data_file(1);
}

/* Opens with o (read_only set to ro) and wants LDB_CORRUPT whose message
 * holds want, the data file left as it was (len bytes of data, or missing
 * when data is NULL). */
static void want_lost(ldb_store *s, int ro, int salvage, const char *what,
                      const uint8_t *data, size_t len, const char *want) {
  ldb_options o;
  ldb_db *db = NULL;
  m_options(&o, s);
  o.read_only = ro;
  o.salvage = salvage;
  int rc = ldb_open("damage", &o, &db);
  if (rc != LDB_CORRUPT || !strstr(ldb_errmsg(NULL), want) ||
      !strstr(ldb_errmsg(NULL), "restore it from a backup")) {
    fprintf(stderr,
            "%s%s%s: open returned %s (%s), wanted CORRUPT \"%s\" and the "
            "way out\n",
            what, ro ? ", read-only" : "", salvage ? ", salvage" : "",
            ldb_code_name(rc), ldb_errmsg(NULL), want);
    if (db) ldb_close(db);
    fail();
  }
  size_t now;
  uint8_t *after = slurp(s, "data.ldb", &now);
  if (!data) {
    assert_null(after); /* not created */
    return;
  }
  assert_non_null(after);
  assert_int_equal(now, len); /* left as it was */
  if (len) assert_memory_equal(after, data, len);
  free(after);
}

/* A data file shorter than a meta page, or missing: replaced before as a
 * database whose creation never finished, which silently lost every
 * acknowledged commit (reproduced: d_build, data.ldb cut to 0, 100 or 300
 * bytes or deleted, open: LDB_OK with no keys, and the cut file
 * overwritten). Now only what power loss during creation leaves (zeros or
 * the start of a new file's meta page) beside an empty log is replaced;
 * beside a log with bytes, or holding other bytes, the open fails with
 * CORRUPT, read-write and read-only alike, and writes nothing. Salvage
 * (read-write) replaces it and replays the log, which here still holds
 * every commit from the first. */
static void lost_data_file(int posix) {
  char *dir;
  ldb_store *s = d_store(posix, &dir);
  d_build(s);
  size_t len;
  uint8_t *data = slurp(s, "data.ldb", &len);
  assert_non_null(data);
  uint8_t zeros[511] = {0};
  /* The start of a new file's meta page (page size 512). */
  ldb_store *fs;
  assert_int_equal(ldb_store_memory(&fs), LDB_OK);
  bt_config cfg = {0};
  cfg.page_size = MPAGE;
  cfg.cache_size = 1 << 20;
  cfg.create = 1;
  bt_file *bf = NULL;
  assert_int_equal(bt_open(fs, &cfg, &bf, NULL), LDB_OK);
  bt_close(bf);
  size_t flen;
  uint8_t *fresh = slurp(fs, "data.ldb", &flen);
  assert_true(fresh && flen == 2 * MPAGE);
  ldb_store_destroy(fs);
  struct {
    const uint8_t *bytes;
    size_t len;
    int explained; /* by an interrupted creation */
  } cuts[] = {{zeros, 0, 1},      {zeros, 300, 1},    {fresh, 200, 1},
              {fresh, 511, 1},    {data, 100, 0},     {data, 511, 0},
              {data + 3, 300, 0}, {fresh + 1, 200, 0}};
  char what[100];
  for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
    put_file(s, "data.ldb", cuts[c].bytes, cuts[c].len);
    snprintf(what, sizeof what, "%s: data.ldb of %zu bytes (case %zu)",
             posix ? "posix" : "memory", cuts[c].len, c);
    char want[160];
    if (cuts[c].explained)
      snprintf(want, sizeof want,
               "database damage: data file data.ldb is %zu bytes without a "
               "valid meta page, but the log (feed.head) shows",
               cuts[c].len);
    else
      snprintf(want, sizeof want,
               "database damage: data file data.ldb is %zu bytes, shorter "
               "than a meta page, and holds bytes that no interrupted "
               "creation leaves",
               cuts[c].len);
    for (int ro = 0; ro < 2; ro++) {
      want_lost(s, ro, 0, what, cuts[c].bytes, cuts[c].len, want);
      if (ro) want_lost(s, ro, 1, what, cuts[c].bytes, cuts[c].len, want);
    }
  }
  /* Deleted. */
  assert_int_equal(s->methods->remove(s, "data.ldb"), LDB_OK);
  for (int ro = 0; ro < 2; ro++)
    want_lost(s, ro, 0, "data.ldb deleted", NULL, 0,
              "database damage: data file data.ldb is missing, but the log "
              "(feed.head) shows");
  /* Salvage replaces a damaged one and replays the log. */
  put_file(s, "data.ldb", data, 100);
  int round[DKEYS];
  memset(round, 0, sizeof round);
  ldb_options o;
  ldb_db *db = NULL;
  m_options(&o, s);
  o.salvage = 1;
  assert_int_equal(ldb_open("damage", &o, &db), LDB_OK);
  assert_int_equal(d_verify("salvaged", db, round), 0);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  /* Without a log only the bytes decide. */
  static const char *logs[] = {"feed.head", "feed-00.log", "feed-01.log"};
  for (size_t i = 0; i < sizeof logs / sizeof *logs; i++)
    (void)s->methods->remove(s, logs[i]);
  for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
    put_file(s, "data.ldb", cuts[c].bytes, cuts[c].len);
    snprintf(what, sizeof what, "%s, no log: data.ldb of %zu bytes (case %zu)",
             posix ? "posix" : "memory", cuts[c].len, c);
    m_options(&o, s);
    uint64_t keys = 1;
    if (!cuts[c].explained) {
      for (int ro = 0; ro < 2; ro++)
        want_lost(s, ro, 0, what, cuts[c].bytes, cuts[c].len,
                  "holds bytes that no interrupted creation leaves");
      continue;
    }
    /* Read-only: nothing to open. */
    o.read_only = 1;
    assert_int_equal(ldb_open("damage", &o, &db), LDB_NOTFOUND);
    o.read_only = 0;
    assert_int_equal(ldb_open("damage", &o, &db), LDB_OK);
    assert_int_equal(ldb_count(db, NULL, NULL, &keys), LDB_OK);
    assert_int_equal(keys, 0); /* a new, empty database */
    assert_int_equal(ldb_close(db), LDB_OK);
    for (size_t i = 0; i < sizeof logs / sizeof *logs; i++)
      (void)s->methods->remove(s, logs[i]);
  }
  free(fresh);
  free(data);
  d_done(s, dir);
}

static void test_lost_data_file_memory(void **state) {
  (void)state;
  lost_data_file(0);
}

static void test_lost_data_file_posix(void **state) {
  (void)state;
  lost_data_file(1);
}

static uint64_t corrupt_reads(ldb_db *db) {
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  return st.corrupt_reads;
}

/* A damaged leaf that only reads reach (nothing written: no checkpoint
 * meets it): every get of its keys answers CORRUPT, but the stats said
 * nothing (background_error 0), so healthCheck() said healthy (reproduced
 * by the new-user trial). ldb_stats.corrupt_reads counts each failed get
 * and scan step, read-write and read-only; ldb_check's own reads of the
 * page do not count (it reports them itself). */
static void test_corrupt_reads_counted(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  d_build(s);
  size_t len;
  uint8_t *data = slurp(s, "data.ldb", &len);
  assert_non_null(data);
  size_t npages = len / MPAGE, pg = 0;
  for (size_t p = npages / 2; p < npages && !pg; p++)
    if (data[p * MPAGE + 4] == 2 /* PT_LEAF */) pg = p;
  assert_true(pg >= 2);
  data[pg * MPAGE + MPAGE - 20] ^= 0x5a;
  put_file(s, "data.ldb", data, len);
  free(data);
  for (int ro = 0; ro < 2; ro++) {
    ldb_options o;
    ldb_db *db = NULL;
    m_options(&o, s);
    o.read_only = ro;
    assert_int_equal(ldb_open("damage", &o, &db), LDB_OK);
    assert_int_equal(corrupt_reads(db), 0);
    uint64_t nbad = 0;
    for (int i = 0; i < DKEYS; i++) {
      char k[16];
      void *v = NULL;
      size_t vl;
      d_key(i, k);
      int rc = ldb_get(db, k, strlen(k), &v, &vl);
      ldb_free(db, v);
      if (rc == LDB_CORRUPT)
        nbad++;
      else
        assert_int_equal(rc, LDB_OK);
    }
    assert_true(nbad >= 2);
    assert_int_equal(corrupt_reads(db), nbad);
    ldb_stats st;
    assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
    assert_int_equal(st.background_error, 0); /* nothing else says it */
    /* A scan stops at the damaged leaf: one more. */
    ldb_iter *it = NULL;
    assert_int_equal(ldb_iter_create(db, NULL, NULL, &it), LDB_OK);
    int rc = ldb_iter_first(it);
    while (rc == LDB_OK)
      rc = ldb_iter_next(it);
    assert_int_equal(rc, LDB_CORRUPT);
    ldb_iter_destroy(it);
    assert_int_equal(corrupt_reads(db), nbad + 1);
    assert_int_equal(ldb_check(db), LDB_CORRUPT);
    assert_int_equal(corrupt_reads(db), nbad + 1);
    assert_int_equal(ldb_close(db), LDB_OK);
  }
  ldb_store_destroy(s);
}

static void test_corrupt_data(void **state) {
  (void)state;
  run(0);
}
static void test_corrupt_log(void **state) {
  (void)state;
  run(1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_corrupt_data),
      cmocka_unit_test(test_corrupt_log),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_newer_meta_damaged),
      cmocka_unit_test(test_every_byte_of_data_file),
      cmocka_unit_test(test_newer_meta_damaged_mid_checkpoint),
      cmocka_unit_test(test_damaged_leaf_write_memory),
      cmocka_unit_test(test_damaged_leaf_write_posix),
      cmocka_unit_test(test_truncated_data_file_memory),
      cmocka_unit_test(test_truncated_data_file_posix),
      cmocka_unit_test(test_lost_data_file_memory),
      cmocka_unit_test(test_lost_data_file_posix),
      cmocka_unit_test(test_corrupt_reads_counted),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
