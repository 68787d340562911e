/*
 * test_feed.c — the change feed (ldb_changes_*): commits in order with
 * their ops, key ranges, retention by bytes and by age (and that
 * checkpoints never trim what is retained), COMPACTED, resuming after a
 * reopen, the wait and the commit hooks, and power loss at every sync point
 * (sampled): after recovery the feed holds every commit recovery restored,
 * exactly once and in order, and replaying it reproduces the database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>

#include <cmocka.h>

#include "helpers/store_faulty.h"
#include "helpers/testutil.h"
#include "lightningdb.h"

static void sleep_ms(unsigned ms) {
  tu_sleep_ms(ms);
}

static ldb_db *open_mode(ldb_store *s, uint64_t ret_bytes, uint64_t ret_ms,
                         int sync_mode) {
  ldb_options o;
  ldb_options_default(&o);
  o.store = s;
  o.page_size = 512;
  o.log_retention_bytes = ret_bytes;
  o.log_retention_ms = ret_ms;
  o.sync_mode = sync_mode;
  return tu_open("feed", &o);
}

static ldb_db *open_mem(ldb_store *s, uint64_t ret_bytes, uint64_t ret_ms) {
  return open_mode(s, ret_bytes, ret_ms, LDB_SYNC_NORMAL);
}

static int op_is(const ldb_change_op *o, int type, const char *k,
                 const char *v) {
  if (o->type != type || o->key_len != strlen(k) ||
      memcmp(o->key, k, o->key_len))
    return 0;
  if (type == LDB_CHANGE_DEL) return o->value == NULL && o->value_len == 0;
  return o->value_len == strlen(v) && !memcmp(o->value, v, o->value_len);
}

static uint64_t last_seq(ldb_db *db) {
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  return st.last_seq;
}

static void test_commits_in_order(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, 1 << 20, 0);
  tu_put_s(db, "a", "1");
  ldb_batch *b;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  assert_int_equal(ldb_batch_put(b, "b", 1, "2", 1), LDB_OK);
  assert_int_equal(ldb_batch_delete(b, "a", 1), LDB_OK);
  assert_int_equal(ldb_write(db, b), LDB_OK);
  ldb_batch_destroy(b);
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "c", 1, "3", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t), LDB_OK);

  ldb_changes *c;
  ldb_change ch;
  assert_int_equal(ldb_changes_open(db, 0, NULL, &c), LDB_OK);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 1);
  assert_int_equal(ch.op_count, 1);
  assert_true(op_is(&ch.ops[0], LDB_CHANGE_PUT, "a", "1"));
  uint64_t now = (uint64_t)time(NULL) * 1000;
  assert_true(ch.time_ms + 60000 > now && ch.time_ms < now + 60000);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 2);
  assert_int_equal(ch.op_count, 2);
  assert_true(op_is(&ch.ops[0], LDB_CHANGE_PUT, "b", "2"));
  assert_true(op_is(&ch.ops[1], LDB_CHANGE_DEL, "a", NULL));
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 3);
  assert_true(op_is(&ch.ops[0], LDB_CHANGE_PUT, "c", "3"));
  assert_int_equal(ldb_changes_next(c, &ch), LDB_NOTFOUND);
  assert_int_equal(ldb_changes_seq(c), 3);
  /* Caught up: a new commit appears, and the wait sees it. */
  assert_int_equal(ldb_changes_wait(c, 3, 10), LDB_TIMEOUT);
  tu_put_s(db, "d", "4");
  assert_int_equal(ldb_changes_wait(c, 3, 10), LDB_OK);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 4);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_NOTFOUND);
  ldb_changes_close(c);

  /* From the middle; since after the last commit is refused. */
  assert_int_equal(ldb_changes_open(db, 2, NULL, &c), LDB_OK);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 3);
  ldb_changes_close(c);
  assert_int_equal(ldb_changes_open(db, 4, NULL, &c), LDB_OK);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_NOTFOUND);
  ldb_changes_close(c);
  assert_int_equal(ldb_changes_open(db, 5, NULL, &c), LDB_INVALID);
  assert_null(c);

  /* The bulk form: the documented encoding, and a buffer too small. */
  assert_int_equal(ldb_changes_open(db, 1, NULL, &c), LDB_OK);
  size_t count, used;
  uint8_t small[8], buf[256];
  assert_int_equal(ldb_changes_read(c, small, sizeof small, 10, &count, &used),
                   LDB_OK);
  assert_int_equal(count, 0);
  assert_int_equal(used, 24 + 9 + 1 + 1 + 9 + 1);
  assert_int_equal(ldb_changes_read(c, buf, sizeof buf, 10, &count, &used),
                   LDB_OK);
  assert_int_equal(count, 3);
  uint64_t seq;
  uint32_t nops;
  memcpy(&seq, buf, 8);
  memcpy(&nops, buf + 16, 4);
  assert_int_equal(seq, 2);
  assert_int_equal(nops, 2);
  assert_int_equal(buf[24], LDB_CHANGE_PUT);
  assert_int_equal(buf[24 + 9], 'b');
  assert_int_equal(ldb_changes_read(c, buf, sizeof buf, 10, &count, &used),
                   LDB_NOTFOUND);
  ldb_changes_close(c);

  /* Closing the handle invalidates its cursors (close never refuses). */
  assert_int_equal(ldb_changes_open(db, 0, NULL, &c), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_CLOSED);
  assert_int_equal(ldb_changes_wait(c, 0, 10), LDB_CLOSED);
  ldb_changes_close(c);

  /* With the feed off nothing is written and cursors are refused. */
  db = open_mem(s, 0, 0);
  tu_put_s(db, "e", "5");
  assert_int_equal(ldb_changes_open(db, 0, NULL, &c), LDB_INVALID);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

