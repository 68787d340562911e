/*
 * test_kill_posix.c — a real process killed with SIGKILL mid-write, not a
 * simulated power cut (test_crash.c does those through the faulty store).
 *
 * A forked child opens a database in a directory (background checkpoint
 * thread, the mapping on, bounded or not, a small memtable so checkpoints
 * run all the time) and writes numbered batches: sorted appends past the
 * largest key (the memtable's unindexed tail, the B+tree's rightmost-leaf
 * finger), random puts and deletes over 20,000 keys with values from empty
 * to several overflow pages, single puts, and now and then a flush or an
 * explicit checkpoint. Every batch also writes the marker key "~seq" = its
 * number, so the database says which batch it holds last. Through shared
 * memory the child reports the batch it started and the last one
 * acknowledged (its ldb_write returned LDB_OK). The parent kills it at a
 * random moment (sometimes during its open, so during recovery), reopens,
 * and requires: ldb_check passes; the marker j is at least the last
 * acknowledged batch (a killed process loses nothing in either sync mode:
 * the log is written at commit) and at most the last started; and the
 * whole database equals the model after batches 1..j, exactly (nothing
 * partial, nothing extra). The same directory goes through many rounds, so
 * recovery also runs on databases that recovered before. In
 * test_kill_feed the child also runs a lagging change-feed reader over a
 * small log retention (segments rotate and their names come round while
 * the reader holds one: feed.c's held[]); after each kill the retained
 * feed must read back gapless, each record ending with its batch's
 * marker, up to the last commit.
 *
 * Replay a failure with LDB_SEED=<seed>. Posix only (fork, SIGKILL).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "helpers/testutil.h"
#include "lightningdb.h"

#define NRAND 20000

typedef struct shared {
  volatile uint64_t started; /* batch number the child began writing */
  volatile uint64_t acked;   /* last batch whose ldb_write returned OK */
  volatile int failed;       /* the child met an unexpected error */
  char msg[256];
} shared;

/* One operation of a batch. */
typedef struct wop {
  char key[24];
  size_t kl;
  int del;
  uint32_t vlen;
  uint64_t vseed;
} wop;

static void value_bytes(uint64_t seed, uint32_t len, uint8_t *v) {
  tu_rng r;
  tu_rng_init(&r, seed);
  if (seed & 1) {
    tu_fill(&r, v, len);
  } else {
    for (uint32_t i = 0; i < len; i++)
      v[i] = (uint8_t)('a' + i % 13);
    if (len >= 8) tu_fill(&r, v, 8);
  }
}

/* The operations of batch b (1-based) of a run with `seed`: deterministic,
 * so the parent regenerates what the child wrote. Returns the count. */
static size_t batch_ops(uint64_t seed, uint64_t b, wop *ops, size_t cap) {
  tu_rng r;
  tu_rng_init(&r, seed * 1000003u + b);
  size_t n = 0;
  uint64_t kind = tu_below(&r, 10);
  if (kind < 5) { /* sorted append: keys past every earlier append */
    size_t cnt = 1 + tu_below(&r, 150);
    for (size_t i = 0; i < cnt && n < cap; i++, n++) {
      wop *o = &ops[n];
      o->kl = (size_t)snprintf(o->key, sizeof o->key, "a%010llu",
                               (unsigned long long)(b * 1000 + i));
      o->del = 0;
      o->vlen = tu_chance(&r, 3) ? 3000 + (uint32_t)tu_below(&r, 20000)
                                 : (uint32_t)tu_below(&r, 120);
      o->vseed = tu_next(&r) | 1;
      if (tu_chance(&r, 50)) o->vseed &= ~1ull;
    }
  } else { /* random puts and deletes */
    size_t cnt = 1 + tu_below(&r, kind == 9 ? 1 : 60);
    for (size_t i = 0; i < cnt && n < cap; i++, n++) {
      wop *o = &ops[n];
      o->kl = (size_t)snprintf(o->key, sizeof o->key, "r%05u",
                               (unsigned)tu_below(&r, NRAND));
      o->del = tu_chance(&r, 20);
      o->vlen = tu_chance(&r, 5) ? 1000 + (uint32_t)tu_below(&r, 12000)
                                 : (uint32_t)tu_below(&r, 400);
      o->vseed = tu_next(&r);
    }
  }
  /* Deletes of earlier appends, so appended leaves change too. */
  if (b > 3 && tu_chance(&r, 20) && n < cap) {
    wop *o = &ops[n++];
    uint64_t ob = 1 + tu_below(&r, b - 1);
    o->kl = (size_t)snprintf(o->key, sizeof o->key, "a%010llu",
                             (unsigned long long)(ob * 1000));
    o->del = 1;
  }
  return n;
}

