/*
 * test_damage.c — random damage to a large closed database on the
 * directory store, read back through the mapping (bounded or not) and
 * through the page cache.
 *
 * test_corrupt.c flips every byte of small databases in memory; this one
 * builds a database of 100,000 keys (a tree several levels deep, overflow
 * chains, a log that retains the records of the whole build), closes it,
 * and then, once per trial, copies its files, flips a few random bytes in
 * data.ldb (anywhere, or in page headers, or in the meta pages) or in the
 * log, and opens the copy. The open either fails with LDB_CORRUPT or
 * LDB_IOERR, or every key reads back (ldb_get and a full scan in both
 * directions) with its exact value, or its read fails with LDB_CORRUPT /
 * LDB_IOERR; a key missing, a key extra or a value wrong is a failure,
 * and so is a read that failed while ldb_check says LDB_OK. Then a few
 * writes and a checkpoint on the damaged database: each returns OK or
 * CORRUPT/IOERR, and what it wrote reads back or fails, never a crash.
 *
 * Every commit of the build is checkpointed before the close, so no
 * damage may cost a key silently (a damaged log record is the change
 * feed's, not the tree's); the last 200 commits are each one key of a
 * numbered series written after the checkpoint, to be replayed: of those,
 * the database must hold a prefix (a damaged record in the newest part of
 * the log cannot be told from a torn tail and ends replay, see ldb_open).
 *
 * Replay a failure with LDB_SEED=<seed>.
 */
#include <dirent.h>
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

#define NKEYS 100000u
#define NTAIL 200u
#define MAXF 40

static size_t key_of(unsigned i, char *k) {
  return (size_t)snprintf(k, 32, "k%07u", i);
}

static size_t tail_key(unsigned i, char *k) {
  return (size_t)snprintf(k, 32, "t%05u", i);
}

/* Key i's value: 0..299 bytes, every 50th 2000..9999 (overflow pages). */
static size_t value_of(uint64_t i, uint8_t *v) {
  uint64_t h = tu_mix(i + 1);
  size_t len = i % 50 == 7 ? 2000 + h % 8000 : h % 300;
  uint64_t x = h;
  for (size_t j = 0; j < len; j++) {
    if (j % 8 == 0) x = tu_mix(x + j);
    v[j] = (h & 1) ? (uint8_t)(x >> (j % 8 * 8)) : (uint8_t)('a' + j % 7);
  }
  return len;
}

typedef struct file_img {
  char name[256];
  uint8_t *bytes;
  size_t len;
} file_img;

static file_img files[MAXF];
static int nfiles;
static char *base_dir;

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc(n > 0 ? (size_t)n : 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void write_file(const char *path, const uint8_t *b, size_t len) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(b, 1, len, f), len);
  assert_int_equal(fclose(f), 0);
}

static void build(void) {
  static uint8_t v[10000];
  char k[32];
  ldb_options o;
  ldb_db *db = NULL;
  base_dir = tu_tmpdir("damage_base");
  ldb_options_default(&o);
  o.sync_mode = LDB_SYNC_OFF;
  o.memtable_size = 4 << 20;
  o.log_retention_bytes = 256 << 20; /* the log keeps the whole build */
  assert_int_equal(ldb_open(base_dir, &o, &db), LDB_OK);
  ldb_batch *b = NULL;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  /* Half in order (appends), half shuffled by a stride. */
  for (unsigned n = 0; n < NKEYS; n++) {
    unsigned i = n < NKEYS / 2 ? n : NKEYS / 2 + (n * 7919u) % (NKEYS / 2);
    size_t vl = value_of(i, v);
    assert_int_equal(ldb_batch_put(b, k, key_of(i, k), v, vl), LDB_OK);
    if (ldb_batch_count(b) == 500) {
      assert_int_equal(ldb_write(db, b), LDB_OK);
      ldb_batch_clear(b);
    }
  }
  assert_int_equal(ldb_write(db, b), LDB_OK);
  ldb_batch_destroy(b);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  for (unsigned i = 0; i < NTAIL; i++) {
    size_t vl = value_of(NKEYS + i, v);
    assert_int_equal(ldb_put(db, k, tail_key(i, k), v, vl), LDB_OK);
  }
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  DIR *d = opendir(base_dir);
  struct dirent *e;
  assert_non_null(d);
  char path[4200];
  nfiles = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, "LOCK")) continue;
    assert_true(nfiles < MAXF);
    file_img *f = &files[nfiles++];
    snprintf(f->name, sizeof f->name, "%s", e->d_name);
    snprintf(path, sizeof path, "%.3800s/%.250s", base_dir, e->d_name);
    f->bytes = read_file(path, &f->len);
  }
  closedir(d);
  /* data.ldb first */
  for (int i = 0; i < nfiles; i++)
    if (!strcmp(files[i].name, "data.ldb") && i) {
      file_img t = files[0];
      files[0] = files[i];
      files[i] = t;
    }
  assert_string_equal(files[0].name, "data.ldb");
  printf("damage: base database: %d files, data.ldb %zu bytes\n", nfiles,
         files[0].len);
}