static void test_ranges(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, 1 << 20, 0);
  const char *keys[] = {"a1", "b1", "b2", "b3", "c1"};
  for (int i = 0; i < 5; i++)
    tu_put_s(db, keys[i], "v");
  ldb_batch *b;
  assert_int_equal(ldb_batch_create(db, &b), LDB_OK);
  assert_int_equal(ldb_batch_put(b, "a2", 2, "x", 1), LDB_OK);
  assert_int_equal(ldb_batch_put(b, "b4", 2, "x", 1), LDB_OK);
  assert_int_equal(ldb_batch_delete(b, "c1", 2), LDB_OK);
  assert_int_equal(ldb_write(db, b), LDB_OK); /* seq 6 */
  ldb_batch_destroy(b);

  ldb_changes_options o = {0};
  o.prefix = "b";
  o.prefix_len = 1;
  ldb_changes *c;
  ldb_change ch;
  assert_int_equal(ldb_changes_open(db, 0, &o, &c), LDB_OK);
  uint64_t want[] = {2, 3, 4, 6};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
    assert_int_equal(ch.seq, want[i]);
    assert_int_equal(ch.op_count, 1);
    assert_int_equal(((const char *)ch.ops[0].key)[0], 'b');
  }
  assert_int_equal(ldb_changes_next(c, &ch), LDB_NOTFOUND);
  ldb_changes_close(c);

  /* (b1, c1]: b2, b3, then b4 and the delete of c1 from the batch. */
  memset(&o, 0, sizeof o);
  o.lower = "b1";
  o.lower_len = 2;
  o.lower_exclusive = 1;
  o.upper = "c1";
  o.upper_len = 2;
  assert_int_equal(ldb_changes_open(db, 0, &o, &c), LDB_OK);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 3);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 4);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 5);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 6);
  assert_int_equal(ch.op_count, 2);
  assert_true(op_is(&ch.ops[0], LDB_CHANGE_PUT, "b4", "x"));
  assert_true(op_is(&ch.ops[1], LDB_CHANGE_DEL, "c1", NULL));
  ldb_changes_close(c);

  /* [a, b1): a1 and a2 only. */
  memset(&o, 0, sizeof o);
  o.lower = "a";
  o.lower_len = 1;
  o.upper = "b1";
  o.upper_len = 2;
  o.upper_exclusive = 1;
  assert_int_equal(ldb_changes_open(db, 0, &o, &c), LDB_OK);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 1);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 6);
  assert_int_equal(ch.op_count, 1);
  assert_true(op_is(&ch.ops[0], LDB_CHANGE_PUT, "a2", "x"));
  assert_int_equal(ldb_changes_next(c, &ch), LDB_NOTFOUND);
  assert_int_equal(ldb_changes_seq(c), 6);
  ldb_changes_close(c);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

/* Reads every commit from since to the end: their seqs must run
 * since+1..last without a gap. Returns the count. */
