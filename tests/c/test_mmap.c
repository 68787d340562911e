/*
 * test_mmap.c — the read path through the memory mapping of the data file
 * (posix store, ldb_options.mmap_size): the data file truncated from
 * outside while the database is open (single reader, iterator, and a
 * reader thread racing the truncation) gives LDB_IOERR or LDB_CORRUPT and
 * never SIGBUS; a page damaged on disk is caught by its checksum through
 * the mapping; a page written again after it was freed is verified again
 * (verified once per page version); and a mapping shorter than the file
 * (pages past it through the cache) reads the same data. Values on
 * overflow chains take the same path: read from the mapping (no byte
 * through the store), a damaged overflow page is CORRUPT, one verified,
 * freed and written again is verified again, and a truncation under a
 * chain is an error, never SIGBUS. The statistics
 * say which path served the reads: mmap_bytes and the sampled residency
 * counters under the mapping, the cache's counters without it.
 *
 * The mapping's resident set (mmap_bounded): with a cache budget far below
 * the file, the bytes of the data file this process has mapped (its Rss in
 * /proc/self/smaps, which a release changes, unlike mincore(), which for a
 * shared file mapping reports the OS page cache) stay within cache_size
 * while every read returns the right value; without the bound they do
 * not; readers racing the hand (and a writer with checkpoints) read right
 * values (this test runs under ThreadSanitizer); through the faulty store
 * the hand runs and the reads stay right.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "helpers/store_faulty.h"
#include "helpers/testutil.h"

#define NKEYS 20000

static void key_of(char *k, int i) {
  snprintf(k, 16, "key%08d", i);
}

static void val_of(uint8_t *v, size_t n, int i, int round) {
  for (size_t j = 0; j < n; j++)
    v[j] = (uint8_t)(i * 31 + j * 7 + round);
}

/* A database of NKEYS keys, checkpointed (so every key lives in the tree,
 * read through the mapping), then closed and reopened with o. */
static void put_all(ldb_db *db, int round);

static ldb_db *make_db(const char *dir, const ldb_options *o, int round) {
  ldb_db *db = NULL;
  assert_int_equal(ldb_open(dir, o, &db), LDB_OK);
  put_all(db, round);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  db = NULL;
  assert_int_equal(ldb_open(dir, o, &db), LDB_OK);
  return db;
}

static void put_n(ldb_db *db, int round, int n);

/* Writes the NKEYS keys with the values of `round`, 1000 to a batch. */
static void put_all(ldb_db *db, int round) {
  put_n(db, round, NKEYS);
}

/* Writes keys 0..n-1 with the values of `round`, 1000 to a batch. */
static void put_n(ldb_db *db, int round, int n) {
  ldb_batch *b = NULL;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  for (int i = 0; i < n; i++) {
    char k[16];
    uint8_t v[100];
    key_of(k, i);
    val_of(v, sizeof v, i, round);
    assert_int_equal(ldb_batch_put(b, k, strlen(k), v, sizeof v), LDB_OK);
    if (ldb_batch_count(b) == 1000) {
      assert_int_equal(ldb_write(db, b), LDB_OK);
      ldb_batch_clear(b);
    }
  }
  if (ldb_batch_count(b)) assert_int_equal(ldb_write(db, b), LDB_OK);
  ldb_batch_destroy(b);
}

/* Reads every key; returns how many were found with the right value, and
 * counts the error codes seen. Any other outcome fails the test. */
static int read_all(ldb_db *db, int round, int *ioerr, int *corrupt) {
  int ok = 0;
  for (int i = 0; i < NKEYS; i++) {
    char k[16];
    uint8_t v[100], want[100];
    size_t len = 0;
    key_of(k, i);
    val_of(want, sizeof want, i, round);
    int rc = ldb_get_buf(db, k, strlen(k), v, sizeof v, &len);
    if (rc == LDB_OK) {
      assert_int_equal(len, sizeof v);
      assert_memory_equal(v, want, sizeof v);
      ok++;
    } else if (rc == LDB_IOERR) {
      (*ioerr)++;
    } else if (rc == LDB_CORRUPT) {
      (*corrupt)++;
    } else {
      fail_msg("get %s: unexpected %s", k, ldb_code_name(rc));
    }
  }
  return ok;
}

static void data_path(char *path, size_t cap, const char *dir) {
  snprintf(path, cap, "%s/data.ldb", dir);
}

