/*
 * test_wal.c — the log (feed.c, format 2) as recovery sees it, through the
 * public API: a clean close leaves nothing to replay; every byte of a small
 * log flipped in turn never loses an acknowledged commit without an error
 * (damage is CORRUPT naming the file and offset, salvage opens at a
 * prefix); a torn tail (the log cut at every length, or zero-filled) opens
 * with a prefix of the commits; the log stays bounded with the feed off; a
 * database written by the previous version (format 1: wal-0/1 + feed-*,
 * made by that version's build, tests/c/fixtures/v1) opens, replays its old
 * log once and continues in format 2; a close whose final checkpoint
 * fails (disk full) still closes, reports it and loses nothing; and the op
 * codec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/store_faulty.h"
#include "helpers/testutil.h"
#include "lightningdb.h"
#include "wal.h"

/* Every file a database may hold. */
static const char *all_names[] = {
    "data.ldb",    "feed.head",   "wal-0.log",   "wal-1.log",   "feed-00.log",
    "feed-01.log", "feed-02.log", "feed-03.log", "feed-04.log", "feed-05.log",
    "feed-06.log", "feed-07.log", "feed-08.log", "feed-09.log", "feed-10.log",
    "feed-11.log", "feed-12.log", "feed-13.log", "feed-14.log", "feed-15.log"};
#define NNAMES (sizeof all_names / sizeof all_names[0])

/* The bytes of file name in s (NULL when missing); *len its size. */
static uint8_t *file_get(ldb_store *s, const char *name, size_t *len) {
  ldb_file *f = NULL;
  *len = 0;
  if (s->methods->open(s, name, 0, &f) != LDB_OK) return NULL;
  uint64_t sz = 0;
  assert_int_equal(f->store->methods->size(f, &sz), LDB_OK);
  uint8_t *b = malloc(sz ? sz : 1);
  size_t got = 0;
  assert_int_equal(f->store->methods->read(f, 0, b, sz, &got), LDB_OK);
  assert_int_equal(got, sz);
  f->store->methods->close(f);
  *len = (size_t)sz;
  return b;
}

static void file_put(ldb_store *s, const char *name, const uint8_t *b,
                     size_t len) {
  ldb_file *f = NULL;
  assert_int_equal(s->methods->open(s, name, LDB_STORE_CREATE, &f), LDB_OK);
  assert_int_equal(f->store->methods->truncate(f, 0), LDB_OK);
  if (len) assert_int_equal(f->store->methods->write(f, 0, b, len), LDB_OK);
  assert_int_equal(f->store->methods->sync(f), LDB_OK);
  f->store->methods->close(f);
}

/* A memory store holding a copy of every file of src. */
static ldb_store *store_copy(ldb_store *src) {
  ldb_store *d;
  assert_int_equal(ldb_store_memory(&d), LDB_OK);
  for (size_t i = 0; i < NNAMES; i++) {
    size_t len;
    uint8_t *b = file_get(src, all_names[i], &len);
    if (!b) continue;
    file_put(d, all_names[i], b, len);
    free(b);
  }
  return d;
}

static void opts(ldb_options *o, ldb_store *s) {
  ldb_options_default(o);
  o->store = s;
  o->sync_mode = LDB_SYNC_FULL;
  o->page_size = 4096;
  o->background_checkpoint = 0;
}

static void key_of(char *k, size_t cap, int i) {
  snprintf(k, cap, "key%04d", i);
}

/* A store whose log holds n acknowledged (FULL-mode) commits that no
 * checkpoint covers: the copy is what a power cut would leave. */
static ldb_store *crashed_store(int n) {
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_options o;
  opts(&o, s);
  ldb_db *db;
  assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
  for (int i = 0; i < n; i++) {
    char k[16], v[32];
    key_of(k, sizeof k, i);
    snprintf(v, sizeof v, "value %d", i * 7);
    assert_int_equal(ldb_put(db, k, strlen(k), v, strlen(v)), LDB_OK);
  }
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.last_seq, (uint64_t)n);
  assert_int_equal(st.checkpoint_seq, 0);
  ldb_store *copy = store_copy(s);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
  return copy;
}

