/*
 * test_txn.c — transactions: snapshot isolation, read-your-writes,
 * optimistic conflicts (read-write and write-write, across checkpoints),
 * read-only transactions, abort, limits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "helpers/testutil.h"
#include "lightningdb.h"

typedef struct fx {
  ldb_store *s;
  ldb_db *db;
} fx;

static int setup_opts(void **st, int bg, uint32_t max_txns) {
  fx *f = calloc(1, sizeof *f);
  if (ldb_store_memory(&f->s)) return -1;
  ldb_options o;
  ldb_options_default(&o);
  o.store = f->s;
  o.sync_mode = LDB_SYNC_OFF;
  o.background_checkpoint = bg;
  o.max_active_txns = max_txns;
  if (ldb_open("txn", &o, &f->db)) return -1;
  *st = f;
  return 0;
}
static int setup(void **st) {
  return setup_opts(st, 1, 10000);
}
static int setup_small(void **st) {
  return setup_opts(st, 0, 3);
}

static int teardown(void **st) {
  fx *f = *st;
  int rc = ldb_close(f->db);
  ldb_store_destroy(f->s);
  free(f);
  return rc;
}

static void tget(ldb_txn *t, const char *k, const char *v) {
  void *val;
  size_t n;
  int rc = ldb_txn_get(t, k, strlen(k), &val, &n);
  if (!v) {
    assert_int_equal(rc, LDB_NOTFOUND);
    return;
  }
  assert_int_equal(rc, LDB_OK);
  assert_int_equal(n, strlen(v));
  assert_memory_equal(val, v, n);
  free(val); /* default allocator */
}

static void test_isolation(void **st) {
  fx *f = *st;
  tu_put_s(f->db, "a", "1");
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(f->db, LDB_TXN_READONLY, &t), LDB_OK);
  uint64_t seq = ldb_txn_snapshot_seq(t);
  tu_put_s(f->db, "a", "2");
  tu_put_s(f->db, "b", "new");
  assert_int_equal(ldb_delete(f->db, "a", 1), LDB_OK);
  tget(t, "a", "1");
  tget(t, "b", NULL);
  /* across a checkpoint, the snapshot still reads its own version */
  assert_int_equal(ldb_checkpoint(f->db), LDB_OK);
  tget(t, "a", "1");
  tget(t, "b", NULL);
  char buf[8];
  size_t n;
  assert_int_equal(ldb_txn_get_buf(t, "a", 1, buf, sizeof buf, &n), LDB_OK);
  assert_int_equal(n, 1);
  assert_int_equal(buf[0], '1');
  assert_int_equal(ldb_txn_snapshot_seq(t), seq);
  assert_int_equal(ldb_txn_put(t, "x", 1, "y", 1), LDB_READONLY);
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  tu_expect_s(f->db, "a", NULL);
  tu_expect_s(f->db, "b", "new");
}

static void test_read_your_writes(void **st) {
  fx *f = *st;
  tu_put_s(f->db, "k1", "old");
  tu_put_s(f->db, "k2", "old2");
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "k1", 2, "new", 3), LDB_OK);
  assert_int_equal(ldb_txn_delete(t, "k2", 2), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "k3", 2, "v3", 2), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "k3", 2, "v3b", 3), LDB_OK);
  tget(t, "k1", "new");
  tget(t, "k2", NULL);
  tget(t, "k3", "v3b");
  /* not visible outside before commit */
  tu_expect_s(f->db, "k1", "old");
  tu_expect_s(f->db, "k3", NULL);
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  tu_expect_s(f->db, "k1", "new");
  tu_expect_s(f->db, "k2", NULL);
  tu_expect_s(f->db, "k3", "v3b");
}

/* Runs one conflict on key (klen bytes): read by a transaction (or
 * written, when `write`), then committed by another; returns the message.
 * The read case's transaction writes the key ffff, which sorts after every
 * key it reads here, so the read key is the conflict reported. */