static void truncate_file(const char *path, off_t size) {
  int fd = open(path, O_WRONLY);
  assert_true(fd >= 0);
  assert_int_equal(ftruncate(fd, size), 0);
  close(fd);
}

/* ldb_options_default()'s mmap_size (the mapping covers the whole file). */
static uint64_t default_mmap_size(void) {
  ldb_options o;
  ldb_options_default(&o);
  return o.mmap_size;
}

/* One test's database: a temporary directory holding make_db()'s NKEYS
 * keys of `round`, opened with sync off and the given mmap_size. */
typedef struct fixture {
  char *dir;
  char path[4200]; /* the data file */
  ldb_options o;
  ldb_db *db;
} fixture;

static void fx_open(fixture *f, const char *name, uint64_t mmap_size,
                    int round) {
  f->dir = tu_tmpdir(name);
  data_path(f->path, sizeof f->path, f->dir);
  ldb_options_default(&f->o);
  f->o.sync_mode = LDB_SYNC_OFF;
  f->o.mmap_size = mmap_size;
  f->db = make_db(f->dir, &f->o, round);
}

/* Closes the database (unless the test did) and removes the directory.
 * check_close: the close must succeed (else it may report damage). */
static void fx_end(fixture *f, int check_close) {
  if (f->db) {
    int rc = ldb_close(f->db);
    if (check_close) assert_int_equal(rc, LDB_OK);
  }
  tu_rmrf(f->dir);
  free(f->dir);
}

static void test_reads_through_mapping(void **state) {
  (void)state;
  fixture f;
  fx_open(&f, "mmap-read", default_mmap_size(), 1);
  ldb_db *db = f.db;
  int io = 0, co = 0;
  assert_int_equal(read_all(db, 1, &io, &co), NKEYS);
  /* Read again: every page is verified by now and read in place. */
  assert_int_equal(read_all(db, 1, &io, &co), NKEYS);
  assert_int_equal(io + co, 0);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.cache_bytes, 0); /* the cache held nothing */
  assert_int_equal(st.cache_hits + st.cache_misses, 0);
  assert_true(st.mmap_bytes > 0 && st.mmap_bytes <= f.o.mmap_size);
  /* 2 * NKEYS gets, each through at least a branch and a leaf page: at
   * least 4 * NKEYS mapped reads, 1 in 1024 of them sampled (the countdown
   * is per thread, so its phase is whatever earlier tests left). The pages
   * were just written, so most are resident. */
  uint64_t sampled = st.mmap_sampled_resident + st.mmap_sampled_faults;
  assert_true(sampled >= 4 * NKEYS / 1024 - 1);
  assert_true(st.mmap_sampled_resident > 0);
  /* A scan sees every key in order, with the right values. */
  ldb_iter *it = NULL;
  assert_int_equal(ldb_iter_create(db, NULL, NULL, &it), LDB_OK);
  int n = 0;
  for (int rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it), n++) {
    const void *k, *v;
    size_t kl, vl;
    char want[16];
    uint8_t wv[100];
    key_of(want, n);
    val_of(wv, sizeof wv, n, 1);
    assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
    assert_int_equal(ldb_iter_value(it, &v, &vl), LDB_OK);
    assert_int_equal(kl, strlen(want));
    assert_memory_equal(k, want, kl);
    assert_int_equal(vl, sizeof wv);
    assert_memory_equal(v, wv, vl);
  }
  assert_int_equal(n, NKEYS);
  ldb_iter_destroy(it);
  fx_end(&f, 1);
}

/* Pages freed by one checkpoint and written again by a later one hold a
 * new image: it must be verified again, and read correctly. */
static void test_rewritten_pages(void **state) {
  (void)state;
  fixture f;
  fx_open(&f, "mmap-rewrite", default_mmap_size(), 1);
  ldb_db *db = f.db;
  for (int round = 2; round <= 5; round++) {
    put_all(db, round);
    assert_int_equal(ldb_checkpoint(db), LDB_OK);
    int io = 0, co = 0;
    assert_int_equal(read_all(db, round, &io, &co), NKEYS);
  }
  assert_int_equal(ldb_check(db), LDB_OK);
  fx_end(&f, 1);
}

/* A mapping shorter than the file: the pages past it come through the
 * cache; and mmap_size 0 reads everything through the cache. */
