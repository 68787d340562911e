/*
 * test_mmap.c — the read path through the memory mapping of the data file
 * (posix store, ldb_options.mmap_size): the data file truncated from
 * outside while the database is open (single reader, iterator, and a
 * reader thread racing the truncation) gives LDB_IOERR or LDB_CORRUPT and
 * never SIGBUS; a page damaged on disk is caught by its checksum through
 * the mapping; a page written again after it was freed is verified again
 * (verified once per page version); and a mapping shorter than the file
 * (pages past it through the cache) reads the same data.
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

/* Writes the NKEYS keys with the values of `round`, 1000 to a batch. */
static void put_all(ldb_db *db, int round) {
  ldb_batch *b = NULL;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  for (int i = 0; i < NKEYS; i++) {
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reads_through_mapping),
      cmocka_unit_test(test_rewritten_pages),
      cmocka_unit_test(test_partial_and_no_mapping),
      cmocka_unit_test(test_damaged_page),
      cmocka_unit_test(test_truncated_under_mapping),
      cmocka_unit_test(test_truncated_while_reading),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