static void model_apply(tu_model *m, uint64_t seed, uint64_t b, wop *ops,
                        size_t cap, uint8_t *vbuf) {
  size_t n = batch_ops(seed, b, ops, cap);
  for (size_t i = 0; i < n; i++) {
    if (ops[i].del) {
      tu_model_del(m, ops[i].key, ops[i].kl);
    } else {
      value_bytes(ops[i].vseed, ops[i].vlen, vbuf);
      tu_model_put(m, ops[i].key, ops[i].kl, vbuf, ops[i].vlen);
    }
  }
  char mk[8];
  memcpy(mk, &b, 8);
  tu_model_put(m, "~seq", 4, mk, 8);
}

static void child_fail(shared *sh, const char *what, int rc) {
  snprintf(sh->msg, sizeof sh->msg, "%s: %s (%s)", what, ldb_code_name(rc),
           ldb_errmsg(NULL));
  sh->failed = 1;
  _exit(3);
}

/* 1: the child keeps a lagging change-feed reader running (a small log
 * retention, so segments rotate and their names come round while the
 * reader holds one), and the parent reads the retained feed back. */
static int g_feed;

#define FEED_RETAIN (256 * 1024)

/* The child's feed reader: reads the feed from its oldest retained
 * commit, lagging now and then, starting over on LDB_COMPACTED. */
static void *feed_reader(void *p) {
  ldb_db *db = p;
  tu_rng r;
  tu_rng_init(&r, (uint64_t)(uintptr_t)&r);
  for (;;) {
    ldb_stats st;
    ldb_changes *c = NULL;
    if (ldb_stats_get(db, &st) ||
        ldb_changes_open(db, st.log_retained_since, NULL, &c)) {
      tu_sleep_ms(1);
      continue;
    }
    ldb_change ch;
    int rc;
    while ((rc = ldb_changes_next(c, &ch)) == LDB_OK || rc == LDB_NOTFOUND) {
      if (rc == LDB_NOTFOUND) ldb_changes_wait(c, ldb_changes_seq(c), 10);
      if (tu_chance(&r, 2)) tu_sleep_ms((unsigned)tu_below(&r, 15));
    }
    ldb_changes_close(c);
  }
  return NULL;
}

/* The child: opens the database and writes batches from `from` on until
 * it is killed. Never returns. */
static void child(const char *dir, uint64_t seed, uint64_t from, int sync_mode,
                  int bounded, shared *sh) {
  static wop ops[512];
  static uint8_t vbuf[24000];
  ldb_options o;
  ldb_db *db = NULL;
  ldb_options_default(&o);
  o.sync_mode = sync_mode;
  o.memtable_size = 96 * 1024;
  o.cache_size = 64 * 1024;
  o.page_size = 1024;
  o.mmap_bounded = bounded;
  if (g_feed) o.log_retention_bytes = FEED_RETAIN;
  int rc = ldb_open(dir, &o, &db);
  if (rc) child_fail(sh, "open", rc);
  pthread_t th;
  if (g_feed && pthread_create(&th, NULL, feed_reader, db))
    child_fail(sh, "thread", LDB_NOMEM);
  tu_rng r;
  tu_rng_init(&r, seed ^ (from * 31));
  for (uint64_t b = from;; b++) {
    size_t n = batch_ops(seed, b, ops, 512);
    sh->started = b;
    ldb_batch *bt = NULL;
    if ((rc = ldb_batch_create(db, &bt))) child_fail(sh, "batch", rc);
    for (size_t i = 0; i < n; i++) {
      if (ops[i].del) {
        rc = ldb_batch_delete(bt, ops[i].key, ops[i].kl);
      } else {
        value_bytes(ops[i].vseed, ops[i].vlen, vbuf);
        rc = ldb_batch_put(bt, ops[i].key, ops[i].kl, vbuf, ops[i].vlen);
      }
      if (rc) child_fail(sh, "batch op", rc);
    }
    if ((rc = ldb_batch_put(bt, "~seq", 4, &b, 8))) child_fail(sh, "seq", rc);
    if ((rc = ldb_write(db, bt))) child_fail(sh, "write", rc);
    ldb_batch_destroy(bt);
    sh->acked = b;
    if (tu_chance(&r, 2) && (rc = ldb_flush(db))) child_fail(sh, "flush", rc);
    if (tu_chance(&r, 1) && (rc = ldb_checkpoint(db)))
      child_fail(sh, "checkpoint", rc);
  }
}

