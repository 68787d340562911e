/*
 * test_feed_model.c — the change feed read by a lagging reader thread
 * while the writer rotates the log through its 16 segment names many
 * times (the smallest retention, checkpoints all the time), checked
 * against what each commit wrote.
 *
 * Every commit c writes a marker "~c" = c and ops generated from c alone
 * (puts of values from empty to several KiB, deletes), so the reader
 * knows from a record what it must hold. The reader (sometimes sleeping,
 * so that it lags behind and retention drops its position) must see:
 * sequence numbers without gaps, commit numbers without gaps, each record
 * exactly the ops its commit wrote; or LDB_COMPACTED, after which it
 * reopens at the oldest retained seq. Never a wrong record, never a
 * record skipped without LDB_COMPACTED. After the writer stops, a reopen
 * of the database serves the whole retained feed the same way, and a
 * cursor on another handle, opened while the writer ran, too.
 *
 * Directory store and memory store. Replay with LDB_SEED=<seed>.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/testutil.h"
#include "lightningdb.h"

#define MAXOPS 24

typedef struct gop {
  int del;
  char key[16];
  size_t kl;
  size_t vl;
  uint64_t vseed;
} gop;

/* The ops of commit c (the marker not included); later ops on a key
 * replace earlier ones in a batch, so keys are distinct here. */
static size_t commit_ops(uint64_t c, gop *o) {
  uint64_t h = tu_mix(c * 7 + 1);
  size_t n = 1 + h % MAXOPS;
  uint64_t base = tu_mix(h) % 5000;
  for (size_t i = 0; i < n; i++) {
    uint64_t x = tu_mix(h + i);
    o[i].del = x % 6 == 0;
    o[i].kl = (size_t)snprintf(o[i].key, sizeof o[i].key, "k%06llu",
                               (unsigned long long)((base + i * 3) % 100000));
    o[i].vl = x % 17 == 0 ? 2000 + (x >> 8) % 9000 : (x >> 8) % 300;
    o[i].vseed = x;
  }
  return n;
}

static void fill(uint64_t seed, size_t len, uint8_t *v) {
  uint64_t x = seed;
  for (size_t j = 0; j < len; j++) {
    if (j % 8 == 0) x = tu_mix(x + j);
    v[j] = (uint8_t)(x >> (j % 8 * 8));
  }
}

typedef struct shared {
  ldb_db *db;
  _Atomic int stop;
  _Atomic int failed;
  char msg[400];
  pthread_mutex_t mu;
  uint64_t first_seq; /* seq of commit 1 */
  uint64_t records, compacted;
} shared;

static void fail_at(shared *s, const char *fmt, ...) {
  pthread_mutex_lock(&s->mu);
  if (!atomic_load(&s->failed)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    atomic_store(&s->failed, 1);
  }
  pthread_mutex_unlock(&s->mu);
}

/* Checks one record; returns its commit number, 0 on a mismatch. */
static uint64_t check_record(shared *s, const ldb_change *ch) {
  static _Thread_local gop ops[MAXOPS];
  static _Thread_local uint8_t want[12000];
  if (ch->op_count < 2) {
    fail_at(s, "seq %llu: %zu ops", (unsigned long long)ch->seq, ch->op_count);
    return 0;
  }
  const ldb_change_op *mk = &ch->ops[ch->op_count - 1];
  uint64_t c = 0;
  if (mk->key_len != 1 || memcmp(mk->key, "~", 1) || mk->value_len != 8) {
    fail_at(s, "seq %llu: the last op is not the marker",
            (unsigned long long)ch->seq);
    return 0;
  }
  memcpy(&c, mk->value, 8);
  size_t n = commit_ops(c, ops);
  if (ch->op_count != n + 1) {
    fail_at(s, "seq %llu (commit %llu): %zu ops, wrote %zu",
            (unsigned long long)ch->seq, (unsigned long long)c, ch->op_count,
            n + 1);
    return 0;
  }
  for (size_t i = 0; i < n; i++) {
    const ldb_change_op *op = &ch->ops[i];
    int bad =
        op->key_len != ops[i].kl || memcmp(op->key, ops[i].key, ops[i].kl);
    if (ops[i].del) {
      bad |= op->type != LDB_CHANGE_DEL;
    } else {
      fill(ops[i].vseed, ops[i].vl, want);
      bad |= op->type != LDB_CHANGE_PUT || op->value_len != ops[i].vl ||
             memcmp(op->value, want, ops[i].vl);
    }
    if (bad) {
      fail_at(s, "seq %llu (commit %llu): op %zu differs from what was written",
              (unsigned long long)ch->seq, (unsigned long long)c, i);
      return 0;
    }
  }
  return c;
}

/* Reads the feed from `since` to the end (or until stop); checks every
 * record and the numbering. Returns the last seq read. */