static void test_partial_and_no_mapping(void **state) {
  (void)state;
  uint64_t sizes[] = {64 * 4096, 0};
  for (size_t s = 0; s < 2; s++) {
    fixture f;
    fx_open(&f, "mmap-partial", sizes[s], 3);
    int io = 0, co = 0;
    assert_int_equal(read_all(f.db, 3, &io, &co), NKEYS);
    ldb_stats st;
    assert_int_equal(ldb_stats_get(f.db, &st), LDB_OK);
    assert_true(st.cache_bytes > 0);
    assert_true(st.cache_hits + st.cache_misses > 0);
    assert_int_equal(st.mmap_bytes, sizes[s]);
    if (sizes[s] == 0)
      assert_int_equal(st.mmap_sampled_resident + st.mmap_sampled_faults, 0);
    fx_end(&f, 1);
  }
}

/* A page damaged on disk is caught by its checksum when first read
 * through the mapping, and stays an error on every later read. */
static void test_damaged_page(void **state) {
  (void)state;
  fixture f;
  fx_open(&f, "mmap-damage", default_mmap_size(), 1);
  assert_int_equal(ldb_close(f.db), LDB_OK);
  f.db = NULL;
  /* Damage one byte in the middle of every page past the meta pages. */
  long long size = tu_file_size(f.path);
  assert_true(size > 8 * 4096);
  int fd = open(f.path, O_RDWR);
  assert_true(fd >= 0);
  for (long long off = 2 * 4096; off < size; off += 4096) {
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, off + 2000), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, off + 2000), 1);
  }
  close(fd);
  assert_int_equal(ldb_open(f.dir, &f.o, &f.db), LDB_OK);
  for (int pass = 0; pass < 2; pass++) {
    int io = 0, co = 0;
    assert_int_equal(read_all(f.db, 1, &io, &co), 0);
    assert_int_equal(co, NKEYS);
  }
  fx_end(&f, 1);
}

/* The data file truncated by another process while the database is open:
 * gets and an open iterator return IOERR or CORRUPT (the mapped pages
 * past the new end are gone), never SIGBUS; the database still closes. */
static void test_truncated_under_mapping(void **state) {
  (void)state;
  fixture f;
  fx_open(&f, "mmap-trunc", default_mmap_size(), 1);
  ldb_db *db = f.db;
  int io = 0, co = 0;
  assert_int_equal(read_all(db, 1, &io, &co), NKEYS);
  ldb_iter *it = NULL;
  assert_int_equal(ldb_iter_create(db, NULL, NULL, &it), LDB_OK);
  assert_int_equal(ldb_iter_first(it), LDB_OK);
  truncate_file(f.path, 4 * 4096);
  int ok = read_all(db, 1, &io, &co);
  assert_true(ok < NKEYS);
  assert_true(io > 0); /* the first read past the end faulted */
  int rc;
  do
    rc = ldb_iter_next(it);
  while (rc == LDB_OK);
  assert_true(rc == LDB_IOERR || rc == LDB_CORRUPT);
  ldb_iter_destroy(it);
  fx_end(&f, 0); /* close may report the damage; must not crash */
}

typedef struct racer {
  ldb_db *db;
  int stop, errors, found;
} racer;

static void *race_reader(void *arg) {
  racer *r = arg;
  uint64_t x = 12345;
  while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    char k[16];
    uint8_t v[100];
    size_t len;
    key_of(k, (int)((x >> 33) % NKEYS));
    int rc = ldb_get_buf(r->db, k, strlen(k), v, sizeof v, &len);
    if (rc == LDB_OK)
      r->found++;
    else if (rc == LDB_IOERR || rc == LDB_CORRUPT)
      r->errors++;
    else
      r->errors += 1000000; /* an unexpected code */
  }
  return NULL;
}

/* The same, with a reader thread running while the file is truncated. */
static void test_truncated_while_reading(void **state) {
  (void)state;
  fixture f;
  fx_open(&f, "mmap-race", default_mmap_size(), 1);
  racer r = {f.db, 0, 0, 0};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, race_reader, &r), 0);
  usleep(20000);
  truncate_file(f.path, 3 * 4096);
  usleep(50000);
  __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
  pthread_join(th, NULL);
  assert_true(r.errors > 0 && r.errors < 1000000);
  fx_end(&f, 0);
}

/* ---- values on overflow chains ----------------------------------------- */

#define BIGV (64 * 1024) /* a value on a chain of 17 overflow pages */
#define NBIG 48

static uint8_t big_buf[BIGV], big_want[BIGV];