/* Reopens (recovery), checks, and reads the marker. */
static void verify(const char *dir, uint64_t *seq_out) {
  ldb_db *db = NULL;
  ldb_options o;
  ldb_options_default(&o);
  if (g_feed) o.log_retention_bytes = FEED_RETAIN;
  int rc = ldb_open(dir, &o, &db);
  if (rc)
    fail_msg("reopen after kill: %s (%s)", ldb_code_name(rc), ldb_errmsg(NULL));
  rc = ldb_check(db);
  if (rc) fail_msg("ldb_check after kill: %s", ldb_errmsg(NULL));
  void *v = NULL;
  size_t vl = 0;
  uint64_t seq = 0;
  rc = ldb_get(db, "~seq", 4, &v, &vl);
  if (rc == LDB_OK) {
    assert_int_equal(vl, 8);
    memcpy(&seq, v, 8);
  } else {
    assert_int_equal(rc, LDB_NOTFOUND);
  }
  ldb_free(db, v);
  *seq_out = seq;
  if (g_feed) { /* the retained feed: gapless, ending at batch seq */
    ldb_stats st;
    ldb_changes *c = NULL;
    assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
    rc = ldb_changes_open(db, st.log_retained_since, NULL, &c);
    if (rc)
      fail_msg("feed after kill: %s (%s)", ldb_code_name(rc), ldb_errmsg(NULL));
    uint64_t prev = st.log_retained_since, prev_b = 0;
    ldb_change ch;
    while ((rc = ldb_changes_next(c, &ch)) == LDB_OK) {
      if (ch.seq != prev + 1)
        fail_msg("feed after kill: seq %llu after %llu",
                 (unsigned long long)ch.seq, (unsigned long long)prev);
      const ldb_change_op *mk = &ch.ops[ch.op_count - 1];
      uint64_t b = 0;
      if (mk->key_len != 4 || memcmp(mk->key, "~seq", 4) || mk->value_len != 8)
        fail_msg("feed after kill: seq %llu does not end with the marker",
                 (unsigned long long)ch.seq);
      memcpy(&b, mk->value, 8);
      if (prev_b && b != prev_b + 1)
        fail_msg("feed after kill: batch %llu after %llu",
                 (unsigned long long)b, (unsigned long long)prev_b);
      prev = ch.seq;
      prev_b = b;
    }
    if (rc != LDB_NOTFOUND)
      fail_msg("feed after kill: %s (%s)", ldb_code_name(rc), ldb_errmsg(NULL));
    if (prev != st.last_seq || (prev_b && prev_b != seq))
      fail_msg("feed after kill ends at seq %llu (batch %llu); last seq %llu, "
               "batch %llu",
               (unsigned long long)prev, (unsigned long long)prev_b,
               (unsigned long long)st.last_seq, (unsigned long long)seq);
    ldb_changes_close(c);
  }
  assert_int_equal(ldb_close(db), LDB_OK);
}