static uint64_t read_all(ldb_db *db, uint64_t since) {
  ldb_changes *c;
  ldb_change ch;
  int rc = ldb_changes_open(db, since, NULL, &c);
  if (rc)
    fail_msg("changes_open(%llu): %s (%s)", (unsigned long long)since,
             ldb_strerror(rc), ldb_errmsg(NULL));
  uint64_t expect = since + 1, n = 0;
  while ((rc = ldb_changes_next(c, &ch)) == LDB_OK) {
    if (ch.seq != expect)
      fail_msg("seq %llu after %llu", (unsigned long long)ch.seq,
               (unsigned long long)expect - 1);
    expect++;
    n++;
  }
  assert_int_equal(rc, LDB_NOTFOUND);
  ldb_changes_close(c);
  assert_int_equal(expect - 1, last_seq(db));
  return n;
}

static void test_retention_bytes(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  const uint64_t keep = 256 << 10;
  /* Sync mode full: every commit is synced, so each segment is left at its
   * target (in the other modes it is left after the next sync: see
   * test_segment_left_after_sync). */
  ldb_db *db = open_mode(s, keep, 0, LDB_SYNC_FULL);
  char k[32], v[200];
  memset(v, 'v', sizeof v);
  /* ~2.5 MB of records, with checkpoints among them. */
  for (int i = 0; i < 10000; i++) {
    snprintf(k, sizeof k, "key%06d", i);
    assert_int_equal(ldb_put(db, k, strlen(k), v, sizeof v), LDB_OK);
    if (i % 1000 == 999) assert_int_equal(ldb_checkpoint(db), LDB_OK);
  }
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_true(st.log_retained_bytes >= keep);
  /* Segments are 64 KiB here: at most one more than needed, plus the one
   * being written. */
  assert_true(st.log_retained_bytes <= keep + 2 * (64 << 10) + 512);
  assert_true(st.log_retained_segments >= 4);
  assert_true(st.log_retained_since > 0);
  ldb_changes *c = NULL;
  assert_int_equal(ldb_changes_open(db, 0, NULL, &c), LDB_COMPACTED);
  assert_string_equal(ldb_code_name(LDB_COMPACTED), "COMPACTED");
  assert_int_equal(ldb_changes_open(db, st.log_retained_since - 1, NULL, &c),
                   LDB_COMPACTED);
  uint64_t n = read_all(db, st.log_retained_since);
  assert_true(n * (28 + 9 + 9 + 200) >= keep);

  /* A cursor that lags behind while retention moves on gets COMPACTED. */
  ldb_change ch;
  assert_int_equal(ldb_changes_open(db, st.log_retained_since, NULL, &c),
                   LDB_OK);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  for (int i = 0; i < 4000; i++) {
    snprintf(k, sizeof k, "more%06d", i);
    assert_int_equal(ldb_put(db, k, strlen(k), v, sizeof v), LDB_OK);
    /* Records go only once checkpointed as well. */
    if (i % 1000 == 999) assert_int_equal(ldb_checkpoint(db), LDB_OK);
  }
  int rc;
  while ((rc = ldb_changes_next(c, &ch)) == LDB_OK) {
  }
  assert_int_equal(rc, LDB_COMPACTED);
  ldb_changes_close(c);
  assert_int_equal(ldb_close(db), LDB_OK);

  /* Checkpoints never trim what is retained: a large retention keeps
   * everything through many checkpoints and a reopen. */
  ldb_store *s2;
  assert_int_equal(ldb_store_memory(&s2), LDB_OK);
  db = open_mem(s2, 64 << 20, 0);
  for (int i = 0; i < 3000; i++) {
    snprintf(k, sizeof k, "key%06d", i);
    assert_int_equal(ldb_put(db, k, strlen(k), v, sizeof v), LDB_OK);
    if (i % 300 == 299) assert_int_equal(ldb_checkpoint(db), LDB_OK);
  }
  assert_int_equal(read_all(db, 0), 3000);
  assert_int_equal(ldb_close(db), LDB_OK);
  db = open_mem(s2, 64 << 20, 0);
  assert_int_equal(read_all(db, 0), 3000);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s2);
  ldb_store_destroy(s);
}

/* Commits key n ("key%06d") with a 4,000-byte value of one letter. */
static void put_4k(ldb_db *db, int n) {
  static char v[4000];
  char k[32];
  snprintf(k, sizeof k, "key%06d", n);
  memset(v, 'a' + n % 26, sizeof v);
  assert_int_equal(ldb_put(db, k, strlen(k), v, sizeof v), LDB_OK);
}

/* In sync modes normal and off the segment being left is not synced on the
 * commit's path: it grows until a sync covers it, then the next commit
 * starts the next segment; past 8 targets it is synced there. A crash
 * meanwhile still tears only the newest segment: the reopen keeps every
 * commit the last sync covered. */
