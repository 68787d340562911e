/*
 * test_diskfull_posix.c — a real full disk, not a simulated one: the posix
 * store on a small tmpfs that fills up. Checks the whole path from ENOSPC in
 * pwrite/fdatasync to LDB_FULL at the API, that every commit acknowledged
 * before is intact, that the same handle writes again once space returns
 * (the tmpfs is grown with a remount), and that a reopen sees everything.
 *
 * Mounting needs root (CAP_SYS_ADMIN); without it the test is reported as
 * skipped, never as passed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "helpers/testutil.h"
#include "lightningdb.h"

#define VALUE_SIZE 2000

static void make_key(char *buf, unsigned i) {
  snprintf(buf, 32, "key%08u", i);
}

static void make_value(unsigned char *v, unsigned i) {
  for (unsigned j = 0; j < VALUE_SIZE; j++)
    v[j] = (unsigned char)(i * 31 + j);
}

/* Every key below n is present with its value. */
static void expect_keys(ldb_db *db, unsigned n) {
  unsigned char want[VALUE_SIZE], got[VALUE_SIZE];
  char key[32];
  for (unsigned i = 0; i < n; i++) {
    size_t len = 0;
    make_key(key, i);
    make_value(want, i);
    int rc = ldb_get_buf(db, key, strlen(key), got, sizeof got, &len);
    if (rc != LDB_OK)
      fail_msg("key %u: %s (%s)", i, ldb_code_name(rc), ldb_errmsg(db));
    assert_int_equal(len, VALUE_SIZE);
    assert_memory_equal(got, want, VALUE_SIZE);
  }
}

/* The mount point, unmounted by the teardown even when an assertion
 * failed half way. */
static char *g_mnt;
static int g_mounted;

static int teardown(void **state) {
  (void)state;
  if (g_mounted) umount2(g_mnt, MNT_DETACH);
  if (g_mnt) tu_rmrf(g_mnt);
  free(g_mnt);
  g_mnt = NULL;
  g_mounted = 0;
  return 0;
}

/* Mounts a 768 KiB tmpfs at a fresh directory (skips without root), puts
 * the database path under it into dir, and opens a database there in
 * LDB_SYNC_FULL mode with memtable_size (0: the default) into *o. */
static ldb_db *open_small(const char *name, char *dir, size_t cap,
                          ldb_options *o, uint64_t memtable_size) {
  char *mnt = g_mnt = tu_tmpdir(name);
  if (mount("tmpfs", mnt, "tmpfs", 0, "size=768k") != 0) {
    print_message("cannot mount a tmpfs (%s): needs root\n", strerror(errno));
    skip();
  }
  g_mounted = 1;
  snprintf(dir, cap, "%s/db", mnt);
  ldb_options_default(o);
  o->sync_mode = LDB_SYNC_FULL;
  if (memtable_size) o->memtable_size = memtable_size;
  ldb_db *db = NULL;
  assert_int_equal(ldb_open(dir, o, &db), LDB_OK);
  return db;
}

/* Puts keys 0, 1, ... until the disk is full: the put that meets it must
 * answer LDB_FULL. Returns how many were acknowledged. */
static unsigned fill_until_full(ldb_db *db) {
  unsigned char v[VALUE_SIZE];
  char key[32];
  unsigned committed = 0;
  int rc = LDB_OK;
  for (unsigned i = 0; i < 100000; i++) {
    make_key(key, i);
    make_value(v, i);
    rc = ldb_put(db, key, strlen(key), v, sizeof v);
    if (rc != LDB_OK) break;
    committed = i + 1;
  }
  print_message("disk full after %u commits: %s (%s)\n", committed,
                ldb_code_name(rc), ldb_errmsg(db));
  assert_int_equal(rc, LDB_FULL);
  assert_true(committed > 10);
  return committed;
}

/* Space returns (the tmpfs grows): the same handle writes 50 more keys and
 * checkpoints; then a reopen sees every commit in a consistent file. */
static void after_space_returns(ldb_db *db, const char *dir,
                                const ldb_options *o, unsigned committed) {
  unsigned char v[VALUE_SIZE];
  char key[32];
  assert_int_equal(mount("tmpfs", g_mnt, "tmpfs", MS_REMOUNT, "size=16m"), 0);
  unsigned more = committed + 50;
  for (unsigned i = committed; i < more; i++) {
    make_key(key, i);
    make_value(v, i);
    int rc = ldb_put(db, key, strlen(key), v, sizeof v);
    /* A put refused because the memtables hold their budget while the
     * checkpoint cannot run works once the checkpoint is retried, within
     * its back-off (200 ms) of the space returning. */
    for (int t = 0; i == committed && rc == LDB_FULL && t < 100; t++) {
      tu_sleep_ms(20);
      rc = ldb_put(db, key, strlen(key), v, sizeof v);
    }
    if (rc != LDB_OK)
      fail_msg("put %u after space returned: %s (%s)", i, ldb_code_name(rc),
               ldb_errmsg(db));
  }
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  expect_keys(db, more);
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_int_equal(ldb_open(dir, o, &db), LDB_OK);
  expect_keys(db, more);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
}

static void test_real_disk_full(void **state) {
  (void)state;
  char dir[512];
  ldb_options o;
  /* a small memtable: checkpoints run while the disk fills */
  ldb_db *db = open_small("diskfull", dir, sizeof dir, &o, 128 * 1024);
  unsigned committed = fill_until_full(db);
  /* Nothing acknowledged is lost, on the same handle. */
  expect_keys(db, committed);
  after_space_returns(db, dir, &o, committed);
}

/* A database closed on a full disk (its final checkpoint failed: every
 * commit is in the log) opens while the disk is still full: the replayed
 * log stays in memory as a pending checkpoint, reads see every commit,
 * writes answer LDB_FULL, and once space returns the same handle writes
 * and checkpoints, and a reopen sees everything. Before, the open itself
 * failed with LDB_FULL: nothing could be read until space was freed. */
static void test_reopen_while_full(void **state) {
  (void)state;
  char dir[512];
  ldb_options o;
  ldb_db *db = open_small("reopenfull", dir, sizeof dir, &o, 0);
  unsigned committed = fill_until_full(db);
  /* The final checkpoint cannot write the tree: close says so, and keeps
   * every commit in the log. */
  int rc = ldb_close(db);
  print_message("close on the full disk: %s\n", ldb_code_name(rc));
  assert_true(rc == LDB_OK || rc == LDB_FULL);
  db = NULL;
  rc = ldb_open(dir, &o, &db);
  if (rc != LDB_OK)
    fail_msg("open on the full disk: %s (%s)", ldb_code_name(rc),
             ldb_errmsg(NULL));
  expect_keys(db, committed);
  unsigned char v[VALUE_SIZE];
  char key[32];
  make_key(key, committed);
  make_value(v, committed);
  assert_int_equal(ldb_put(db, key, strlen(key), v, sizeof v), LDB_FULL);
  assert_int_equal(ldb_checkpoint(db), LDB_FULL);
  expect_keys(db, committed);
  after_space_returns(db, dir, &o, committed);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_real_disk_full, teardown),
      cmocka_unit_test_teardown(test_reopen_while_full, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