/* How many of the first n keys s holds, checking they are a prefix. */
static int prefix_present(ldb_db *db, int n) {
  int present = 0, gap = 0;
  for (int i = 0; i < n; i++) {
    char k[16], want[32];
    key_of(k, sizeof k, i);
    snprintf(want, sizeof want, "value %d", i * 7);
    void *v = NULL;
    size_t vl = 0;
    int rc = ldb_get(db, k, strlen(k), &v, &vl);
    if (rc == LDB_OK) {
      if (gap || vl != strlen(want) || memcmp(v, want, vl))
        fail_msg("key %d: wrong value or not a prefix", i);
      present++;
    } else {
      assert_int_equal(rc, LDB_NOTFOUND);
      gap = 1;
    }
    ldb_free(db, v);
  }
  return present;
}

static void test_clean_close_replays_nothing(void **st) {
  (void)st;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_options o;
  opts(&o, s);
  o.sync_mode = LDB_SYNC_NORMAL;
  ldb_db *db;
  assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
  for (int i = 0; i < 3000; i++) {
    char k[16];
    key_of(k, sizeof k, i);
    assert_int_equal(ldb_put(db, k, strlen(k), "v", 1), LDB_OK);
  }
  assert_int_equal(ldb_close(db), LDB_OK);
  for (int round = 0; round < 2; round++) {
    assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
    ldb_stats x;
    assert_int_equal(ldb_stats_get(db, &x), LDB_OK);
    /* The close checkpointed: the open merged nothing and wrote nothing. */
    assert_int_equal(x.checkpoint_seq, x.last_seq);
    assert_int_equal(x.last_seq, 3000);
    assert_int_equal(x.checkpoints, 0);
    assert_int_equal(x.bytes_written, 0);
    /* The feed still serves the history from the start. */
    ldb_changes *c;
    assert_int_equal(ldb_changes_open(db, 0, NULL, &c), LDB_OK);
    ldb_change ch;
    uint64_t n = 0;
    while (ldb_changes_next(c, &ch) == LDB_OK)
      assert_int_equal(ch.seq, ++n);
    assert_int_equal(n, 3000);
    ldb_changes_close(c);
    assert_int_equal(ldb_check(db), LDB_OK);
    assert_int_equal(ldb_close(db), LDB_OK);
  }
  ldb_store_destroy(s);
}

/* The disk fills before the final checkpoint of a close: close reports
 * FULL, never refuses, and every commit is in the synced log (a power cut
 * right after loses nothing). */
static void test_close_checkpoint_full(void **st) {
  (void)st;
  ldb_store *inner, *fs;
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  ldb_options o;
  opts(&o, fs);
  o.sync_mode = LDB_SYNC_NORMAL;
  o.sync_interval_ms = 1000000;
  ldb_db *db;
  assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
  for (int i = 0; i < 500; i++) {
    char k[16], v[32];
    key_of(k, sizeof k, i);
    snprintf(v, sizeof v, "value %d", i * 7);
    assert_int_equal(ldb_put(db, k, strlen(k), v, strlen(v)), LDB_OK);
  }
  /* Nothing synced yet: the close must sync the log itself. */
  ldb_faulty_fail_nth(fs, 1, LDB_FAULT_WRITE, LDB_FULL, 1);
  assert_int_equal(ldb_close(db), LDB_FULL);
  if (!strstr(ldb_errmsg(NULL), "the next open replays it"))
    fail_msg("close's message: %s", ldb_errmsg(NULL));
  ldb_faulty_clear(fs);
  ldb_faulty_crash_now(fs, LDB_CRASH_DROP, 0);
  ldb_store_destroy(fs);
  opts(&o, inner);
  assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
  assert_int_equal(prefix_present(db, 500), 500);
  ldb_stats x;
  assert_int_equal(ldb_stats_get(db, &x), LDB_OK);
  assert_int_equal(x.last_seq, 500);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(inner);
}

/* A copy of base whose feed-00.log is log (len bytes) with byte i
 * flipped. */
static ldb_store *flipped_copy(ldb_store *base, uint8_t *log, size_t len,
                               size_t i) {
  ldb_store *s = store_copy(base);
  log[i] ^= 0xff;
  file_put(s, "feed-00.log", log, len);
  log[i] ^= 0xff;
  return s;
}

/* Flips every byte of the log in turn: the open either fails with CORRUPT
 * naming the log file and offset (and salvage then opens at a prefix), or
 * restores every acknowledged commit. */