static void test_segment_left_after_sync(void **state) {
  (void)state;
  ldb_store *inner, *s;
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &s), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = s;
  o.sync_mode = LDB_SYNC_OFF;
  o.background_checkpoint = 0;
  o.log_retention_bytes = 1 << 20; /* segments of 128 KiB, 1 MiB unsynced */
  ldb_db *db = tu_open("feed", &o);
  static char v[4000];
  char k[32];
  int n = 0;
  ldb_stats st;
  uint64_t syncs = ldb_faulty_count(s, LDB_FAULT_SYNC);
  /* 800 KB: past the target, one segment, no sync. */
  for (; n < 200; n++)
    put_4k(db, n);
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.log_retained_segments, 1);
  assert_int_equal(ldb_faulty_count(s, LDB_FAULT_SYNC), syncs);
  /* Past 8 targets the commit syncs it and starts the next. */
  while (st.log_retained_segments == 1) {
    put_4k(db, n++);
    assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  }
  assert_true(st.log_retained_bytes > (1 << 20));
  assert_int_equal(ldb_faulty_count(s, LDB_FAULT_SYNC), syncs + 1);
  /* Past the target again; a sync, and the next commit starts the next
   * segment without one. */
  for (int i = 0; i < 40; i++, n++)
    put_4k(db, n);
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.log_retained_segments, 2);
  assert_int_equal(ldb_flush(db), LDB_OK);
  const int synced = n;
  syncs = ldb_faulty_count(s, LDB_FAULT_SYNC);
  for (int i = 0; i < 40; i++, n++)
    put_4k(db, n);
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.log_retained_segments, 3);
  assert_int_equal(ldb_faulty_count(s, LDB_FAULT_SYNC), syncs);
  /* Large records (one write each), the last three unsynced: the next
   * segment starts with them. */
  static uint8_t big[100000];
  for (int i = 0; i < 6; i++, n++) {
    if (i == 3) assert_int_equal(ldb_flush(db), LDB_OK);
    snprintf(k, sizeof k, "key%06d", n);
    memset(big, 'a' + n % 26, sizeof big);
    assert_int_equal(ldb_put(db, k, strlen(k), big, sizeof big), LDB_OK);
  }
  const int big_from = n - 6, synced_big = n - 3;

  /* Power loss, unsynced writes torn: the reopen has every commit up to
   * the flush, and a prefix of the rest. */
  ldb_faulty_crash_now(s, LDB_CRASH_TEAR, tu_seed("segment_left"));
  (void)ldb_close(db);
  ldb_store_destroy(s);
  o.store = inner;
  db = tu_open("feed", &o);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_true(synced < big_from);
  assert_true(st.last_seq >= (uint64_t)synced_big);
  assert_true(st.last_seq <= (uint64_t)n);
  for (int i = 0; i < (int)st.last_seq; i++) {
    size_t want = i < big_from ? sizeof v : sizeof big;
    snprintf(k, sizeof k, "key%06d", i);
    memset(big, 'a' + i % 26, want);
    void *got = NULL;
    size_t gl = 0;
    assert_int_equal(ldb_get(db, k, strlen(k), &got, &gl), LDB_OK);
    assert_int_equal(gl, want);
    assert_memory_equal(got, big, want);
    ldb_free(db, got);
  }
  assert_int_equal(read_all(db, 0), st.last_seq);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(inner);
}

static void test_retention_age(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, 9007199254740991ull, 200);
  for (int i = 0; i < 20; i++)
    tu_put_s(db, "k", "old");
  assert_int_equal(read_all(db, 0), 20);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  sleep_ms(350);
  /* The next commit starts a segment; the old one is past the age, but
   * recovery still needs it: the older meta page names seq 0. */
  tu_put_s(db, "k", "new");
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.log_retained_since, 0);
  /* Once a checkpoint after it makes it redundant, it goes. */
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.log_retained_since, 20);
  ldb_changes *c;
  assert_int_equal(ldb_changes_open(db, 0, NULL, &c), LDB_COMPACTED);
  assert_int_equal(read_all(db, 20), 1);
  /* Again, one segment later. */
  sleep_ms(350);
  tu_put_s(db, "k", "newer");
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.log_retained_since, 20);
  assert_int_equal(ldb_checkpoint(db), LDB_OK);
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.log_retained_since, 21);
  assert_int_equal(ldb_close(db), LDB_OK);
  /* Age and bytes are both kept across a reopen. */
  db = open_mem(s, 9007199254740991ull, 200);
  assert_int_equal(read_all(db, 21), 1);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

