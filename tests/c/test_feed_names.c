/*
 * test_feed_names.c — the log's segment names (feed.c) while a reader holds
 * a dropped segment. Segment n is "feed-<n mod 16>.log": the names come
 * round again every 16 segments. A change cursor holds the segment it
 * reads for the whole read; a trim meanwhile only marks it dead, and the
 * last reader frees it. The test makes the writer go 16+ segments further
 * while the reader is inside its read (a store hook runs the writer from
 * within the reader's read() call, single-threaded and deterministic) and
 * checks that
 *  - the reader still reads its own record (no segment was created over
 *    the file it reads: it would read the new segment's bytes, a spurious
 *    CORRUPT or, as before the fix, a newer record taken for the end of
 *    the feed: NOT_FOUND with 250 commits unread),
 *  - no live segment's file was removed when the reader let go: an image
 *    of the store taken then (a crash: nothing more reaches it) opens with
 *    every acknowledged commit and the whole retained feed,
 *  - the writer rotates normally again once the reader has let go.
 * Run over the memory store (remove of an open file: POSIX unlink
 * semantics) and the platform's directory store (posix or win32).
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
#include "lightningdb.h"

#define VAL 16384u        /* value bytes: 8 records to a 128 KiB segment */
#define RETAIN (1u << 20) /* log_retention_bytes: segments of RETAIN / 8 */
#define WRITES 240        /* commits made inside the reader's read */
#define CKPT_EVERY 4      /* a checkpoint (which trims) every few commits */
#define TAIL 12           /* commits after the read, never checkpointed */

/* ---- a store that runs a hook inside the first read of a log segment --- */

typedef struct hook_store {
  ldb_store base;
  ldb_store *inner;
  int armed;
  void (*fn)(void *arg);
  void *arg;
  char fired[64]; /* the file the hook fired in */
} hook_store;

typedef struct hook_file {
  ldb_file base;
  ldb_file *inner;
  char name[64];
} hook_file;

static int h_open(ldb_store *s, const char *name, int flags, ldb_file **out) {
  hook_store *hs = (hook_store *)s;
  hook_file *f = calloc(1, sizeof *f);
  if (!f) return LDB_NOMEM;
  int rc = hs->inner->methods->open(hs->inner, name, flags, &f->inner);
  if (rc) {
    free(f);
    return rc;
  }
  f->base.store = s;
  snprintf(f->name, sizeof f->name, "%s", name);
  *out = &f->base;
  return LDB_OK;
}

static int h_read(ldb_file *f, uint64_t off, void *buf, size_t len,
                  size_t *got) {
  hook_file *hf = (hook_file *)f;
  hook_store *hs = (hook_store *)f->store;
  if (hs->armed && !strncmp(hf->name, "feed-", 5)) {
    hs->armed = 0;
    snprintf(hs->fired, sizeof hs->fired, "%s", hf->name);
    hs->fn(hs->arg);
  }
  return hf->inner->store->methods->read(hf->inner, off, buf, len, got);
}

static int h_write(ldb_file *f, uint64_t off, const void *buf, size_t len) {
  ldb_file *in = ((hook_file *)f)->inner;
  return in->store->methods->write(in, off, buf, len);
}

static int h_sync(ldb_file *f) {
  ldb_file *in = ((hook_file *)f)->inner;
  return in->store->methods->sync(in);
}

static int h_size(ldb_file *f, uint64_t *size) {
  ldb_file *in = ((hook_file *)f)->inner;
  return in->store->methods->size(in, size);
}

static int h_truncate(ldb_file *f, uint64_t size) {
  ldb_file *in = ((hook_file *)f)->inner;
  return in->store->methods->truncate(in, size);
}

static int h_close(ldb_file *f) {
  ldb_file *in = ((hook_file *)f)->inner;
  int rc = in->store->methods->close(in);
  free(f);
  return rc;
}

static int h_lock(ldb_store *s, int excl, char *holder, size_t cap) {
  ldb_store *in = ((hook_store *)s)->inner;
  return in->methods->lock(in, excl, holder, cap);
}

static int h_unlock(ldb_store *s) {
  ldb_store *in = ((hook_store *)s)->inner;
  return in->methods->unlock(in);
}

static int h_remove(ldb_store *s, const char *name) {
  ldb_store *in = ((hook_store *)s)->inner;
  return in->methods->remove(in, name);
}

static void h_destroy(ldb_store *s) {
  (void)s; /* the hook store lives on the test's stack */
}