/* Reads the whole database and compares it with the model. */
static void compare(const char *dir, const tu_model *m) {
  ldb_db *db = NULL;
  ldb_iter *it = NULL;
  assert_int_equal(ldb_open(dir, NULL, &db), LDB_OK);
  assert_int_equal(ldb_iter_create(db, NULL, NULL, &it), LDB_OK);
  size_t i = 0, n = tu_model_count(m);
  int rc;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it), i++) {
    const void *k, *v, *mk, *mv;
    size_t kl, vl, mkl, mvl;
    assert_int_equal(ldb_iter_key(it, &k, &kl), LDB_OK);
    assert_int_equal(ldb_iter_value(it, &v, &vl), LDB_OK);
    if (i >= n)
      fail_msg("extra key %.*s after the model's last", (int)kl,
               (const char *)k);
    tu_model_at(m, i, &mk, &mkl, &mv, &mvl);
    if (kl != mkl || memcmp(k, mk, kl))
      fail_msg("key %zu: database has %.*s, model %.*s", i, (int)kl,
               (const char *)k, (int)mkl, (const char *)mk);
    if (vl != mvl || memcmp(v, mv, vl))
      fail_msg("value of %.*s differs (%zu bytes, model %zu)", (int)kl,
               (const char *)k, vl, mvl);
  }
  assert_int_equal(rc, LDB_NOTFOUND);
  if (i != n) fail_msg("database has %zu keys, model %zu", i, n);
  ldb_iter_destroy(it);
  assert_int_equal(ldb_close(db), LDB_OK);
}

static void run(const char *tag, int sync_mode) {
  uint64_t seed = tu_seed(tag);
  tu_rng r;
  tu_rng_init(&r, seed);
  char *dir = tu_tmpdir(tag);
  shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(sh != MAP_FAILED);
  static wop ops[512];
  static uint8_t vbuf[24000];
  tu_model *m = tu_model_new();
  uint64_t applied = 0; /* the model holds batches 1..applied */
  uint64_t rounds = tu_scale(24, 4, 6);
  for (uint64_t round = 0; round < rounds; round++) {
    memset(sh, 0, sizeof *sh);
    sh->acked = applied;
    int bounded = (int)tu_below(&r, 2);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) child(dir, seed, applied + 1, sync_mode, bounded, sh);
    /* Kill during open now and then, else after some batches. */
    unsigned wait_ms = tu_chance(&r, 15) ? (unsigned)tu_below(&r, 5)
                                         : 20 + (unsigned)tu_below(&r, 250);
    tu_sleep_ms(wait_ms);
    kill(pid, SIGKILL);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (sh->failed)
      fail_msg("round %llu: child: %s", (unsigned long long)round, sh->msg);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    uint64_t acked = sh->acked, started = sh->started, seq = 0;
    verify(dir, &seq);
    if (seq < acked)
      fail_msg("round %llu (seed %llu): batch %llu was acknowledged, the "
               "database holds only up to %llu",
               (unsigned long long)round, (unsigned long long)seed,
               (unsigned long long)acked, (unsigned long long)seq);
    if (seq < applied || (seq > applied && seq > started))
      fail_msg("round %llu: database holds batch %llu, started %llu, before "
               "%llu",
               (unsigned long long)round, (unsigned long long)seq,
               (unsigned long long)started, (unsigned long long)applied);
    for (uint64_t b = applied + 1; b <= seq; b++)
      model_apply(m, seed, b, ops, 512, vbuf);
    applied = seq;
    compare(dir, m);
  }
  printf("%s: %llu rounds, %llu batches, %zu keys\n", tag,
         (unsigned long long)rounds, (unsigned long long)applied,
         tu_model_count(m));
  tu_model_free(m);
  munmap(sh, sizeof *sh);
  tu_rmrf(dir);
  free(dir);
}

static void test_kill_full(void **state) {
  (void)state;
  run("kill_full", LDB_SYNC_FULL);
}

static void test_kill_feed(void **state) {
  (void)state;
  g_feed = 1;
  run("kill_feed", LDB_SYNC_NORMAL);
  g_feed = 0;
}

static void test_kill_normal(void **state) {
  (void)state;
  run("kill_normal", LDB_SYNC_NORMAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kill_full),
      cmocka_unit_test(test_kill_normal),
      cmocka_unit_test(test_kill_feed),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