static void test_flip_every_byte(void **st) {
  (void)st;
  const int n = 12;
  ldb_store *base = crashed_store(n);
  size_t len;
  uint8_t *log = file_get(base, "feed-00.log", &len);
  assert_non_null(log);
  assert_true(len > (size_t)n * 28);
  int corrupt = 0, whole = 0;
  for (size_t i = 0; i < len; i++) {
    ldb_store *s = flipped_copy(base, log, len, i);
    ldb_options o;
    opts(&o, s);
    ldb_db *db = NULL;
    int rc = ldb_open("wal", &o, &db);
    if (rc == LDB_OK) {
      if (prefix_present(db, n) != n)
        fail_msg("flip at %zu: the open lost acknowledged commits", i);
      whole++;
      assert_int_equal(ldb_close(db), LDB_OK);
    } else {
      if (rc != LDB_CORRUPT)
        fail_msg("flip at %zu: %s (%s)", i, ldb_code_name(rc),
                 ldb_errmsg(NULL));
      const char *m = ldb_errmsg(NULL);
      if (!strstr(m, "feed-00.log") || !strstr(m, "offset"))
        fail_msg("flip at %zu: the message does not name the file and "
                 "offset: %s",
                 i, m);
      corrupt++;
      o.salvage = 1;
      assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
      int p = prefix_present(db, n);
      assert_true(p < n);
      assert_int_equal(ldb_check(db), LDB_OK);
      assert_int_equal(ldb_close(db), LDB_OK);
      /* Salvaged for good: a normal open works and keeps that prefix. */
      o.salvage = 0;
      assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
      assert_int_equal(prefix_present(db, n), p);
      assert_int_equal(ldb_close(db), LDB_OK);
    }
    ldb_store_destroy(s);
  }
  /* Every flip lands in a record: each one is damage. */
  assert_int_equal(corrupt, (int)len);
  assert_int_equal(whole, 0);
  free(log);
  ldb_store_destroy(base);
}

/* A store whose log holds n commits that a clean close checkpointed (the
 * history the change feed reads) and then m more that no checkpoint
 * covers (a power cut after them); *hist receives the bytes of the log
 * that hold the first n (m may be 0: a cleanly closed database). */
static ldb_store *history_store(int n, int m, size_t *hist) {
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_options o;
  opts(&o, s);
  ldb_db *db;
  assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
  for (int i = 0; i < n + m; i++) {
    if (i == n) {
      assert_int_equal(ldb_close(db), LDB_OK);
      free(file_get(s, "feed-00.log", hist));
      assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
    }
    char k[16], v[32];
    key_of(k, sizeof k, i);
    snprintf(v, sizeof v, "value %d", i * 7);
    assert_int_equal(ldb_put(db, k, strlen(k), v, strlen(v)), LDB_OK);
  }
  if (!m) { /* a clean close, nothing after it */
    assert_int_equal(ldb_close(db), LDB_OK);
    free(file_get(s, "feed-00.log", hist));
    assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
  }
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.checkpoint_seq, (uint64_t)n);
  ldb_store *copy = store_copy(s);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
  return copy;
}

/* Every byte of the log's checkpointed history flipped in turn (the first
 * record too): the open needs none of it, so it opens with every
 * acknowledged commit (the checkpoint's and the m replayed after it);
 * ldb_check reports the damage, a change feed reading the history gets
 * CORRUPT, and one that starts at the open's checkpoint reads the newer
 * commits (the head's hint locates them past the damage). */