static const ldb_store_methods hook_methods = {
    h_open, h_read,   h_write,  h_sync,    h_size, h_truncate, h_close,
    h_lock, h_unlock, h_remove, h_destroy, NULL,   NULL,       NULL,
};

/* ---- the database ------------------------------------------------------- */

static const char *all_names[] = {
    "data.ldb",    "feed.head",   "feed-00.log", "feed-01.log", "feed-02.log",
    "feed-03.log", "feed-04.log", "feed-05.log", "feed-06.log", "feed-07.log",
    "feed-08.log", "feed-09.log", "feed-10.log", "feed-11.log", "feed-12.log",
    "feed-13.log", "feed-14.log", "feed-15.log"};
#define NNAMES (sizeof all_names / sizeof all_names[0])

/* A memory store holding a copy of every file of src: what a crash now
 * leaves (every commit was synced: sync mode full). */
static ldb_store *crash_image(ldb_store *src) {
  ldb_store *d;
  assert_int_equal(ldb_store_memory(&d), LDB_OK);
  for (size_t i = 0; i < NNAMES; i++) {
    ldb_file *f = NULL, *g = NULL;
    if (src->methods->open(src, all_names[i], 0, &f) != LDB_OK) continue;
    uint64_t sz = 0;
    assert_int_equal(f->store->methods->size(f, &sz), LDB_OK);
    uint8_t *b = malloc(sz ? sz : 1);
    size_t got = 0;
    assert_int_equal(f->store->methods->read(f, 0, b, sz, &got), LDB_OK);
    assert_int_equal(got, sz);
    f->store->methods->close(f);
    assert_int_equal(d->methods->open(d, all_names[i], LDB_STORE_CREATE, &g),
                     LDB_OK);
    if (sz) assert_int_equal(g->store->methods->write(g, 0, b, sz), LDB_OK);
    assert_int_equal(g->store->methods->sync(g), LDB_OK);
    g->store->methods->close(g);
    free(b);
  }
  return d;
}

static void key_of(int i, char *k) {
  snprintf(k, 16, "k%05d", i);
}

static void val_of(int i, uint8_t *v) {
  for (size_t j = 0; j < VAL; j++)
    v[j] = (uint8_t)(i * 31 + j * 7);
}

static void put_n(ldb_db *db, int i) {
  char k[16];
  static uint8_t v[VAL];
  key_of(i, k);
  val_of(i, v);
  assert_int_equal(ldb_put(db, k, strlen(k), v, VAL), LDB_OK);
}

static void options(ldb_options *o, ldb_store *s) {
  ldb_options_default(o);
  o->store = s;
  o->sync_mode = LDB_SYNC_FULL;
  o->background_checkpoint = 0;
  o->log_retention_bytes = RETAIN;
}

typedef struct writer {
  ldb_db *db;
  int next; /* the next key to write */
  uint64_t max_segments;
} writer;

static void log_segments(ldb_db *db, uint64_t *segs, uint64_t *bytes) {
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  *segs = st.log_retained_segments;
  *bytes = st.log_retained_bytes;
}

/* The writer, run inside the reader's read: WRITES commits (about 30
 * segments of the log), with checkpoints that let the trims drop the
 * segment being read. */
static void write_through(void *arg) {
  writer *w = arg;
  for (int n = 0; n < WRITES; n++) {
    put_n(w->db, w->next++);
    if (n % CKPT_EVERY == CKPT_EVERY - 1)
      assert_int_equal(ldb_checkpoint(w->db), LDB_OK);
    uint64_t segs, bytes;
    log_segments(w->db, &segs, &bytes);
    if (segs > w->max_segments) w->max_segments = segs;
  }
}