/* Key i's value of `round`: every byte depends on its page of the chain. */
static void big_val_of(uint8_t *v, int i, int round) {
  for (size_t j = 0; j < BIGV; j++)
    v[j] = (uint8_t)(i * 131 + j * 7 + (j >> 12) * 13 + round);
}

/* Writes the NBIG values of `round`, 8 to a batch, and checkpoints them
 * (so every value lives on a chain in the tree). */
static void put_big(ldb_db *db, int round) {
  static uint8_t v[BIGV];
  ldb_batch *b = NULL;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  for (int i = 0; i < NBIG; i++) {
    char k[16];
    key_of(k, i);
    big_val_of(v, i, round);
    assert_int_equal(ldb_batch_put(b, k, strlen(k), v, BIGV), LDB_OK);
    if (ldb_batch_count(b) == 8) {
      assert_int_equal(ldb_write(db, b), LDB_OK);
      ldb_batch_clear(b);
    }
  }
  ldb_batch_destroy(b);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
}

/* Reads every big value; returns how many were right and counts the
 * error codes seen, as read_all. */
static int read_big(ldb_db *db, int round, int *ioerr, int *corrupt) {
  int ok = 0;
  for (int i = 0; i < NBIG; i++) {
    char k[16];
    size_t len = 0;
    key_of(k, i);
    int rc = ldb_get_buf(db, k, strlen(k), big_buf, BIGV, &len);
    if (rc == LDB_OK) {
      assert_int_equal(len, BIGV);
      big_val_of(big_want, i, round);
      assert_memory_equal(big_buf, big_want, BIGV);
      ok++;
    } else if (rc == LDB_IOERR) {
      (*ioerr)++;
    } else if (rc == LDB_CORRUPT) {
      (*corrupt)++;
    } else {
      fail_msg("get %s: unexpected %s", k, ldb_code_name(rc));
    }
  }
  return ok;
}

/* The NBIG values of round 1, checkpointed, closed and reopened with the
 * given mmap_size. */
static void fx_open_big(fixture *f, const char *name, uint64_t mmap_size) {
  f->dir = tu_tmpdir(name);
  data_path(f->path, sizeof f->path, f->dir);
  ldb_options_default(&f->o);
  f->o.sync_mode = LDB_SYNC_OFF;
  f->o.mmap_size = mmap_size;
  assert_int_equal(ldb_open(f->dir, &f->o, &f->db), LDB_OK);
  put_big(f->db, 1);
  assert_int_equal(ldb_close(f->db), LDB_OK);
  assert_int_equal(ldb_open(f->dir, &f->o, &f->db), LDB_OK);
}

static uint64_t bytes_read(ldb_db *db) {
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  return st.bytes_read;
}

/* Overflow pages come from the mapping when it covers them: gets and a
 * scan read no byte through the store (without a mapping, every page of
 * every chain is read each time), and the values are right either way. */
static void test_overflow_through_mapping(void **state) {
  (void)state;
  uint64_t sizes[] = {default_mmap_size(), 0};
  for (size_t s = 0; s < 2; s++) {
    fixture f;
    fx_open_big(&f, "mmap-ovfl", sizes[s]);
    uint64_t before = bytes_read(f.db);
    int io = 0, co = 0;
    for (int pass = 0; pass < 2; pass++)
      assert_int_equal(read_big(f.db, 1, &io, &co), NBIG);
    ldb_iter *it = NULL;
    assert_int_equal(ldb_iter_create(f.db, NULL, NULL, &it), LDB_OK);
    int n = 0;
    for (int rc = ldb_iter_first(it); rc == LDB_OK;
         rc = ldb_iter_next(it), n++) {
      const void *v;
      size_t vl;
      assert_int_equal(ldb_iter_value(it, &v, &vl), LDB_OK);
      assert_int_equal(vl, BIGV);
      big_val_of(big_want, n, 1);
      assert_memory_equal(v, big_want, BIGV);
    }
    assert_int_equal(n, NBIG);
    ldb_iter_destroy(it);
    uint64_t read = bytes_read(f.db) - before;
    if (sizes[s])
      assert_int_equal(read, 0);
    else
      assert_true(read >= 3ull * NBIG * BIGV);
    fx_end(&f, 1);
  }
}

/* Flips a byte in the payload of every overflow page of the file (type
 * byte PT_OVFL, 4, at offset 4 of a 4 KiB page), through a descriptor of
 * its own: a database that has the file open sees it in its mapping.
 * Returns how many pages it damaged. */