static void test_resume_after_reopen(void **state) {
  (void)state;
  char *dir = tu_tmpdir("feed");
  ldb_options o;
  ldb_options_default(&o);
  o.log_retention_bytes = 1 << 20; /* 128 KiB segments */
  ldb_db *db;
  char k[32], v[100];
  memset(v, 'x', sizeof v);
  assert_int_equal(ldb_open(dir, &o, &db), LDB_OK);
  for (int i = 1; i <= 3000; i++) {
    snprintf(k, sizeof k, "k%05d", i);
    snprintf(v, sizeof v, "v%05d", i);
    assert_int_equal(ldb_put(db, k, strlen(k), v, sizeof v), LDB_OK);
    if (i == 1500) assert_int_equal(ldb_checkpoint(db), LDB_OK);
  }
  assert_int_equal(ldb_close(db), LDB_OK);
  assert_int_equal(ldb_open(dir, &o, &db), LDB_OK);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.last_seq, 3000);
  assert_true(st.log_retained_since < 2000);
  ldb_changes *c;
  ldb_change ch;
  /* Resume from any since inside the retained range. */
  for (uint64_t since = st.log_retained_since; since <= 3000; since += 397) {
    assert_int_equal(ldb_changes_open(db, since, NULL, &c), LDB_OK);
    int rc = ldb_changes_next(c, &ch);
    if (since == 3000) {
      assert_int_equal(rc, LDB_NOTFOUND);
    } else {
      assert_int_equal(rc, LDB_OK);
      assert_int_equal(ch.seq, since + 1);
      snprintf(k, sizeof k, "k%05llu", (unsigned long long)since + 1);
      assert_true(ch.ops[0].key_len == strlen(k) &&
                  !memcmp(ch.ops[0].key, k, strlen(k)));
    }
    ldb_changes_close(c);
  }
  /* New commits continue the sequence after the reopen. */
  tu_put_s(db, "after", "reopen");
  read_all(db, st.log_retained_since);
  /* A read-only open reads the feed too. */
  assert_int_equal(ldb_close(db), LDB_OK);
  o.read_only = 1;
  assert_int_equal(ldb_open(dir, &o, &db), LDB_OK);
  assert_int_equal(ldb_changes_open(db, 2999, NULL, &c), LDB_OK);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 3000);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, 3001);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_NOTFOUND);
  ldb_changes_close(c);
  assert_int_equal(ldb_close(db), LDB_OK);
  tu_rmrf(dir);
  free(dir);
}

typedef struct hook_count {
  int calls;
  uint64_t max;
} hook_count;

static void count_hook(void *ctx, uint64_t seq) {
  hook_count *h = ctx;
  h->calls++;
  if (seq > h->max) h->max = seq;
}

static void test_commit_hooks(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, 1 << 20, 0);
  hook_count h = {0, 0};
  assert_int_equal(ldb_commit_hook_add(db, count_hook, &h), LDB_OK);
  tu_put_s(db, "a", "1");
  tu_put_s(db, "b", "2");
  assert_int_equal(h.calls, 2);
  assert_int_equal(h.max, 2);
  /* A second handle on the same engine (same engine options): its commits
   * call the hook too. */
  ldb_db *db2 = open_mem(s, 1 << 20, 0);
  tu_put_s(db2, "c", "3");
  assert_int_equal(h.max, 3);
  assert_int_equal(ldb_commit_hook_remove(db, count_hook, &h), LDB_OK);
  assert_int_equal(ldb_commit_hook_remove(db, count_hook, &h), LDB_NOTFOUND);
  tu_put_s(db, "d", "4");
  assert_int_equal(h.calls, 3);
  /* A hook belongs to its handle: closing that handle removes it. */
  hook_count h2 = {0, 0};
  assert_int_equal(ldb_commit_hook_add(db2, count_hook, &h2), LDB_OK);
  assert_int_equal(ldb_commit_hook_remove(db, count_hook, &h2), LDB_NOTFOUND);
  tu_put_s(db, "e", "5");
  assert_int_equal(h2.calls, 1);
  assert_int_equal(ldb_close(db2), LDB_OK);
  tu_put_s(db, "f", "6");
  assert_int_equal(h2.calls, 1);
  /* 64 hooks at most: the 65th is BUSY with a message that says so and
   * how to free a place; removing one does. */
  hook_count many[65];
  memset(many, 0, sizeof many);
  for (int i = 0; i < 64; i++)
    assert_int_equal(ldb_commit_hook_add(db, count_hook, &many[i]), LDB_OK);
  assert_int_equal(ldb_commit_hook_add(db, count_hook, &many[64]), LDB_BUSY);
  if (!strstr(ldb_errmsg(NULL), "64 commit hooks are already registered") ||
      !strstr(ldb_errmsg(NULL), "to free a place"))
    fail_msg("the 65th hook's message: %s", ldb_errmsg(NULL));
  assert_int_equal(ldb_commit_hook_remove(db, count_hook, &many[3]), LDB_OK);
  assert_int_equal(ldb_commit_hook_add(db, count_hook, &many[64]), LDB_OK);
  tu_put_s(db, "g", "7");
  assert_int_equal(many[64].calls, 1);
  assert_int_equal(many[3].calls, 0);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