static void damaged_history(int n, int m) {
  int first_msgs = 0, ends_msgs = 0;
  size_t hist;
  ldb_store *base = history_store(n, m, &hist);
  size_t len;
  uint8_t *log = file_get(base, "feed-00.log", &len);
  assert_non_null(log);
  assert_true(hist > (size_t)n * 28 && len >= hist);
  for (size_t i = 0; i < hist; i++) {
    ldb_store *s = flipped_copy(base, log, len, i);
    ldb_options o;
    opts(&o, s);
    ldb_db *db = NULL;
    /* A read-only handle's check (the CLI's check opens so) reports it. */
    o.read_only = 1;
    int rc = ldb_open("wal", &o, &db);
    if (rc != LDB_OK)
      fail_msg("flip at %zu of the history, read-only: %s (%s)", i,
               ldb_code_name(rc), ldb_errmsg(NULL));
    if ((rc = ldb_check(db)) != LDB_CORRUPT)
      fail_msg("flip at %zu: a read-only check says %s", i, ldb_code_name(rc));
    assert_int_equal(ldb_close(db), LDB_OK);
    o.read_only = 0;
    rc = ldb_open("wal", &o, &db);
    if (rc != LDB_OK)
      fail_msg("flip at %zu of the history: %s (%s)", i, ldb_code_name(rc),
               ldb_errmsg(NULL));
    if (prefix_present(db, n + m) != n + m)
      fail_msg("flip at %zu of the history: the open lost commits", i);
    if ((rc = ldb_check(db)) != LDB_CORRUPT)
      fail_msg("flip at %zu: check says %s", i, ldb_code_name(rc));
    if (strstr(ldb_errmsg(NULL), "valid records end at")) ends_msgs++;
    if (strstr(ldb_errmsg(NULL), "were appended"))
      fail_msg("flip at %zu: check's message: %s", i, ldb_errmsg(NULL));
    ldb_changes *c;
    ldb_change ch;
    uint64_t k = 0;
    /* (The open reads the records up to since: it may meet the damage.) */
    if ((rc = ldb_changes_open(db, 0, NULL, &c)) == LDB_OK) {
      while ((rc = ldb_changes_next(c, &ch)) == LDB_OK)
        if (ch.seq != ++k) fail_msg("flip at %zu: feed out of order", i);
      ldb_changes_close(c);
    }
    if (rc != LDB_CORRUPT)
      fail_msg("flip at %zu: a feed read of the damaged history ends with "
               "%s after %llu commits",
               i, ldb_code_name(rc), (unsigned long long)k);
    /* The message names the record the reader expected: the first one
     * (its seq is not known yet), or seq k + 1. */
    const char *msg = ldb_errmsg(NULL);
    if (strstr(msg, "bad record at offset")) {
      char want[48];
      if (k)
        snprintf(want, sizeof want, "(expected seq %llu)",
                 (unsigned long long)k + 1);
      else
        snprintf(want, sizeof want, "(the first record)");
      if (!strstr(msg, want))
        fail_msg("flip at %zu: %s does not say %s", i, msg, want);
      first_msgs += !k;
    }
    /* A reader from the open's checkpoint (it covers the replayed
     * commits) reads what comes next without meeting the damage. */
    ldb_stats sts;
    assert_int_equal(ldb_stats_get(db, &sts), LDB_OK);
    assert_int_equal(sts.checkpoint_seq, (uint64_t)(n + m));
    if ((rc = ldb_changes_open(db, sts.checkpoint_seq, NULL, &c)) != LDB_OK)
      fail_msg("flip at %zu: a feed from the checkpoint: %s", i,
               ldb_errmsg(NULL));
    assert_int_equal(ldb_put(db, "later", 5, "x", 1), LDB_OK);
    assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
    assert_int_equal(ch.seq, (uint64_t)(n + m + 1));
    assert_int_equal(ldb_changes_next(c, &ch), LDB_NOTFOUND);
    ldb_changes_close(c);
    /* After a reopen the damaged history is still reported, not dropped,
     * and a reader from the new checkpoint reads on. */
    assert_int_equal(ldb_close(db), LDB_OK);
    assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
    if (prefix_present(db, n + m) != n + m)
      fail_msg("flip at %zu: the reopen lost commits", i);
    if ((rc = ldb_check(db)) != LDB_CORRUPT)
      fail_msg("flip at %zu: check after a reopen says %s", i,
               ldb_code_name(rc));
    assert_int_equal(ldb_stats_get(db, &sts), LDB_OK);
    assert_int_equal(sts.checkpoint_seq, (uint64_t)(n + m + 1));
    if ((rc = ldb_changes_open(db, sts.checkpoint_seq, NULL, &c)) != LDB_OK)
      fail_msg("flip at %zu: after a reopen, a feed from seq %llu: %s", i,
               (unsigned long long)sts.checkpoint_seq, ldb_errmsg(NULL));
    assert_int_equal(ldb_put(db, "later2", 6, "y", 1), LDB_OK);
    assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
    assert_int_equal(ch.seq, (uint64_t)(n + m + 2));
    assert_int_equal(ldb_changes_next(c, &ch), LDB_NOTFOUND);
    ldb_changes_close(c);
    assert_int_equal(ldb_close(db), LDB_OK);
    ldb_store_destroy(s);
  }
  printf("damaged history n=%d m=%d: %d feed reads stopped at the first "
         "record, %d checks said where the valid records end\n",
         n, m, first_msgs, ends_msgs);
  assert_true(first_msgs > 0 && ends_msgs > 0);
  free(log);
  ldb_store_destroy(base);
}