static const char *conflict_message(ldb_db *db, const void *key, size_t klen,
                                    int write) {
  ldb_txn *t;
  assert_int_equal(ldb_put(db, key, klen, "0", 1), LDB_OK);
  assert_int_equal(ldb_txn_begin(db, 0, &t), LDB_OK);
  if (write) {
    assert_int_equal(ldb_txn_put(t, key, klen, "2", 1), LDB_OK);
  } else {
    char v[4];
    size_t vl;
    assert_int_equal(ldb_txn_get_buf(t, key, klen, v, sizeof v, &vl), LDB_OK);
    /* A transaction that writes nothing commits without a check. */
    assert_int_equal(ldb_txn_put(t, "\xff\xff", 2, "w", 1), LDB_OK);
  }
  assert_int_equal(ldb_put(db, key, klen, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t), LDB_CONFLICT);
  return ldb_errmsg(db);
}

/* The conflict message shows the key as text when it is printable UTF-8
 * (quoted, cut at 48 bytes on a character boundary), in hexadecimal
 * otherwise, saying which; long keys give their length. */
static void test_conflict_message_shows_key(void **st) {
  fx *f = *st;
  static const char tail[] = "was committed by another transaction after "
                             "its snapshot; retry";
  char big[300], want[512];
  memset(big, 'x', sizeof big);
  static const struct {
    const char *key;
    size_t len;
    int write;
    const char *shown;
  } cases[] = {
      {"c", 1, 0, "\"c\", read"},
      {"user:1", 6, 1, "\"user:1\", written"},
      {"", 0, 0, "\"\", read"},
      {"say \"hi\" \\o/", 12, 0, "\"say \\\"hi\\\" \\\\o/\", read"},
      {"caf\xc3\xa9 \xe2\x9c\x93", 9, 0, "\"caf\xc3\xa9 \xe2\x9c\x93\", read"},
      {"\x00\x01\xff", 3, 0, "0001ff (hex), read"},
      {"tab\there", 8, 1, "7461620968657265 (hex), written"},
      {"\xc3\x28", 2, 0, "c328 (hex), read"},       /* invalid UTF-8 */
      {"\xed\xa0\x80", 3, 0, "eda080 (hex), read"}, /* a surrogate */
      {"\xc2\x85", 2, 0, "c285 (hex), read"},       /* C1 control */
      {"\xc0\xaf", 2, 0, "c0af (hex), read"},       /* overlong */
      {"del\x7f", 4, 0, "64656c7f (hex), read"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const char *m =
        conflict_message(f->db, cases[i].key, cases[i].len, cases[i].write);
    snprintf(want, sizeof want,
             "transaction conflict: key %s by this "
             "transaction, %s",
             cases[i].shown, tail);
    if (strcmp(m, want))
      fail_msg("case %zu: \"%s\", expected \"%s\"", i, m, want);
  }
  /* Long text: 48 bytes shown, whole characters only (a 2-byte character
   * straddling byte 48 is left out), then the length. */
  const char *m = conflict_message(f->db, big, sizeof big, 0);
  snprintf(want, sizeof want,
           "transaction conflict: key \"%.48s\"... (300 "
           "bytes), read by this transaction, %s",
           big, tail);
  assert_string_equal(m, want);
  memcpy(big + 47, "\xc3\xa9", 2);
  m = conflict_message(f->db, big, 100, 0);
  snprintf(want, sizeof want,
           "transaction conflict: key \"%.47s\"... (100 "
           "bytes), read by this transaction, %s",
           big, tail);
  assert_string_equal(m, want);
  /* Long binary: 24 bytes in hex, then the length. */
  uint8_t bin[40];
  for (size_t i = 0; i < sizeof bin; i++)
    bin[i] = (uint8_t)(0xf0 + i % 16);
  m = conflict_message(f->db, bin, sizeof bin, 1);
  assert_string_equal(m, "transaction conflict: key "
                         "f0f1f2f3f4f5f6f7f8f9fafbfcfdfefff0f1f2f3f4f5f6f7... "
                         "(hex, 40 bytes), written by this transaction, "
                         "was committed by another transaction after its "
                         "snapshot; retry");
}

static void test_conflict_read_write(void **st) {
  fx *f = *st;
  tu_put_s(f->db, "counter", "0");
  ldb_txn *t1, *t2;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t1), LDB_OK);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t2), LDB_OK);
  tget(t1, "counter", "0");
  tget(t2, "counter", "0");
  assert_int_equal(ldb_txn_put(t1, "counter", 7, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(t2, "counter", 7, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(t2, "other", 5, "x", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t2), LDB_CONFLICT);
  assert_non_null(strstr(ldb_errmsg(NULL), "conflict"));
  tu_expect_s(f->db, "other", NULL); /* nothing of t2 applied */
  ldb_stats s;
  assert_int_equal(ldb_stats_get(f->db, &s), LDB_OK);
  assert_int_equal(s.conflicts, 1);

  /* a read alone conflicts with a later commit of that key */
  assert_int_equal(ldb_txn_begin(f->db, 0, &t1), LDB_OK);
  tget(t1, "counter", "1");
  tu_put_s(f->db, "counter", "5");
  assert_int_equal(ldb_txn_put(t1, "elsewhere", 9, "z", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t1), LDB_CONFLICT);
  tu_expect_s(f->db, "elsewhere", NULL);

  /* a key read through an iterator conflicts too */
  assert_int_equal(ldb_txn_begin(f->db, 0, &t1), LDB_OK);
  ldb_iter *it;
  assert_int_equal(ldb_iter_create(f->db, t1, NULL, &it), LDB_OK);
  assert_int_equal(ldb_iter_seek(it, "counter", 7), LDB_OK);
  ldb_iter_destroy(it);
  tu_put_s(f->db, "counter", "6");
  assert_int_equal(ldb_txn_put(t1, "elsewhere", 9, "z", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t1), LDB_CONFLICT);
}

static void test_conflict_write_write(void **st) {
  fx *f = *st;
  ldb_txn *t1, *t2;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t1), LDB_OK);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t2), LDB_OK);
  assert_int_equal(ldb_txn_put(t1, "w", 1, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(t2, "w", 1, "2", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t2), LDB_OK);
  assert_int_equal(ldb_txn_commit(t1), LDB_CONFLICT);
  tu_expect_s(f->db, "w", "2");
  /* disjoint keys never conflict */
  assert_int_equal(ldb_txn_begin(f->db, 0, &t1), LDB_OK);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t2), LDB_OK);
  tget(t1, "d1", NULL);
  assert_int_equal(ldb_txn_put(t1, "d1", 2, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(t2, "d2", 2, "2", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t2), LDB_OK);
  assert_int_equal(ldb_txn_commit(t1), LDB_OK);
  tu_expect_s(f->db, "d1", "1");
  tu_expect_s(f->db, "d2", "2");
}