static int damage_overflow_pages(const char *path) {
  long long size = tu_file_size(path);
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  int n = 0;
  for (long long off = 2 * 4096; off < size; off += 4096) {
    uint8_t t, b;
    assert_int_equal(pread(fd, &t, 1, off + 4), 1);
    if (t != 4) continue;
    assert_int_equal(pread(fd, &b, 1, off + 2000), 1);
    b ^= 0x5a;
    assert_int_equal(pwrite(fd, &b, 1, off + 2000), 1);
    n++;
  }
  close(fd);
  return n;
}

/* A damaged overflow page is caught by its checksum when first read
 * through the mapping, and stays an error on every later read. */
static void test_overflow_damaged(void **state) {
  (void)state;
  fixture f;
  fx_open_big(&f, "mmap-ovfl-damage", default_mmap_size());
  assert_int_equal(ldb_close(f.db), LDB_OK);
  f.db = NULL;
  assert_true(damage_overflow_pages(f.path) >= 17 * NBIG);
  assert_int_equal(ldb_open(f.dir, &f.o, &f.db), LDB_OK);
  for (int pass = 0; pass < 2; pass++) {
    int io = 0, co = 0;
    assert_int_equal(read_big(f.db, 1, &io, &co), 0);
    assert_int_equal(co, NBIG);
  }
  assert_int_equal(ldb_check(f.db), LDB_CORRUPT);
  fx_end(&f, 1);
}

/* Overflow pages verified through the mapping, freed by later
 * checkpoints and written again hold a new image, which is verified
 * again: damaged on disk after the rewrite, before any read, every value
 * is CORRUPT (with a stale "verified" mark the reused pages would hand out
 * the damaged bytes). */
static void test_overflow_rewritten_verified_again(void **state) {
  (void)state;
  fixture f;
  fx_open_big(&f, "mmap-ovfl-rewrite", default_mmap_size());
  int io = 0, co = 0;
  assert_int_equal(read_big(f.db, 1, &io, &co), NBIG);
  long long first = tu_file_size(f.path);
  /* Freed pages become reusable once a newer meta page is durable: the
   * chains of round 1 are written over from round 4 on. */
  for (int round = 2; round <= 4; round++) {
    put_big(f.db, round);
    assert_int_equal(read_big(f.db, round, &io, &co), NBIG);
  }
  put_big(f.db, 5);
  assert_true(tu_file_size(f.path) < 4 * first); /* pages were reused */
  assert_true(damage_overflow_pages(f.path) >= 17 * NBIG);
  assert_int_equal(read_big(f.db, 5, &io, &co), 0);
  assert_int_equal(co, NBIG);
  assert_int_equal(io, 0);
  fx_end(&f, 1);
}

/* The data file truncated under values on overflow chains: gets and an
 * open iterator return IOERR or CORRUPT, never SIGBUS. */
static void test_overflow_truncated(void **state) {
  (void)state;
  fixture f;
  fx_open_big(&f, "mmap-ovfl-trunc", default_mmap_size());
  int io = 0, co = 0;
  assert_int_equal(read_big(f.db, 1, &io, &co), NBIG);
  ldb_iter *it = NULL;
  assert_int_equal(ldb_iter_create(f.db, NULL, NULL, &it), LDB_OK);
  assert_int_equal(ldb_iter_first(it), LDB_OK);
  /* Keeps the meta pages and the root, cuts every chain. */
  truncate_file(f.path, 8 * 4096);
  assert_true(read_big(f.db, 1, &io, &co) < NBIG);
  assert_true(io > 0);
  int rc;
  do {
    const void *v;
    size_t vl;
    rc = ldb_iter_value(it, &v, &vl);
    if (rc == LDB_OK) rc = ldb_iter_next(it);
  } while (rc == LDB_OK);
  assert_true(rc == LDB_IOERR || rc == LDB_CORRUPT);
  ldb_iter_destroy(it);
  fx_end(&f, 0);
}

/* Bytes of `path` mapped into this process now: the Rss lines of its
 * mappings in /proc/self/smaps. */