static int err_code(int rc) {
  return rc == LDB_CORRUPT || rc == LDB_IOERR;
}

/* Reads every key of the damaged database; returns the number of reads
 * that failed with CORRUPT/IOERR. Fails the test on a wrong answer. */
static unsigned read_all(const char *label, ldb_db *db) {
  static uint8_t want[10000];
  char k[32];
  unsigned bad = 0;
  for (unsigned i = 0; i < NKEYS; i++) {
    void *v = NULL;
    size_t vl = 0, kl = key_of(i, k), wl = value_of(i, want);
    int rc = ldb_get(db, k, kl, &v, &vl);
    if (rc == LDB_OK) {
      if (vl != wl || memcmp(v, want, vl))
        fail_msg("%s: %s read back wrong (%zu bytes, want %zu)", label, k, vl,
                 wl);
    } else if (err_code(rc)) {
      bad++;
    } else {
      fail_msg("%s: get %s: %s (%s)", label, k, ldb_code_name(rc),
               ldb_errmsg(NULL));
    }
    ldb_free(db, v);
  }
  /* The tail series: a prefix of it. */
  unsigned present = 0, missing = 0;
  for (unsigned i = 0; i < NTAIL; i++) {
    void *v = NULL;
    size_t vl = 0, kl = tail_key(i, k), wl = value_of(NKEYS + i, want);
    int rc = ldb_get(db, k, kl, &v, &vl);
    if (rc == LDB_OK) {
      if (vl != wl || memcmp(v, want, vl))
        fail_msg("%s: %s read back wrong", label, k);
      if (missing) fail_msg("%s: %s present after a missing one", label, k);
      present++;
    } else if (rc == LDB_NOTFOUND) {
      missing++;
    } else if (err_code(rc)) {
      bad++;
    } else {
      fail_msg("%s: get %s: %s", label, k, ldb_code_name(rc));
    }
    ldb_free(db, v);
  }
  /* Scans, both directions: every entry right, in order, none skipped
   * (each key the scan passes over must be missing from the model). */
  for (int rev = 0; rev < 2; rev++) {
    ldb_iter_options io;
    ldb_iter *it = NULL;
    memset(&io, 0, sizeof io);
    io.reverse = rev;
    io.upper = "l";
    io.upper_len = 1;
    int rc = ldb_iter_create(db, NULL, &io, &it);
    if (err_code(rc)) {
      bad++;
      continue;
    }
    assert_int_equal(rc, LDB_OK);
    long expect = rev ? (long)NKEYS - 1 : 0;
    for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
      const void *kp, *vp;
      size_t kl, vl;
      assert_int_equal(ldb_iter_key(it, &kp, &kl), LDB_OK);
      size_t el = key_of((unsigned)expect, k);
      if (kl != el || memcmp(kp, k, kl))
        fail_msg("%s: scan (%s) gave %.*s, expected %s", label,
                 rev ? "reverse" : "forward", (int)kl, (const char *)kp, k);
      int vrc = ldb_iter_value(it, &vp, &vl);
      size_t wl = value_of((uint64_t)expect, want);
      if (err_code(vrc)) { /* an overflow chain read when asked for */
        bad++;
      } else {
        assert_int_equal(vrc, LDB_OK);
        if (vl != wl || memcmp(vp, want, vl))
          fail_msg("%s: scan: value of %s wrong", label, k);
      }
      expect += rev ? -1 : 1;
    }
    if (rc == LDB_NOTFOUND) {
      if (expect != (rev ? -1 : (long)NKEYS))
        fail_msg("%s: scan (%s) ended early at %ld without an error", label,
                 rev ? "reverse" : "forward", expect);
    } else if (err_code(rc)) {
      bad++;
    } else {
      fail_msg("%s: scan: %s", label, ldb_code_name(rc));
    }
    ldb_iter_destroy(it);
  }
  return bad;
}

/* Writes on the damaged database: codes only OK/CORRUPT/IOERR; what was
 * acknowledged reads back or fails. */