static void test_conflict_across_checkpoint(void **st) {
  fx *f = *st;
  tu_put_s(f->db, "c", "0");
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  tget(t, "c", "0");
  tu_put_s(f->db, "c", "1");
  /* the competing commit moves into the tree and two more memtables pass */
  assert_int_equal(ldb_checkpoint(f->db), LDB_OK);
  tu_put_s(f->db, "filler", "x");
  assert_int_equal(ldb_checkpoint(f->db), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "c", 1, "2", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(t), LDB_CONFLICT);
  tu_expect_s(f->db, "c", "1");
}

static void test_abort_and_empty(void **st) {
  fx *f = *st;
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "ab", 2, "x", 1), LDB_OK);
  ldb_txn_abort(t);
  tu_expect_s(f->db, "ab", NULL);
  ldb_txn_abort(NULL);
  ldb_stats s0, s1;
  assert_int_equal(ldb_stats_get(f->db, &s0), LDB_OK);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_commit(t), LDB_OK); /* nothing to apply */
  assert_int_equal(ldb_stats_get(f->db, &s1), LDB_OK);
  assert_int_equal(s1.last_seq, s0.last_seq);
  assert_int_equal(ldb_txn_begin(f->db, 0x80, &t), LDB_INVALID);
  assert_int_equal(ldb_txn_put(NULL, "a", 1, "b", 1), LDB_INVALID);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_put(t, NULL, 1, "b", 1), LDB_INVALID);
  /* Closing never refuses: the open transaction is invalidated, answers
   * LDB_CLOSED, and ldb_txn_abort still frees it. */
  assert_int_equal(ldb_close(f->db), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "a", 1, "b", 1), LDB_CLOSED);
  ldb_txn_abort(t);
  ldb_options o;
  ldb_options_default(&o);
  o.store = f->s;
  assert_int_equal(ldb_open("txn", &o, &f->db), LDB_OK); /* for teardown */
  tu_expect_s(f->db, "ab", NULL);
}