static uint64_t read_feed(shared *s, ldb_db *db, uint64_t since, int lag,
                          tu_rng *r, int until_stop) {
  ldb_changes *cur = NULL;
  uint64_t prev_seq = since, prev_c = 0;
  int rc = ldb_changes_open(db, since, NULL, &cur);
  for (;;) {
    if (rc == LDB_COMPACTED) {
      s->compacted++;
      ldb_changes_close(cur);
      cur = NULL;
      ldb_stats st;
      assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
      prev_seq = st.log_retained_since;
      prev_c = 0;
      rc = ldb_changes_open(db, prev_seq, NULL, &cur);
      continue;
    }
    if (rc != LDB_OK) {
      fail_at(s, "changes_open/next: %s (%s)", ldb_code_name(rc),
              ldb_errmsg(NULL));
      break;
    }
    ldb_change ch;
    rc = ldb_changes_next(cur, &ch);
    if (rc == LDB_NOTFOUND) {
      if (!until_stop || atomic_load(&s->stop) || atomic_load(&s->failed))
        break;
      ldb_changes_wait(cur, prev_seq, 20);
      rc = LDB_OK;
      continue;
    }
    if (rc != LDB_OK) continue;
    if (ch.seq != prev_seq + 1) {
      fail_at(s, "feed: seq %llu after %llu", (unsigned long long)ch.seq,
              (unsigned long long)prev_seq);
      break;
    }
    uint64_t c = check_record(s, &ch);
    if (!c) break;
    if (prev_c && c != prev_c + 1) {
      fail_at(s, "feed: commit %llu after %llu (seq %llu)",
              (unsigned long long)c, (unsigned long long)prev_c,
              (unsigned long long)ch.seq);
      break;
    }
    prev_seq = ch.seq;
    prev_c = c;
    s->records++;
    if (lag && tu_chance(r, 1)) tu_sleep_ms((unsigned)tu_below(r, 30));
  }
  ldb_changes_close(cur);
  return prev_seq;
}

static void *reader(void *p) {
  shared *s = p;
  tu_rng r;
  tu_rng_init(&r, (uint64_t)(uintptr_t)&r);
  read_feed(s, s->db, 0, 1, &r, 1);
  return NULL;
}

static void open_db(ldb_store *st, ldb_db **db) {
  ldb_options o;
  ldb_options_default(&o);
  o.store = st;
  o.sync_mode = LDB_SYNC_OFF;
  o.page_size = 1024;
  o.memtable_size = 128 * 1024;
  o.log_retention_bytes = 512 * 1024; /* segments of 64 KiB */
  assert_int_equal(ldb_open("feed", &o, db), LDB_OK);
}

static void run(const char *tag, int posix) {
  uint64_t seed = tu_seed(tag);
  tu_rng r;
  tu_rng_init(&r, seed);
  ldb_store *st = NULL;
  char *dir = tu_tmpdir(tag);
  if (posix)
    assert_int_equal(tu_store_dir(dir, 1, &st), LDB_OK);
  else
    assert_int_equal(ldb_store_memory(&st), LDB_OK);
  shared s;
  memset(&s, 0, sizeof s);
  pthread_mutex_init(&s.mu, NULL);
  open_db(st, &s.db);
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, reader, &s), 0);
  static gop ops[MAXOPS];
  static uint8_t v[12000];
  uint64_t commits = tu_scale(2500, 8, 300);
  ldb_batch *b = NULL;
  assert_int_equal(ldb_batch_create(s.db, &b), LDB_OK);
  for (uint64_t c = 1; c <= commits && !atomic_load(&s.failed); c++) {
    ldb_batch_clear(b);
    size_t n = commit_ops(c, ops);
    for (size_t i = 0; i < n; i++) {
      if (ops[i].del) {
        assert_int_equal(ldb_batch_delete(b, ops[i].key, ops[i].kl), LDB_OK);
      } else {
        fill(ops[i].vseed, ops[i].vl, v);
        assert_int_equal(ldb_batch_put(b, ops[i].key, ops[i].kl, v, ops[i].vl),
                         LDB_OK);
      }
    }
    assert_int_equal(ldb_batch_put(b, "~", 1, &c, 8), LDB_OK);
    assert_int_equal(ldb_write(s.db, b), LDB_OK);
    if (tu_chance(&r, 3)) assert_int_equal(ldb_checkpoint(s.db), LDB_OK);
  }
  ldb_batch_destroy(b);
  atomic_store(&s.stop, 1);
  pthread_join(th, NULL);
  if (atomic_load(&s.failed))
    fail_msg("%s (seed %llu): %s", tag, (unsigned long long)seed, s.msg);
  uint64_t live = s.records;
  /* After a reopen: the retained feed from its start to the end. */
  assert_int_equal(ldb_close(s.db), LDB_OK);
  open_db(st, &s.db);
  ldb_stats sts;
  assert_int_equal(ldb_stats_get(s.db, &sts), LDB_OK);
  s.records = 0;
  uint64_t last = read_feed(&s, s.db, sts.log_retained_since, 0, &r, 0);
  if (atomic_load(&s.failed))
    fail_msg("%s after reopen (seed %llu): %s", tag, (unsigned long long)seed,
             s.msg);
  assert_int_equal(last, sts.last_seq);
  assert_int_equal(ldb_check(s.db), LDB_OK);
  printf("%s: %llu commits; the live reader read %llu records (%llu times "
         "compacted), after reopen %llu retained\n",
         tag, (unsigned long long)commits, (unsigned long long)live,
         (unsigned long long)s.compacted, (unsigned long long)s.records);
  assert_int_equal(ldb_close(s.db), LDB_OK);
  ldb_store_destroy(st);
  tu_rmrf(dir);
  free(dir);
  pthread_mutex_destroy(&s.mu);
}

static void test_feed_posix(void **state) {
  (void)state;
  run("feed_model_dir", 1);
}

static void test_feed_memory(void **state) {
  (void)state;
  run("feed_model_mem", 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_feed_posix),
      cmocka_unit_test(test_feed_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
