/*
 * test_iter_pointers.c — ldb_iter_key and ldb_iter_value give non-NULL
 * pointers for every entry, also for the empty key and an empty value,
 * whether the entry comes from the memtable or the B+tree (read through
 * the page cache of a memory store), as ldb_get does for an empty value.
 * A host that turns (pointer, length) into a slice may not take NULL even
 * for length 0 (Rust's slice::from_raw_parts; memcmp and memcpy in C), and
 * fuzz_big found ldb_iter_key returning NULL for the empty key when it was
 * the first key an iterator landed on.
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

/* Walks every entry both ways; each key and value pointer must be
 * non-NULL. Returns the entries seen forward. */
static int walk(ldb_db *db) {
  int seen = 0;
  for (int rev = 0; rev < 2; rev++) {
    ldb_iter_options io;
    ldb_iter *it = NULL;
    memset(&io, 0, sizeof io);
    io.reverse = rev;
    assert_int_equal(ldb_iter_create(db, NULL, &io, &it), LDB_OK);
    int rc;
    for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
      const void *k = NULL, *v = NULL;
      size_t kl = 99, vl = 99;
      assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
      assert_int_equal(ldb_iter_value(it, &v, &vl), LDB_OK);
      assert_non_null(k);
      assert_non_null(v);
      if (!rev) seen++;
    }
    assert_int_equal(rc, LDB_NOTFOUND);
    /* seek straight onto the empty key, a fresh iterator's first move */
    ldb_iter_destroy(it);
    assert_int_equal(ldb_iter_create(db, NULL, &io, &it), LDB_OK);
    if (ldb_iter_seek(it, "", 0) == LDB_OK) {
      const void *k = NULL;
      size_t kl = 99;
      assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
      assert_non_null(k);
    }
    ldb_iter_destroy(it);
  }
  return seen;
}

static void test_empty_key_and_value(void **state) {
  (void)state;
  ldb_store *st = NULL;
  ldb_options o;
  assert_int_equal(ldb_store_memory(&st), LDB_OK);
  tu_mem_options(&o, st);
  ldb_db *db = tu_open("ptrs", &o);
  /* only the empty key, with an empty value: memtable, then tree */
  assert_int_equal(ldb_put(db, "", 0, "", 0), LDB_OK);
  assert_int_equal(walk(db), 1);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(walk(db), 1);
  /* with other keys and empty values around it */
  assert_int_equal(ldb_put(db, "a", 1, "", 0), LDB_OK);
  assert_int_equal(ldb_put(db, "b", 1, "x", 1), LDB_OK);
  assert_int_equal(walk(db), 3);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(walk(db), 3);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(st);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_empty_key_and_value),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