static void run_on(ldb_store *inner) {
  hook_store hs = {.base = {.methods = &hook_methods, .id = NULL},
                   .inner = inner};
  writer w = {0};
  ldb_options o;
  options(&o, &hs.base);
  ldb_db *db = tu_open("feednames", &o);
  w.db = db;
  /* One record in the first segment when the cursor opens: its read-ahead
   * then holds that record only, and the next record is read from the
   * file (the read the hook runs the writer in). */
  put_n(db, w.next++);
  ldb_changes *c;
  assert_int_equal(ldb_changes_open(db, 0, NULL, &c), LDB_OK);
  for (int i = 0; i < 3; i++)
    put_n(db, w.next++);
  ldb_change ch;
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 1);

  hs.fn = write_through;
  hs.arg = &w;
  hs.armed = 1;
  int rc = ldb_changes_next(c, &ch);
  char msg[512];
  int says = rc && rc != LDB_NOTFOUND; /* an error with a message */
  snprintf(msg, sizeof msg, "%s%s%s", says ? " (" : "",
           says ? ldb_errmsg(NULL) : "", says ? ")" : "");
  assert_false(hs.armed);
  assert_string_equal(hs.fired, "feed-00.log");
  uint64_t seq = rc ? 0 : ch.seq;
  /* Commits the last checkpoint does not cover: recovery needs their
   * records. */
  for (int i = 0; i < TAIL; i++)
    put_n(db, w.next++);
  const int total = w.next;

  /* A crash now: every commit was acknowledged durable. */
  ldb_store *img = crash_image(inner);
  ldb_options o2;
  options(&o2, img);
  ldb_db *db2 = NULL;
  int orc = ldb_open("feednames-crash", &o2, &db2);
  char omsg[512];
  snprintf(omsg, sizeof omsg, "%s%s%s", orc ? " (" : "",
           orc ? ldb_errmsg(NULL) : "", orc ? ")" : "");
  int missing = 0;
  if (!orc) {
    char k[16];
    static uint8_t want[VAL];
    for (int i = 0; i < total; i++) {
      void *v = NULL;
      size_t vl = 0;
      key_of(i, k);
      val_of(i, want);
      int g = ldb_get(db2, k, strlen(k), &v, &vl);
      if (g || vl != VAL || memcmp(v, want, VAL)) missing++;
      if (!g) ldb_free(db2, v);
    }
  }
  print_message("reader: %s%s; crash image: open %s%s, %d of %d commits "
                "missing; at most %llu segments live\n",
                rc ? ldb_code_name(rc) : "OK", msg,
                orc ? ldb_code_name(orc) : "OK", omsg, missing, total,
                (unsigned long long)w.max_segments);
  assert_int_equal(rc, LDB_OK);
  assert_int_equal(seq, 2);
  assert_int_equal(orc, LDB_OK);
  assert_int_equal(missing, 0);
  assert_true(w.max_segments <= 15);

  /* The whole retained feed of the image reads in order to the last
   * commit. */
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db2, &st), LDB_OK);
  assert_int_equal(st.last_seq, (uint64_t)total);
  ldb_changes *c2;
  assert_int_equal(ldb_changes_open(db2, st.log_retained_since, NULL, &c2),
                   LDB_OK);
  uint64_t expect = st.log_retained_since + 1;
  while ((rc = ldb_changes_next(c2, &ch)) == LDB_OK)
    assert_int_equal(ch.seq, expect++);
  assert_int_equal(rc, LDB_NOTFOUND);
  assert_int_equal(expect, (uint64_t)total + 1);
  ldb_changes_close(c2);
  assert_int_equal(ldb_close(db2), LDB_OK);
  ldb_store_destroy(img);

  /* Once the reader has let go the writer rotates again: the log goes
   * back to segments of about RETAIN / 8 and to about RETAIN bytes. */
  for (int i = 0; i < 64; i++) {
    put_n(db, w.next++);
    if (i % CKPT_EVERY == CKPT_EVERY - 1)
      assert_int_equal(ldb_checkpoint(db), LDB_OK);
  }
  uint64_t segs, bytes;
  log_segments(db, &segs, &bytes);
  print_message("after: %llu segments, %llu bytes retained\n",
                (unsigned long long)segs, (unsigned long long)bytes);
  assert_true(segs >= 6 && segs <= 15);
  assert_true(bytes <= RETAIN + 2 * (RETAIN / 8));
  /* The cursor's position was trimmed meanwhile. */
  assert_int_equal(ldb_changes_next(c, &ch), LDB_COMPACTED);
  ldb_changes_close(c);
  assert_int_equal(ldb_close(db), LDB_OK);
}

static void test_reader_across_16_segments_memory(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  run_on(s);
  ldb_store_destroy(s);
}

static void test_reader_across_16_segments_dir(void **state) {
  (void)state;
  char *dir = tu_tmpdir("feednames");
  ldb_store *s;
  assert_int_equal(tu_store_dir(dir, 1, &s), LDB_OK);
  run_on(s);
  ldb_store_destroy(s);
  tu_rmrf(dir);
  free(dir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reader_across_16_segments_memory),
      cmocka_unit_test(test_reader_across_16_segments_dir),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