static void write_some(const char *label, ldb_db *db, tu_rng *r) {
  char k[32];
  static uint8_t v[100];
  unsigned keys[50];
  int acked[50];
  for (int j = 0; j < 50; j++) {
    keys[j] = (unsigned)tu_below(r, NKEYS);
    memset(v, 'W' + j % 3, sizeof v);
    int rc = ldb_put(db, k, key_of(keys[j], k), v, 50 + (size_t)j);
    if (rc != LDB_OK && !err_code(rc))
      fail_msg("%s: put: %s", label, ldb_code_name(rc));
    acked[j] = rc == LDB_OK;
  }
  int rc = ldb_checkpoint(db);
  if (rc != LDB_OK && !err_code(rc))
    fail_msg("%s: checkpoint: %s (%s)", label, ldb_code_name(rc),
             ldb_errmsg(NULL));
  for (int j = 49; j >= 0; j--) {
    if (!acked[j]) continue;
    int later = 0; /* a later put of the same key wins */
    for (int q = j + 1; q < 50; q++)
      later |= keys[q] == keys[j] && acked[q];
    if (later) continue;
    void *got = NULL;
    size_t gl = 0;
    rc = ldb_get(db, k, key_of(keys[j], k), &got, &gl);
    if (rc == LDB_OK) {
      memset(v, 'W' + j % 3, sizeof v);
      if (gl != 50 + (size_t)j || memcmp(got, v, gl))
        fail_msg("%s: %s written on the damaged database reads back wrong",
                 label, k);
    } else if (!err_code(rc)) {
      fail_msg("%s: get after write: %s", label, ldb_code_name(rc));
    }
    ldb_free(db, got);
  }
}

static void trial(const char *dir, tu_rng *r, unsigned t, unsigned *refused,
                  unsigned *served_all, unsigned *partial) {
  char path[4200], label[300];
  int lab = 0;
  tu_rmrf(dir);
  assert_int_equal(tu_mkdir(dir), 0);
  /* Which file and where. */
  int fi = tu_chance(r, 70) ? 0 : 1 + (int)tu_below(r, (uint64_t)nfiles - 1);
  file_img *f = &files[fi];
  uint8_t *copy = malloc(f->len ? f->len : 1);
  assert_non_null(copy);
  memcpy(copy, f->bytes, f->len);
  unsigned nflips = 1 + (unsigned)tu_below(r, 4);
  uint64_t mode = tu_below(r, 4);
  lab = snprintf(label, sizeof label, "trial %u: %s", t, f->name);
  for (unsigned j = 0; j < nflips && f->len; j++) {
    size_t off;
    if (fi == 0 && mode == 1) /* a page header */
      off = (size_t)tu_below(r, f->len / 4096) * 4096 + tu_below(r, 32);
    else if (fi == 0 && mode == 2) /* a meta page */
      off = (size_t)tu_below(r, 8192 < f->len ? 8192 : f->len);
    else
      off = (size_t)tu_below(r, f->len);
    uint8_t x = (uint8_t)(1 + tu_below(r, 255));
    copy[off] ^= x;
    if (lab < (int)sizeof label - 40)
      lab += snprintf(label + lab, sizeof label - (size_t)lab, " [%zu]^=%02x",
                      off, x);
  }
  for (int i = 0; i < nfiles; i++) {
    snprintf(path, sizeof path, "%.3800s/%.250s", dir, files[i].name);
    write_file(path, i == fi ? copy : files[i].bytes, files[i].len);
  }
  free(copy);
  ldb_options o;
  ldb_db *db = NULL;
  ldb_options_default(&o);
  o.sync_mode = LDB_SYNC_OFF;
  o.log_retention_bytes = 256 << 20;
  uint64_t how = tu_below(r, 3);
  if (how == 0) o.mmap_size = 0;
  if (how == 2) {
    o.mmap_bounded = 1;
    o.cache_size = 256 * 1024;
  }
  o.read_only = tu_chance(r, 25);
  int rc = ldb_open(dir, &o, &db);
  if (rc != LDB_OK) {
    if (!err_code(rc))
      fail_msg("%s: open: %s (%s)", label, ldb_code_name(rc), ldb_errmsg(NULL));
    (*refused)++;
    return;
  }
  unsigned bad = read_all(label, db);
  int crc = ldb_check(db);
  if (crc != LDB_OK && !err_code(crc))
    fail_msg("%s: check: %s", label, ldb_code_name(crc));
  if (bad && crc == LDB_OK)
    fail_msg("%s: %u reads failed, but ldb_check says OK", label, bad);
  if (bad)
    (*partial)++;
  else
    (*served_all)++;
  if (!o.read_only) write_some(label, db, r);
  rc = ldb_close(db);
  if (rc != LDB_OK && !err_code(rc))
    fail_msg("%s: close: %s", label, ldb_code_name(rc));
}

static void test_random_damage(void **state) {
  (void)state;
  uint64_t seed = tu_seed("damage");
  tu_rng r;
  tu_rng_init(&r, seed);
  build();
  char *dir = tu_tmpdir("damage_trial");
  unsigned refused = 0, served = 0, partial = 0;
  unsigned n = (unsigned)tu_scale(36, 6, 6);
  for (unsigned t = 0; t < n; t++)
    trial(dir, &r, t, &refused, &served, &partial);
  printf("damage: %u trials: %u refused at open, %u served every key, %u "
         "served some and reported CORRUPT for the rest\n",
         n, refused, served, partial);
  tu_rmrf(dir);
  free(dir);
  tu_rmrf(base_dir);
  free(base_dir);
  for (int i = 0; i < nfiles; i++)
    free(files[i].bytes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_random_damage),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