typedef struct waiter {
  ldb_changes *c;
  uint64_t after;
  int rc;
} waiter;

static void *wait_thread(void *arg) {
  waiter *w = arg;
  w->rc = ldb_changes_wait(w->c, w->after, 10000);
  return NULL;
}

/* A thread blocked in ldb_changes_wait wakes for a commit of another
 * thread, and with LDB_CLOSED when the handle is closed under it. */
static void test_wait_across_threads(void **state) {
  (void)state;
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_db *db = open_mem(s, 1 << 20, 0);
  tu_put_s(db, "a", "1");
  waiter w = {NULL, 1, -1};
  assert_int_equal(ldb_changes_open(db, 1, NULL, &w.c), LDB_OK);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
  sleep_ms(50);
  tu_put_s(db, "b", "2");
  pthread_join(th, NULL);
  assert_int_equal(w.rc, LDB_OK);
  w.after = 2;
  w.rc = -1;
  assert_int_equal(pthread_create(&th, NULL, wait_thread, &w), 0);
  sleep_ms(50);
  assert_int_equal(ldb_close(db), LDB_OK);
  pthread_join(th, NULL);
  assert_int_equal(w.rc, LDB_CLOSED);
  ldb_changes_close(w.c);
  ldb_store_destroy(s);
}

/* A full disk at the feed's write or at the log's: the commit is refused
 * whole (FULL, nothing applied, nothing in the feed), the handle stays
 * usable, and the feed goes on without a gap, also after a reopen. */
static void test_disk_full(void **state) {
  (void)state;
  ldb_store *inner, *fs;
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  ldb_db *db = open_mem(fs, 1 << 20, 0);
  tu_put_s(db, "a", "1");
  /* The commit's one append (the log is the feed). */
  for (uint64_t nth = 1; nth <= 1; nth++) {
    ldb_faulty_fail_nth(fs, nth, LDB_FAULT_WRITE, LDB_FULL, 0);
    assert_int_equal(ldb_put(db, "lost", 4, "x", 1), LDB_FULL);
    ldb_faulty_clear(fs);
    void *v;
    size_t vl;
    assert_int_equal(ldb_get(db, "lost", 4, &v, &vl), LDB_NOTFOUND);
  }
  tu_put_s(db, "b", "2");
  assert_int_equal(last_seq(db), 2);
  assert_int_equal(read_all(db, 0), 2);
  ldb_changes *c;
  ldb_change ch;
  assert_int_equal(ldb_changes_open(db, 1, NULL, &c), LDB_OK);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_true(op_is(&ch.ops[0], LDB_CHANGE_PUT, "b", "2"));
  ldb_changes_close(c);
  assert_int_equal(ldb_close(db), LDB_OK);
  db = open_mem(fs, 1 << 20, 0);
  assert_int_equal(read_all(db, 0), 2);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(fs);
  ldb_store_destroy(inner);
}

/* ---- power loss --------------------------------------------------------- */

#define NKEYS 64

/* Runs random commits (puts and deletes of NKEYS keys, batches of 1..4)
 * with checkpoints, cut at sync `cut` (0: never). Returns the syncs made. */