static void test_many_writes(void **st) {
  fx *f = *st;
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(f->db, 0, &t), LDB_OK);
  char k[32], v[32];
  for (int i = 0; i < 20000; i++) {
    snprintf(k, sizeof k, "m%06d", i % 5000);
    snprintf(v, sizeof v, "%d", i);
    assert_int_equal(ldb_txn_put(t, k, strlen(k), v, strlen(v)), LDB_OK);
  }
  assert_int_equal(ldb_txn_commit(t), LDB_OK);
  for (int i = 0; i < 5000; i += 333) {
    snprintf(k, sizeof k, "m%06d", i);
    snprintf(v, sizeof v, "%d", i + 15000);
    tu_expect_s(f->db, k, v);
  }
}

static void test_limit(void **st) {
  fx *f = *st;
  ldb_txn *t[4];
  for (int i = 0; i < 3; i++)
    assert_int_equal(ldb_txn_begin(f->db, LDB_TXN_READONLY, &t[i]), LDB_OK);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t[3]), LDB_BUSY);
  ldb_txn_abort(t[0]);
  assert_int_equal(ldb_txn_begin(f->db, 0, &t[3]), LDB_OK);
  for (int i = 1; i < 4; i++)
    ldb_txn_abort(t[i]);
}

/* ---- bank: concurrent transfers keep the total; snapshots always see it - */

#define ACCTS 16
#define START 1000

typedef struct bank {
  ldb_db *db;
  int id, iters;
  _Atomic int *stop;
  int bad;
  long commits, conflicts;
} bank;

static void acct_key(int i, char *k) {
  snprintf(k, 16, "acct%03d", i);
}

static int read_bal(ldb_txn *t, int i, long *bal) {
  char k[16], buf[32];
  size_t n;
  acct_key(i, k);
  int rc = ldb_txn_get_buf(t, k, strlen(k), buf, sizeof buf - 1, &n);
  if (rc) return rc;
  buf[n < sizeof buf - 1 ? n : sizeof buf - 1] = 0;
  *bal = strtol(buf, NULL, 10);
  return LDB_OK;
}

static int write_bal(ldb_txn *t, int i, long bal) {
  char k[16], v[32];
  acct_key(i, k);
  snprintf(v, sizeof v, "%ld", bal);
  return ldb_txn_put(t, k, strlen(k), v, strlen(v));
}

static void *transfer_thread(void *p) {
  bank *b = p;
  uint64_t x = 0x1234567ull * (uint64_t)(b->id + 1);
  for (int it = 0; it < b->iters; it++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    int from = (int)(x % ACCTS), to = (int)((x >> 20) % ACCTS);
    if (from == to) continue;
    long amount = (long)((x >> 40) % 50);
    ldb_txn *t;
    if (ldb_txn_begin(b->db, 0, &t)) {
      b->bad = 1;
      break;
    }
    long fb, tb;
    int err = read_bal(t, from, &fb) || read_bal(t, to, &tb);
    if (it % 4 == 0) sched_yield(); /* let others commit in between */
    if (err || write_bal(t, from, fb - amount) ||
        write_bal(t, to, tb + amount)) {
      ldb_txn_abort(t);
      b->bad = 2;
      break;
    }
    int rc = ldb_txn_commit(t);
    if (rc == LDB_OK)
      b->commits++;
    else if (rc == LDB_CONFLICT)
      b->conflicts++;
    else {
      b->bad = 3;
      break;
    }
  }
  return NULL;
}