static uint64_t mapped_rss(const char *path) {
  char real[4200];
  assert_non_null(realpath(path, real));
  FILE *fp = fopen("/proc/self/smaps", "r");
  assert_non_null(fp);
  char line[4400];
  int ours = 0;
  uint64_t kb = 0;
  size_t rl = strlen(real);
  while (fgets(line, sizeof line, fp)) {
    unsigned long long a, b;
    char perms[8];
    if (sscanf(line, "%llx-%llx %7s", &a, &b, perms) == 3) {
      size_t n = strlen(line);
      while (n && line[n - 1] == '\n')
        line[--n] = 0;
      ours = n >= rl && !strcmp(line + n - rl, real);
      continue;
    }
    unsigned long long v;
    if (ours && sscanf(line, "Rss: %llu kB", &v) == 1) kb += v;
  }
  fclose(fp);
  return kb * 1024;
}

/* Checks that v is key i's value of some round in [1, rounds]. */
static int value_ok(const uint8_t *v, size_t len, int i, int rounds) {
  if (len != 100) return 0;
  int round = (uint8_t)(v[0] - (uint8_t)(i * 31));
  if (round < 1 || round > rounds) return 0;
  uint8_t want[100];
  val_of(want, sizeof want, i, round);
  return !memcmp(v, want, sizeof want);
}

#define BUDGET (1u << 20)   /* cache_size: 16 chunks of 64 KiB, the floor */
#define BIGKEYS (4 * NKEYS) /* a data file of several times BUDGET */

/* A database of BIGKEYS keys of round 1, checkpointed, closed and
 * reopened with cache_size BUDGET. */
static void fx_big(fixture *f, const char *name) {
  f->dir = tu_tmpdir(name);
  data_path(f->path, sizeof f->path, f->dir);
  ldb_options_default(&f->o);
  f->o.sync_mode = LDB_SYNC_OFF;
  f->o.cache_size = BUDGET;
  f->o.mmap_bounded = 1;
  assert_int_equal(ldb_open(f->dir, &f->o, &f->db), LDB_OK);
  put_n(f->db, 1, BIGKEYS);
  assert_int_equal(ldb_checkpoint(f->db), LDB_OK);
  assert_int_equal(ldb_close(f->db), LDB_OK);
  assert_int_equal(ldb_open(f->dir, &f->o, &f->db), LDB_OK);
}

/* Reads `reads` random keys of round 1 (each checked) and returns the
 * largest mapped_rss seen, sampled every 64 reads. */
static uint64_t read_random(ldb_db *db, const char *path, int reads) {
  uint64_t x = 99, max = 0;
  for (int n = 0; n < reads; n++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    int i = (int)((x >> 33) % BIGKEYS);
    char k[16];
    uint8_t v[100];
    size_t len = 0;
    key_of(k, i);
    assert_int_equal(ldb_get_buf(db, k, strlen(k), v, sizeof v, &len), LDB_OK);
    assert_true(value_ok(v, len, i, 1));
    if (n % 64 == 0) {
      uint64_t r = mapped_rss(path);
      if (r > max) max = r;
    }
  }
  return max;
}

/* cache_size bounds the mapped pages this process keeps (the file is
 * several times the budget); without mmap_bounded it does not. */
static void test_resident_within_budget(void **state) {
  (void)state;
  fixture f;
  fx_big(&f, "mmap-budget");
  assert_true(tu_file_size(f.path) >= 3 * (long long)BUDGET);
  uint64_t max = read_random(f.db, f.path, BIGKEYS);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(f.db, &st), LDB_OK);
  assert_true(max > 0 && max <= BUDGET);
  assert_true(st.mmap_resident_bytes > 0 && st.mmap_resident_bytes <= BUDGET);
  assert_true(st.mmap_released_bytes > 0);
  assert_int_equal(st.cache_bytes, 0);
  /* A scan through the whole file stays within it too. */
  int io = 0, co = 0;
  assert_int_equal(read_all(f.db, 1, &io, &co), NKEYS);
  assert_true(mapped_rss(f.path) <= BUDGET);
  assert_int_equal(ldb_close(f.db), LDB_OK);

  /* Unbounded, the same reads keep more than the budget mapped. */
  f.o.mmap_bounded = 0;
  assert_int_equal(ldb_open(f.dir, &f.o, &f.db), LDB_OK);
  max = read_random(f.db, f.path, BIGKEYS);
  assert_true(max > 2 * (uint64_t)BUDGET);
  assert_int_equal(ldb_stats_get(f.db, &st), LDB_OK);
  assert_int_equal(st.mmap_resident_bytes + st.mmap_released_bytes, 0);
  fx_end(&f, 1);
}