static void test_damaged_history(void **st) {
  (void)st;
  damaged_history(12, 0); /* a clean close: nothing to replay */
  damaged_history(12, 5); /* 5 commits to replay past the damage */
}

/* A log whose first record is damaged stays bounded: retention drops the
 * damaged segment like any other once the commits after it are
 * checkpointed, and then nothing is reported any more. */
static void test_damaged_history_trimmed(void **st) {
  (void)st;
  size_t hist, len;
  ldb_store *s = history_store(12, 0, &hist);
  uint8_t *log = file_get(s, "feed-00.log", &len);
  log[40] ^= 0xff;
  file_put(s, "feed-00.log", log, len);
  free(log);
  ldb_options o;
  opts(&o, s);
  o.sync_mode = LDB_SYNC_OFF;
  o.memtable_size = 256u << 10;
  o.log_retention_bytes = 2u << 20;
  ldb_db *db;
  assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
  assert_int_equal(ldb_check(db), LDB_CORRUPT);
  char v[200];
  memset(v, 'v', sizeof v);
  for (int i = 0; i < 60000; i++) {
    char k[16];
    key_of(k, sizeof k, 100 + i % 5000);
    assert_int_equal(ldb_put(db, k, strlen(k), v, sizeof v), LDB_OK);
  }
  ldb_stats x;
  assert_int_equal(ldb_stats_get(db, &x), LDB_OK);
  assert_true(x.log_file_size < (6u << 20));
  assert_true(x.log_retained_since > 12);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(prefix_present(db, 12), 12);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

/* A store that opens every file up front (OPFS) leaves empty placeholders
 * under every name after a crash: they are not segments, and recovery
 * restores every commit. */
static void test_placeholders(void **st) {
  (void)st;
  const int n = 30;
  ldb_store *s = crashed_store(n);
  for (size_t i = 0; i < NNAMES; i++) {
    ldb_file *f = NULL;
    if (s->methods->open(s, all_names[i], 0, &f) == LDB_OK) {
      f->store->methods->close(f);
      continue;
    }
    file_put(s, all_names[i], NULL, 0);
  }
  for (int round = 0; round < 2; round++) {
    ldb_options o;
    opts(&o, s);
    ldb_db *db;
    assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
    assert_int_equal(prefix_present(db, n), n);
    ldb_changes *c;
    assert_int_equal(ldb_changes_open(db, 0, NULL, &c), LDB_OK);
    ldb_change ch;
    uint64_t k = 0;
    while (ldb_changes_next(c, &ch) == LDB_OK)
      assert_int_equal(ch.seq, ++k);
    assert_int_equal(k, (uint64_t)n);
    ldb_changes_close(c);
    assert_int_equal(ldb_check(db), LDB_OK);
    assert_int_equal(ldb_close(db), LDB_OK);
  }
  ldb_store_destroy(s);
}

/* A crash mid-append leaves a prefix of the log, or a prefix followed by
 * zeros (sectors never written): the open succeeds with the commits whose
 * records are whole. */
static void test_torn_tail(void **st) {
  (void)st;
  const int n = 10;
  ldb_store *base = crashed_store(n);
  size_t len;
  uint8_t *log = file_get(base, "feed-00.log", &len);
  uint8_t *z = calloc(1, len + 4096);
  for (size_t cut = 0; cut <= len; cut++) {
    for (int zeros = 0; zeros < 2; zeros++) {
      ldb_store *s = store_copy(base);
      memcpy(z, log, cut);
      memset(z + cut, 0, len + 4096 - cut);
      size_t keep = zeros ? (cut + 1023) / 512 * 512 : cut;
      if (zeros && keep <= cut) keep = cut + 512;
      file_put(s, "feed-00.log", z, keep);
      ldb_options o;
      opts(&o, s);
      ldb_db *db = NULL;
      /* Read-only first (it cuts nothing): a torn tail is no damage. */
      o.read_only = 1;
      int rc = ldb_open("wal", &o, &db);
      if (rc != LDB_OK)
        fail_msg("cut at %zu (zeros %d), read-only: %s (%s)", cut, zeros,
                 ldb_code_name(rc), ldb_errmsg(NULL));
      if ((rc = ldb_check(db)) != LDB_OK)
        fail_msg("cut at %zu (zeros %d), read-only check: %s (%s)", cut, zeros,
                 ldb_code_name(rc), ldb_errmsg(NULL));
      assert_int_equal(ldb_close(db), LDB_OK);
      o.read_only = 0;
      rc = ldb_open("wal", &o, &db);
      if (rc != LDB_OK)
        fail_msg("cut at %zu (zeros %d): %s (%s)", cut, zeros,
                 ldb_code_name(rc), ldb_errmsg(NULL));
      int p = prefix_present(db, n);
      if (cut == len) assert_int_equal(p, n);
      assert_int_equal(ldb_check(db), LDB_OK);
      /* The torn end was cut: new commits follow the prefix. */
      assert_int_equal(ldb_put(db, "after", 5, "x", 1), LDB_OK);
      assert_int_equal(ldb_close(db), LDB_OK);
      assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
      assert_int_equal(prefix_present(db, n), p);
      assert_int_equal(ldb_check(db), LDB_OK);
      assert_int_equal(ldb_close(db), LDB_OK);
      ldb_store_destroy(s);
    }
  }
  free(z);
  free(log);
  ldb_store_destroy(base);
}

/* With the feed off the log keeps only what recovery needs; with it on,
 * what retention asks, and checkpoints never trim it. */
static void test_log_bounded(void **st) {
  (void)st;
  for (int feed_on = 0; feed_on < 2; feed_on++) {
    ldb_store *s;
    assert_int_equal(ldb_store_memory(&s), LDB_OK);
    ldb_options o;
    opts(&o, s);
    o.sync_mode = LDB_SYNC_OFF;
    o.memtable_size = 256u << 10;
    o.log_retention_bytes = feed_on ? (2u << 20) : 0;
    ldb_db *db;
    assert_int_equal(ldb_open("wal", &o, &db), LDB_OK);
    char v[200];
    memset(v, 'v', sizeof v);
    for (int i = 0; i < 60000; i++) {
      char k[16];
      key_of(k, sizeof k, i % 5000);
      assert_int_equal(ldb_put(db, k, strlen(k), v, sizeof v), LDB_OK);
    }
    ldb_stats x;
    assert_int_equal(ldb_stats_get(db, &x), LDB_OK);
    assert_true(x.checkpoints > 10);
    /* About 14 MB were logged. */
    if (!feed_on) {
      assert_true(x.log_file_size < (4u << 20));
      ldb_changes *c;
      assert_int_equal(ldb_changes_open(db, x.last_seq, NULL, &c), LDB_INVALID);
    } else {
      assert_true(x.log_retained_bytes >= (2u << 20));
      assert_true(x.log_file_size < (6u << 20));
      ldb_changes *c;
      assert_int_equal(ldb_changes_open(db, x.log_retained_since, NULL, &c),
                       LDB_OK);
      ldb_changes_close(c);
      assert_int_equal(ldb_changes_open(db, 0, NULL, &c), LDB_COMPACTED);
    }
    assert_int_equal(ldb_check(db), LDB_OK);
    assert_int_equal(ldb_close(db), LDB_OK);
    ldb_store_destroy(s);
  }
}

/* The previous version's database: made by its build (see the fixture's
 * README); it exited without closing, so its old log holds commits 41..81
 * that its tree does not. */
static void test_migrate_v1(void **st) {
  (void)st;
  const char *dir = getenv("LDB_TEST_FIXTURES");
  if (!dir) dir = "tests/c/fixtures";
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  static const char *names[] = {"data.ldb", "feed.head", "feed-00.log",
                                "wal-0.log", "wal-1.log"};
  for (size_t i = 0; i < 5; i++) {
    char path[1024];
    snprintf(path, sizeof path, "%s/v1/%s", dir, names[i]);
    FILE *f = fopen(path, "rb");
    if (!f) fail_msg("missing fixture %s", path);
    uint8_t buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    file_put(s, names[i], buf, n);
  }
  for (int round = 0; round < 3; round++) {
    ldb_options o;
    opts(&o, s);
    ldb_db *db;
    assert_int_equal(ldb_open("v1", &o, &db), LDB_OK);
    ldb_stats x;
    assert_int_equal(ldb_stats_get(db, &x), LDB_OK);
    assert_int_equal(x.last_seq, 81 + (round ? 1 : 0));
    for (int i = 0; i < 60; i++) {
      char k[16], want[32];
      snprintf(k, sizeof k, "key%03d", i);
      snprintf(want, sizeof want, "value-%d-%s", i, i < 20 ? "a" : "b");
      void *v = NULL;
      size_t vl;
      int rc = ldb_get(db, k, strlen(k), &v, &vl);
      if (i % 3 == 0 && i < 30) {
        assert_int_equal(rc, LDB_NOTFOUND);
      } else {
        assert_int_equal(rc, LDB_OK);
        assert_int_equal(vl, strlen(want));
        assert_memory_equal(v, want, vl);
      }
      ldb_free(db, v);
    }
    /* The feed continues across the migration: every commit from 1. */
    ldb_changes *c;
    assert_int_equal(ldb_changes_open(db, 0, NULL, &c), LDB_OK);
    ldb_change ch;
    uint64_t n = 0;
    while (ldb_changes_next(c, &ch) == LDB_OK) {
      assert_int_equal(ch.seq, ++n);
      if (n == 81) {
        assert_int_equal(ch.op_count, 11);
        assert_memory_equal(ch.ops[10].key, "zz", 2);
      }
    }
    assert_int_equal(n, x.last_seq);
    ldb_changes_close(c);
    assert_int_equal(ldb_check(db), LDB_OK);
    /* The old log is gone: the database is format 2 now. */
    ldb_file *f = NULL;
    assert_int_equal(s->methods->open(s, "wal-0.log", 0, &f), LDB_NOTFOUND);
    assert_int_equal(s->methods->open(s, "wal-1.log", 0, &f), LDB_NOTFOUND);
    if (round == 0) assert_int_equal(ldb_put(db, "new", 3, "1", 1), LDB_OK);
    assert_int_equal(ldb_close(db), LDB_OK);
  }
  ldb_store_destroy(s);
}

static void test_op_decode(void **st) {
  (void)st;
  uint8_t buf[64];
  uint8_t *e = wal_op_encode(buf, WAL_PUT, "key", 3, "val", 3);
  assert_int_equal(e - buf, (long)wal_op_size(3, 3));
  const uint8_t *p = buf;
  wal_op op;
  assert_int_equal(wal_op_decode(&p, e, &op), LDB_OK);
  assert_int_equal(op.klen, 3);
  assert_memory_equal(op.val, "val", 3);
  p = buf;
  assert_int_equal(wal_op_decode(&p, e - 1, &op), LDB_CORRUPT);
  buf[0] = 9;
  p = buf;
  assert_int_equal(wal_op_decode(&p, e, &op), LDB_CORRUPT);
  /* the empty key is a key: it round-trips */
  const uint8_t *e0 = wal_op_encode(buf, WAL_PUT, "", 0, "val", 3);
  p = buf;
  assert_int_equal(wal_op_decode(&p, e0, &op), LDB_OK);
  assert_int_equal(op.klen, 0);
  assert_int_equal(op.vlen, 3);
  assert_ptr_equal(p, e0);
  ldb_put32(buf + 1, LDB_MAX_KEY_SIZE + 1); /* oversized key */
  p = buf;
  assert_int_equal(wal_op_decode(&p, e, &op), LDB_CORRUPT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_clean_close_replays_nothing),
      cmocka_unit_test(test_close_checkpoint_full),
      cmocka_unit_test(test_flip_every_byte),
      cmocka_unit_test(test_damaged_history),
      cmocka_unit_test(test_damaged_history_trimmed),
      cmocka_unit_test(test_torn_tail),
      cmocka_unit_test(test_placeholders),
      cmocka_unit_test(test_log_bounded),
      cmocka_unit_test(test_migrate_v1),
      cmocka_unit_test(test_op_decode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