static void *audit_thread(void *p) {
  bank *b = p;
  while (!*b->stop) {
    ldb_txn *t;
    if (ldb_txn_begin(b->db, LDB_TXN_READONLY, &t)) {
      b->bad = 4;
      break;
    }
    long sum = 0, bal;
    for (int i = 0; i < ACCTS; i++) {
      if (read_bal(t, i, &bal)) {
        b->bad = 5;
        break;
      }
      sum += bal;
    }
    /* and the same through an iterator of the same snapshot */
    ldb_iter *it;
    long isum = 0;
    int n = 0;
    if (ldb_iter_create(b->db, t, NULL, &it) == LDB_OK) {
      for (int rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
        const void *v;
        size_t vl;
        char buf[32];
        ldb_iter_value(it, &v, &vl);
        memcpy(buf, v, vl < 31 ? vl : 31);
        buf[vl < 31 ? vl : 31] = 0;
        isum += strtol(buf, NULL, 10);
        n++;
      }
      ldb_iter_destroy(it);
    }
    ldb_txn_commit(t);
    if (sum != (long)ACCTS * START || isum != sum || n != ACCTS) {
      fprintf(stderr, "audit: sum %ld iter sum %ld over %d accounts\n", sum,
              isum, n);
      b->bad = 6;
      break;
    }
    b->commits++;
  }
  return NULL;
}

static void run_bank(int bg, int sync) {
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = s;
  o.sync_mode = sync;
  o.background_checkpoint = bg;
  o.memtable_size = 16 << 10; /* many checkpoints during the run */
  ldb_db *db;
  assert_int_equal(ldb_open("bank", &o, &db), LDB_OK);
  ldb_batch *batch;
  assert_int_equal(ldb_batch_create(db, &batch), LDB_OK);
  for (int i = 0; i < ACCTS; i++) {
    char k[16], v[16];
    acct_key(i, k);
    snprintf(v, sizeof v, "%d", START);
    assert_int_equal(ldb_batch_put(batch, k, strlen(k), v, strlen(v)), LDB_OK);
  }
  assert_int_equal(ldb_write(db, batch), LDB_OK);
  ldb_batch_destroy(batch);
  const char *q = getenv("LDB_TEST_QUICK");
  int iters = q && *q == '1' ? 300 : 2000;
  _Atomic int stop = 0;
  bank w[3], a = {db, 9, 0, &stop, 0, 0, 0};
  pthread_t th[4];
  for (int i = 0; i < 3; i++) {
    w[i] = (bank){db, i, iters, &stop, 0, 0, 0};
    pthread_create(&th[i], NULL, transfer_thread, &w[i]);
  }
  pthread_create(&th[3], NULL, audit_thread, &a);
  long commits = 0, conflicts = 0;
  for (int i = 0; i < 3; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(w[i].bad, 0);
    commits += w[i].commits;
    conflicts += w[i].conflicts;
  }
  stop = 1;
  pthread_join(th[3], NULL);
  assert_int_equal(a.bad, 0);
  assert_true(commits > 0);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(db, &st), LDB_OK);
  assert_int_equal(st.conflicts, (uint64_t)conflicts);
  assert_true(st.checkpoints > 0);
  printf("bank bg=%d sync=%d: %ld commits, %ld conflicts, %ld audits, %llu "
         "checkpoints\n",
         bg, sync, commits, conflicts, a.commits,
         (unsigned long long)st.checkpoints);
  assert_int_equal(ldb_check(db), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  /* and after recovery */
  assert_int_equal(ldb_open("bank", &o, &db), LDB_OK);
  ldb_txn *t;
  assert_int_equal(ldb_txn_begin(db, LDB_TXN_READONLY, &t), LDB_OK);
  long sum = 0, bal = 0;
  for (int i = 0; i < ACCTS; i++) {
    assert_int_equal(read_bal(t, i, &bal), LDB_OK);
    sum += bal;
  }
  assert_int_equal(sum, (long)ACCTS * START);
  ldb_txn_abort(t);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
}

static void test_bank_threads(void **st) {
  (void)st;
  run_bank(1, LDB_SYNC_NORMAL);
  run_bank(1, LDB_SYNC_FULL);
}
static void test_bank_steps(void **st) {
  (void)st;
  run_bank(0, LDB_SYNC_OFF);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_isolation, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_your_writes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_conflict_read_write, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_conflict_write_write, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_conflict_across_checkpoint, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_abort_and_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_writes, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_limit, setup_small, teardown),
      cmocka_unit_test_setup_teardown(test_conflict_message_shows_key, setup,
                                      teardown),
      cmocka_unit_test(test_bank_threads),
      cmocka_unit_test(test_bank_steps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