typedef struct hand_racer {
  ldb_db *db;
  int stop, rounds; /* rounds: the newest round a value may be from */
  long bad, found;
} hand_racer;

static void *hand_reader(void *arg) {
  hand_racer *r = arg;
  uint64_t x = (uint64_t)(uintptr_t)&x;
  while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    int i = (int)((x >> 33) % BIGKEYS);
    char k[16];
    uint8_t v[100];
    size_t len = 0;
    key_of(k, i);
    int rc = ldb_get_buf(r->db, k, strlen(k), v, sizeof v, &len);
    if (rc == LDB_OK &&
        value_ok(v, len, i, __atomic_load_n(&r->rounds, __ATOMIC_ACQUIRE)))
      __atomic_fetch_add(&r->found, 1, __ATOMIC_RELAXED);
    else
      __atomic_fetch_add(&r->bad, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

/* Readers race the hand (a budget far below the file, so it runs all the
 * time) while a writer rewrites every key and checkpoints: each read
 * returns the value of some round written so far. */
static void test_readers_race_hand(void **state) {
  (void)state;
  fixture f;
  fx_big(&f, "mmap-hand");
  hand_racer r = {f.db, 0, 1, 0, 0};
  pthread_t th[3];
  for (int t = 0; t < 3; t++)
    assert_int_equal(pthread_create(&th[t], NULL, hand_reader, &r), 0);
  int rounds = tu_quick() ? 3 : 6;
  for (int round = 2; round <= rounds; round++) {
    __atomic_store_n(&r.rounds, round, __ATOMIC_RELEASE);
    put_n(f.db, round, BIGKEYS);
    assert_int_equal(ldb_checkpoint(f.db), LDB_OK);
  }
  usleep(20000);
  __atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
  for (int t = 0; t < 3; t++)
    pthread_join(th[t], NULL);
  assert_int_equal(r.bad, 0);
  assert_true(r.found > 0);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(f.db, &st), LDB_OK);
  assert_true(st.mmap_released_bytes > 0);
  assert_true(st.mmap_resident_bytes <= BUDGET);
  assert_int_equal(ldb_check(f.db), LDB_OK);
  fx_end(&f, 1);
}

/* Through the faulty store's mapping: the hand asks the store to release
 * chunks (it keeps its image, which is the data) and the reads stay
 * right. (test_ioerr and test_crash inject faults under this mapping.) */
static void test_hand_faulty_store(void **state) {
  (void)state;
  ldb_store *mem = NULL, *fs = NULL;
  assert_int_equal(ldb_store_memory(&mem), LDB_OK);
  assert_int_equal(ldb_store_faulty(mem, &fs), LDB_OK);
  ldb_faulty_set_map(fs, 1);
  ldb_options o;
  ldb_options_default(&o);
  o.sync_mode = LDB_SYNC_OFF;
  o.cache_size = BUDGET;
  o.mmap_bounded = 1;
  o.store = fs;
  ldb_db *db = NULL;
  assert_int_equal(ldb_open("mmap-faulty", &o, &db), LDB_OK);
  put_all(db, 1);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_int_equal(ldb_open("mmap-faulty", &o, &db), LDB_OK);
  int io = 0, co = 0;
  assert_int_equal(read_all(db, 1, &io, &co), NKEYS);
  assert_int_equal(read_all(db, 1, &io, &co), NKEYS);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_true(st.mmap_bytes > 0);
  assert_true(st.mmap_released_bytes > 0);
  assert_true(ldb_faulty_released(fs) >= st.mmap_released_bytes / 2);
  assert_int_equal(io + co, 0);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(fs);
  ldb_store_destroy(mem);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reads_through_mapping),
      cmocka_unit_test(test_rewritten_pages),
      cmocka_unit_test(test_partial_and_no_mapping),
      cmocka_unit_test(test_damaged_page),
      cmocka_unit_test(test_truncated_under_mapping),
      cmocka_unit_test(test_truncated_while_reading),
      cmocka_unit_test(test_overflow_through_mapping),
      cmocka_unit_test(test_overflow_damaged),
      cmocka_unit_test(test_overflow_rewritten_verified_again),
      cmocka_unit_test(test_overflow_truncated),
      cmocka_unit_test(test_resident_within_budget),
      cmocka_unit_test(test_readers_race_hand),
      cmocka_unit_test(test_hand_faulty_store),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
