/*
 * test_corrupt.c — flipped bytes in the data file (tree pages, overflow
 * pages, free pages), in the two meta pages and in the log, at many
 * offsets. open/get/iterate/check must return LDB_CORRUPT (or, in the log,
 * treat the damaged record as the torn tail and ignore it and everything
 * after); nothing crashes, and whatever the database still serves must be
 * right: when every call succeeds, the content is a consistent prefix of
 * the commit sequence, and for damage outside the meta pages and the log
 * it is the complete committed state (a checksum never lets a damaged
 * page through silently).
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

#include "helpers/workload.h"
#include "store.h"

#define PAGE 512

static int ok_code(int rc) { return rc == LDB_OK || rc == LDB_CORRUPT; }

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
static const char *file_names[NFILES] = {"data.ldb", "wal-0.log",
                                         "wal-1.log"};

/* Exercises a damaged database; returns 1 when every call succeeded. */
static int exercise(const char *label, ldb_store *s, const wl *w,
                    int want_full, const uint8_t *full_status) {
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
      fprintf(stderr, "%s: scan returned %s (%s)\n", label,
              ldb_code_name(rc), ldb_errmsg(NULL));
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
  assert_int_equal(wl_run(db, &w, 0, ntx, leave_in_log ? 0 : 40,
                          LDB_SYNC_FULL, status, &next), LDB_OK);
  if (!leave_in_log) assert_int_equal(ldb_checkpoint(db), LDB_OK);
  /* A few more commits that stay in the log either way. */
  assert_int_equal(ldb_close(db), LDB_OK);
  for (uint32_t i = 0; i < ntx; i++) assert_int_equal(status[i], WL_PRESENT);

  img files[NFILES];
  for (int i = 0; i < NFILES; i++) {
    files[i].name = file_names[i];
    files[i].buf = slurp(base, file_names[i], &files[i].len);
  }
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
        if (files[k].buf) put_file(s, files[k].name, files[k].buf, files[k].len);
      files[fi].buf[off] ^= x;
      put_file(s, files[fi].name, files[fi].buf, files[fi].len);
      files[fi].buf[off] ^= x;
      /* In the data file, damage beyond the two meta pages must never
       * change what is served; meta and log damage may roll back to an
       * older consistent state. */
      int want_full = is_data && off >= 2 * PAGE;
      snprintf(label, sizeof label, "%s seed=%llu: %s byte %zu ^= 0x%02x",
               name, (unsigned long long)seed, files[fi].name, off, x);
      if (exercise(label, s, &w, want_full, status)) served++;
      else reported++;
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
    if (exercise(label, s, &w, 0, status)) served++;
    else reported++;
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
    for (size_t i = 16; i < 2 * PAGE; i += PAGE) d[i] ^= 0xff;
    put_file(s, "data.ldb", d, files[0].len);
    free(d);
    db = NULL;
    wl_options(&o, s, LDB_SYNC_FULL, PAGE);
    int rc = ldb_open("corrupt", &o, &db);
    if (rc == LDB_OK) {
      fprintf(stderr, "%s: both meta pages damaged, yet open succeeded\n", name);
      ldb_close(db);
      fail();
    }
    assert_int_equal(rc, LDB_CORRUPT);
    ldb_store_destroy(s);
  }
  printf("%s: %llu damaged images reported, %llu served (verified)\n", name,
         (unsigned long long)reported, (unsigned long long)served);
  for (int i = 0; i < NFILES; i++) free(files[i].buf);
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
  assert_int_equal(ldb_close(db), LDB_OK);
  img files[NFILES];
  for (int i = 0; i < NFILES; i++) {
    files[i].name = file_names[i];
    files[i].buf = slurp(base, file_names[i], &files[i].len);
  }
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
  for (int i = 0; i < NFILES; i++) free(files[i].buf);
  ldb_store_destroy(base);
  free(status);
  wl_free(&w);
}

static void test_corrupt_data(void **state) { (void)state; run(0); }
static void test_corrupt_log(void **state) { (void)state; run(1); }

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_corrupt_data),
      cmocka_unit_test(test_corrupt_log),
      cmocka_unit_test(test_truncated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