static uint64_t crash_run(uint64_t seed, int sync_mode, int mode,
                          uint64_t cut) {
  ldb_store *inner, *fs;
  assert_int_equal(ldb_store_memory(&inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(inner, &fs), LDB_OK);
  if (cut) ldb_faulty_crash_at_sync(fs, cut, mode, seed ^ cut);
  ldb_options o;
  ldb_options_default(&o);
  o.store = fs;
  o.page_size = 512;
  o.sync_mode = sync_mode;
  o.background_checkpoint = 0;
  o.sync_interval_ms = 0;
  o.memtable_size = 8 << 10;
  o.log_retention_bytes = 256 << 10; /* 64 KiB segments: several rolls */
  ldb_db *db;
  tu_rng r;
  tu_rng_init(&r, seed);
  int rc = ldb_open("crash", &o, &db);
  if (!rc) {
    for (int i = 0; i < 600 && !ldb_faulty_crashed(fs); i++) {
      ldb_batch *b;
      if (ldb_batch_create(db, &b)) break;
      int n = 1 + (int)tu_below(&r, 4);
      for (int j = 0; j < n; j++) {
        char k[16], v[64];
        snprintf(k, sizeof k, "k%02d", (int)tu_below(&r, NKEYS));
        if (tu_chance(&r, 20)) {
          ldb_batch_delete(b, k, strlen(k));
        } else {
          size_t vl = 1 + tu_below(&r, sizeof v - 1);
          memset(v, 'a' + (int)tu_below(&r, 26), vl);
          ldb_batch_put(b, k, strlen(k), v, vl);
        }
      }
      (void)ldb_write(db, b);
      ldb_batch_destroy(b);
      if (i % 97 == 96) (void)ldb_checkpoint(db);
    }
    (void)ldb_close(db); /* fails after the cut; frees the handle anyway */
  }
  uint64_t syncs = 0;
  char name[64];
  while (ldb_faulty_sync_file(fs, syncs + 1, name, sizeof name) == LDB_OK)
    syncs++;
  ldb_store_destroy(fs);

  /* The image a reboot sees: the feed from 0 replays to the database. */
  o.store = inner;
  rc = ldb_open("crash", &o, &db);
  if (rc)
    fail_msg("cut %llu: reopen: %s (%s)", (unsigned long long)cut,
             ldb_strerror(rc), ldb_errmsg(NULL));
  assert_int_equal(ldb_check(db), LDB_OK);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  /* Either the feed holds everything (since 0) or a checkpoint-synced
   * prefix was trimmed by retention; both must reach last_seq. */
  tu_model *m = tu_model_new();
  int have_all = st.log_retained_since == 0;
  ldb_changes *c;
  ldb_change ch;
  assert_int_equal(ldb_changes_open(db, st.log_retained_since, NULL, &c),
                   LDB_OK);
  uint64_t expect = st.log_retained_since + 1;
  while ((rc = ldb_changes_next(c, &ch)) == LDB_OK) {
    if (ch.seq != expect)
      fail_msg("cut %llu: feed seq %llu, expected %llu",
               (unsigned long long)cut, (unsigned long long)ch.seq,
               (unsigned long long)expect);
    expect++;
    for (size_t i = 0; i < ch.op_count; i++) {
      const ldb_change_op *op = &ch.ops[i];
      if (op->type == LDB_CHANGE_PUT)
        tu_model_put(m, op->key, op->key_len, op->value, op->value_len);
      else
        tu_model_del(m, op->key, op->key_len);
    }
  }
  assert_int_equal(rc, LDB_NOTFOUND);
  ldb_changes_close(c);
  if (expect - 1 != st.last_seq)
    fail_msg("cut %llu: feed ends at %llu, database at %llu",
             (unsigned long long)cut, (unsigned long long)expect - 1,
             (unsigned long long)st.last_seq);
  if (have_all) {
    /* Replaying the whole feed gives the database's contents. */
    ldb_iter *it;
    assert_int_equal(ldb_iter_create(db, NULL, NULL, &it), LDB_OK);
    size_t n = 0;
    for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it), n++) {
      const void *k, *v, *mv;
      size_t kl, vl, mvl;
      ldb_iter_key(it, &k, &kl);
      ldb_iter_value(it, &v, &vl);
      if (!tu_model_get(m, k, kl, &mv, &mvl) || mvl != vl || memcmp(mv, v, vl))
        fail_msg("cut %llu: key %.*s differs from the feed's replay",
                 (unsigned long long)cut, (int)kl, (const char *)k);
    }
    ldb_iter_destroy(it);
    assert_int_equal(n, tu_model_count(m));
  }
  /* And it goes on: a new commit is the next seq in the feed. */
  assert_int_equal(ldb_put(db, "z", 1, "z", 1), LDB_OK);
  assert_int_equal(ldb_changes_open(db, st.last_seq, NULL, &c), LDB_OK);
  assert_int_equal(ldb_changes_next(c, &ch), LDB_OK);
  assert_int_equal(ch.seq, st.last_seq + 1);
  ldb_changes_close(c);
  assert_int_equal(ldb_close(db), LDB_OK);
  tu_model_free(m);
  ldb_store_destroy(inner);
  return syncs;
}

static void test_power_loss(void **state) {
  (void)state;
  uint64_t seed = tu_seed("test_feed");
  const int modes[2] = {LDB_CRASH_DROP, LDB_CRASH_TEAR};
  const int syncs[3] = {LDB_SYNC_FULL, LDB_SYNC_NORMAL, LDB_SYNC_OFF};
  for (int sm = 0; sm < 3; sm++) {
    uint64_t total = crash_run(seed, syncs[sm], LDB_CRASH_DROP, 0);
    uint64_t step = total / tu_scale(40, 4, 8);
    if (!step) step = 1;
    for (int md = 0; md < 2; md++)
      for (uint64_t cut = 1; cut <= total; cut += step)
        crash_run(seed + cut, syncs[sm], modes[md], cut);
  }
}

/* A damaged byte in the seq of a retained log record (after a clean close:
 * the record is history, read only by the feed) is LDB_CORRUPT for a
 * reader of the feed, after every commit before it, every time. Before,
 * a high byte of the seq made the record look "appended, not yet
 * visible", and a reader waited for it forever. `high`: which seq byte. */
static void damaged_seq(int high) {
  char *dir = tu_tmpdir("feeddamage");
  ldb_options o;
  ldb_options_default(&o);
  ldb_db *db = NULL;
  assert_int_equal(ldb_open(dir, &o, &db), LDB_OK);
  for (int i = 0; i < 20; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%02d", i);
    tu_put_s(db, k, "value");
  }
  assert_int_equal(ldb_close(db), LDB_OK);

  /* The 10th record of feed-00.log: its offset and seq. */
  char path[600];
  snprintf(path, sizeof path, "%s/feed-00.log", dir);
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  uint8_t h[28];
  long off = 0;
  uint64_t seq = 0;
  for (int r = 0; r < 10; r++) {
    assert_int_equal(fseek(f, off, SEEK_SET), 0);
    assert_int_equal(fread(h, 1, sizeof h, f), sizeof h);
    uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
                   (uint32_t)h[3] << 24;
    seq = 0;
    for (int b = 7; b >= 0; b--)
      seq = seq << 8 | h[8 + b];
    if (r < 9) off += 28 + (long)len;
  }
  assert_true(seq > 1);
  long at = off + 8 + (high ? 5 : 0);
  assert_int_equal(fseek(f, at, SEEK_SET), 0);
  int byte = fgetc(f);
  assert_int_equal(fseek(f, at, SEEK_SET), 0);
  fputc(byte ^ 0x40, f);
  fclose(f);

  assert_int_equal(ldb_open(dir, &o, &db), LDB_OK);
  for (int pass = 0; pass < 2; pass++) {
    ldb_changes *c;
    ldb_change ch;
    assert_int_equal(ldb_changes_open(db, 0, NULL, &c), LDB_OK);
    uint64_t last = 0;
    int rc;
    if (pass == 0) {
      while ((rc = ldb_changes_next(c, &ch)) == LDB_OK)
        last = ch.seq;
    } else {
      uint8_t buf[4096];
      size_t count, used;
      while ((rc = ldb_changes_read(c, buf, sizeof buf, 1000, &count, &used)) ==
                 LDB_OK &&
             count)
        last = ldb_changes_seq(c);
    }
    if (rc != LDB_CORRUPT)
      fail_msg("pass %d (high=%d): the feed answered %s after seq %llu, not "
               "CORRUPT at seq %llu",
               pass, high, ldb_code_name(rc), (unsigned long long)last,
               (unsigned long long)seq);
    assert_int_equal(last, seq - 1);
    /* and again: the cursor stays at the damage */
    assert_int_equal(ldb_changes_next(c, &ch), LDB_CORRUPT);
    ldb_changes_close(c);
  }
  assert_int_equal(ldb_close(db), LDB_OK);
  tu_rmrf(dir);
  free(dir);
}

static void test_damaged_seq_high_byte(void **state) {
  (void)state;
  damaged_seq(1);
}

static void test_damaged_seq_low_byte(void **state) {
  (void)state;
  damaged_seq(0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_commits_in_order),
      cmocka_unit_test(test_ranges),
      cmocka_unit_test(test_retention_bytes),
      cmocka_unit_test(test_segment_left_after_sync),
      cmocka_unit_test(test_retention_age),
      cmocka_unit_test(test_resume_after_reopen),
      cmocka_unit_test(test_commit_hooks),
      cmocka_unit_test(test_wait_across_threads),
      cmocka_unit_test(test_disk_full),
      cmocka_unit_test(test_power_loss),
      cmocka_unit_test(test_damaged_seq_high_byte),
      cmocka_unit_test(test_damaged_seq_low_byte),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
