/*
 * test_env.c — the environment seam (ldb_options.env) with a fake clock:
 * time moves only when the test says so, and nothing sleeps for real.
 *
 *  - NORMAL mode without a thread: commits within sync_interval_ms of the
 *    last log sync do not sync; the first commit after it does (syncs are
 *    counted by the faulty store); ldb_maintain says when the next is due.
 *  - NORMAL mode with the background thread (started through the env): it
 *    sleeps on the env's clock and syncs only once the fake clock passes
 *    the interval.
 *  - The back-off after a failed checkpoint: no retry before it elapses (no
 *    store sync is even attempted), a retry once it has, for a failed log
 *    switch and for a failed merge.
 *  - An incomplete env is refused with LDB_INVALID.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <pthread.h>

#include "helpers/store_faulty.h"

#define MS 1000000ull

/* ---- the fake env -------------------------------------------------------- */

typedef struct fake_event {
  int signalled;
} fake_event;

typedef struct fake_env {
  ldb_env env;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* any change: time, a signal, a sleeper arriving */
  uint64_t now;      /* ns, moved by fake_advance, and by tick */
  uint64_t tick;     /* ns added at every now_ns() call (0: frozen) */
  uint64_t sleeps;   /* sleep_until calls entered so far */
  int sleeping;      /* sleep_until calls waiting now */
  int threads;       /* started and not joined */
} fake_env;

static uint64_t fake_now(void *ctx) {
  fake_env *f = ctx;
  pthread_mutex_lock(&f->mu);
  uint64_t t = f->now;
  f->now += f->tick;
  pthread_mutex_unlock(&f->mu);
  return t;
}

static uint64_t fake_wall(void *ctx) {
  return 1700000000000ull + fake_now(ctx) / MS;
}

typedef struct fake_thread {
  pthread_t t;
  void (*fn)(void *);
  void *arg;
} fake_thread;

static void *fake_trampoline(void *p) {
  fake_thread *t = p;
  t->fn(t->arg);
  return NULL;
}

static int fake_thread_start(void *ctx, void (*fn)(void *), void *arg,
                             void **out) {
  fake_env *f = ctx;
  fake_thread *t = calloc(1, sizeof *t);
  if (!t) return LDB_NOMEM;
  t->fn = fn;
  t->arg = arg;
  if (pthread_create(&t->t, NULL, fake_trampoline, t)) {
    free(t);
    return LDB_NOMEM;
  }
  pthread_mutex_lock(&f->mu);
  f->threads++;
  pthread_mutex_unlock(&f->mu);
  *out = t;
  return LDB_OK;
}

static void fake_thread_join(void *ctx, void *thread) {
  fake_env *f = ctx;
  fake_thread *t = thread;
  pthread_join(t->t, NULL);
  free(t);
  pthread_mutex_lock(&f->mu);
  f->threads--;
  pthread_mutex_unlock(&f->mu);
}

static int fake_event_create(void *ctx, void **ev) {
  (void)ctx;
  *ev = calloc(1, sizeof(fake_event));
  return *ev ? LDB_OK : LDB_NOMEM;
}

static void fake_event_signal(void *ctx, void *ev) {
  fake_env *f = ctx;
  pthread_mutex_lock(&f->mu);
  ((fake_event *)ev)->signalled = 1;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

/* Waits (for real, on a condition) until the fake clock passes the
 * deadline or the event is signalled; never on a real timer. */
static void fake_sleep_until(void *ctx, void *ev, uint64_t deadline) {
  fake_env *f = ctx;
  fake_event *e = ev;
  pthread_mutex_lock(&f->mu);
  f->sleeps++;
  f->sleeping++;
  pthread_cond_broadcast(&f->cv);
  while (!e->signalled && f->now < deadline)
    pthread_cond_wait(&f->cv, &f->mu);
  e->signalled = 0;
  f->sleeping--;
  pthread_mutex_unlock(&f->mu);
}

static void fake_event_destroy(void *ctx, void *ev) {
  (void)ctx;
  free(ev);
}

static void fake_init(fake_env *f) {
  memset(f, 0, sizeof *f);
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  f->now = 1000 * MS; /* any start; not zero */
  f->env.ctx = f;
  f->env.now_ns = fake_now;
  f->env.wall_ms = fake_wall;
  f->env.thread_start = fake_thread_start;
  f->env.thread_join = fake_thread_join;
  f->env.event_create = fake_event_create;
  f->env.event_signal = fake_event_signal;
  f->env.sleep_until = fake_sleep_until;
  f->env.event_destroy = fake_event_destroy;
}

static void fake_free(fake_env *f) {
  assert_int_equal(f->threads, 0);
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
}

static void fake_advance(fake_env *f, uint64_t ns) {
  pthread_mutex_lock(&f->mu);
  f->now += ns;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
}

/* Blocks until sleep_until has been entered more than `after` times and a
 * sleeper waits now: the background thread finished its round. A real
 * bound (10 s) only keeps a broken engine from hanging the test. */
static void fake_wait_asleep(fake_env *f, uint64_t after) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += 10;
  pthread_mutex_lock(&f->mu);
  while (!(f->sleeps > after && f->sleeping > 0))
    if (pthread_cond_timedwait(&f->cv, &f->mu, &ts)) break;
  int ok = f->sleeps > after && f->sleeping > 0;
  pthread_mutex_unlock(&f->mu);
  assert_true(ok);
}

static uint64_t fake_sleeps(fake_env *f) {
  pthread_mutex_lock(&f->mu);
  uint64_t n = f->sleeps;
  pthread_mutex_unlock(&f->mu);
  return n;
}

/* ---- helpers ------------------------------------------------------------- */

typedef struct fx {
  fake_env fe;
  ldb_store *inner, *fs;
  ldb_db *db;
} fx;

static void fx_open(fx *x, int sync_mode, int threaded, uint64_t memtable) {
  fake_init(&x->fe);
  assert_int_equal(ldb_store_memory(&x->inner), LDB_OK);
  assert_int_equal(ldb_store_faulty(x->inner, &x->fs), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = x->fs;
  o.env = &x->fe.env;
  o.page_size = 512;
  o.sync_mode = sync_mode;
  o.sync_interval_ms = 100;
  o.background_checkpoint = threaded;
  if (memtable) o.memtable_size = memtable;
  o.log_retention_bytes = 0; /* no change feed: the syncs counted are the
                                log's and the data file's only */
  assert_int_equal(ldb_open("env", &o, &x->db), LDB_OK);
}

static void fx_close(fx *x) {
  assert_int_equal(ldb_close(x->db), LDB_OK);
  ldb_store_destroy(x->fs);
  ldb_store_destroy(x->inner);
  fake_free(&x->fe);
}

static uint64_t syncs(fx *x) {
  return ldb_faulty_count(x->fs, LDB_FAULT_SYNC);
}

static void put(fx *x, int i, size_t vlen) {
  char k[16], v[4096];
  snprintf(k, sizeof k, "k%06d", i);
  memset(v, 'a' + i % 26, vlen);
  assert_int_equal(ldb_put(x->db, k, strlen(k), v, vlen), LDB_OK);
}

/* A put of key i that the engine must refuse with code (its memtable is
 * at the limit and the checkpoint cannot run yet): nothing is written. */
static void refused(fx *x, int i, int code) {
  char k[16], v[1000];
  snprintf(k, sizeof k, "k%06d", i);
  memset(v, 'a' + i % 26, sizeof v);
  ldb_stats st;
  assert_int_equal(ldb_stats_get(x->db, &st), LDB_OK);
  uint64_t seq = st.last_seq;
  assert_int_equal(ldb_put(x->db, k, strlen(k), v, sizeof v), code);
  assert_int_equal(ldb_stats_get(x->db, &st), LDB_OK);
  assert_int_equal(st.last_seq, seq);
  void *got = NULL;
  size_t len;
  assert_int_equal(ldb_get(x->db, k, strlen(k), &got, &len), LDB_NOTFOUND);
}

static void expect_all(fx *x, int n) {
  for (int i = 0; i < n; i++) {
    char k[16];
    snprintf(k, sizeof k, "k%06d", i);
    void *v = NULL;
    size_t vl;
    assert_int_equal(ldb_get(x->db, k, strlen(k), &v, &vl), LDB_OK);
    ldb_free(x->db, v);
  }
}

/* ---- tests --------------------------------------------------------------- */

static void test_sync_interval_no_thread(void **state) {
  (void)state;
  fx x;
  fx_open(&x, LDB_SYNC_NORMAL, 0, 0);
  uint64_t s0 = syncs(&x);
  /* within the interval of the open: no sync, however many commits */
  for (int i = 0; i < 20; i++) {
    put(&x, i, 10);
    fake_advance(&x.fe, 4 * MS); /* 80 ms in all */
  }
  assert_int_equal(syncs(&x), s0);
  uint32_t next = 0;
  assert_int_equal(ldb_maintain(x.db, 0, &next), LDB_OK);
  assert_int_equal(next, 20); /* due 100 ms after the open */
  assert_int_equal(syncs(&x), s0);
  fake_advance(&x.fe, 19 * MS); /* 99 ms */
  put(&x, 20, 10);
  assert_int_equal(syncs(&x), s0);
  /* the first commit at or after the interval syncs */
  fake_advance(&x.fe, 1 * MS);
  put(&x, 21, 10);
  assert_int_equal(syncs(&x), s0 + 1);
  /* and the interval starts again from that sync */
  put(&x, 22, 10);
  fake_advance(&x.fe, 99 * MS);
  put(&x, 23, 10);
  assert_int_equal(syncs(&x), s0 + 1);
  assert_int_equal(ldb_maintain(x.db, 0, &next), LDB_OK);
  assert_int_equal(next, 1);
  fake_advance(&x.fe, 1 * MS);
  /* ldb_maintain does the due sync itself when no commit comes */
  assert_int_equal(ldb_maintain(x.db, 0, &next), LDB_OK);
  assert_int_equal(syncs(&x), s0 + 2);
  assert_int_equal(next, UINT32_MAX); /* nothing unsynced, nothing pending */
  expect_all(&x, 24);
  fx_close(&x);
}

static void test_sync_interval_thread(void **state) {
  (void)state;
  fx x;
  fx_open(&x, LDB_SYNC_NORMAL, 1, 0);
  assert_int_equal(x.fe.threads, 1); /* started through the env */
  fake_wait_asleep(&x.fe, 0);
  uint64_t s0 = syncs(&x);
  uint64_t n = fake_sleeps(&x.fe);
  put(&x, 0, 10);
  put(&x, 1, 10);
  /* the thread sleeps on the fake clock: nothing happens until it moves */
  fake_advance(&x.fe, 99 * MS);
  assert_int_equal(syncs(&x), s0);
  assert_int_equal(fake_sleeps(&x.fe), n);
  /* the interval passes: one round, one sync, asleep again */
  fake_advance(&x.fe, 1 * MS);
  fake_wait_asleep(&x.fe, n);
  assert_int_equal(syncs(&x), s0 + 1);
  /* nothing unsynced: the next round syncs nothing */
  n = fake_sleeps(&x.fe);
  fake_advance(&x.fe, 100 * MS);
  fake_wait_asleep(&x.fe, n);
  assert_int_equal(syncs(&x), s0 + 1);
  expect_all(&x, 2);
  fx_close(&x);
  assert_int_equal(x.fe.threads, 0);
}

/* Commits of ~1 KiB with a 1 KiB memtable: every commit asks for a
 * checkpoint, and a failed one leaves the memtable at its limit, so the
 * commits of its back-off are refused with its error. OFF mode: the only
 * syncs are the checkpoint's (log switch, data file, meta page), so
 * counting syncs counts attempts. */
static void test_checkpoint_backoff(void **state) {
  (void)state;
  fx x;
  fx_open(&x, LDB_SYNC_OFF, 0, 1024);
  int i = 0;
  ldb_stats st;
  put(&x, i++, 1000);
  assert_int_equal(ldb_stats_get(x.db, &st), LDB_OK);
  uint64_t ck0 = st.checkpoints;
  assert_true(ck0 >= 1); /* the memtable filled: a checkpoint ran */

  /* 1. The log switch fails (every sync fails while armed). */
  ldb_faulty_fail_nth(x.fs, 1, LDB_FAULT_SYNC, LDB_IOERR, 1);
  uint64_t s0 = syncs(&x);
  put(&x, i++, 1000); /* the commit succeeds; its checkpoint does not */
  assert_int_equal(ldb_stats_get(x.db, &st), LDB_OK);
  assert_int_equal(st.background_error, LDB_IOERR);
  uint64_t s1 = syncs(&x);
  assert_true(s1 > s0); /* it was attempted */
  ldb_faulty_clear(x.fs);
  /* no retry before the back-off (200 ms) elapses: not even a sync; the
   * memtable is at its limit, so commits are refused meanwhile with the
   * checkpoint's error, writing nothing */
  for (int k = 0; k < 5; k++) {
    fake_advance(&x.fe, 39 * MS); /* 195 ms in all */
    refused(&x, i, LDB_IOERR);
    assert_int_equal(syncs(&x), s1);
  }
  fake_advance(&x.fe, 4 * MS); /* 199 ms */
  refused(&x, i, LDB_IOERR);
  assert_int_equal(syncs(&x), s1);
  assert_int_equal(ldb_stats_get(x.db, &st), LDB_OK);
  assert_int_equal(st.checkpoints, ck0);
  /* the back-off elapses: the next commit retries, and it succeeds */
  fake_advance(&x.fe, 1 * MS);
  put(&x, i++, 1000);
  assert_true(syncs(&x) > s1);
  assert_int_equal(ldb_stats_get(x.db, &st), LDB_OK);
  assert_true(st.checkpoints > ck0);
  assert_int_equal(st.background_error, LDB_OK);

  /* 2. The merge fails after the log switch: its data-file sync (the
   * second sync from now) fails once. */
  uint64_t ck1 = st.checkpoints;
  ldb_faulty_fail_nth(x.fs, 2, LDB_FAULT_SYNC, LDB_IOERR, 0);
  put(&x, i++, 1000);
  assert_int_equal(ldb_stats_get(x.db, &st), LDB_OK);
  assert_int_equal(st.background_error, LDB_IOERR);
  assert_int_equal(st.checkpoints, ck1);
  uint64_t s2 = syncs(&x);
  fake_advance(&x.fe, 199 * MS);
  refused(&x, i, LDB_IOERR);
  refused(&x, i, LDB_IOERR);
  assert_int_equal(syncs(&x), s2);
  assert_int_equal(ldb_stats_get(x.db, &st), LDB_OK);
  assert_int_equal(st.checkpoints, ck1);
  uint32_t next = 0;
  assert_int_equal(ldb_maintain(x.db, 0, &next), LDB_OK);
  assert_int_equal(next, 1); /* the retry is 1 ms away */
  assert_int_equal(syncs(&x), s2);
  fake_advance(&x.fe, 1 * MS);
  put(&x, i++, 1000);
  assert_true(syncs(&x) > s2);
  assert_int_equal(ldb_stats_get(x.db, &st), LDB_OK);
  assert_true(st.checkpoints > ck1);
  assert_int_equal(st.background_error, LDB_OK);
  expect_all(&x, i);
  assert_int_equal(ldb_check(x.db), LDB_OK);
  /* The refused syncs of automatic work are reported once, by the next
   * ldb_checkpoint (else the close would report them). */
  assert_int_equal(ldb_checkpoint(x.db), LDB_IOERR);
  assert_int_equal(ldb_checkpoint(x.db), LDB_OK);
  fx_close(&x);
}

/* The newest event of a type, or NULL. */
static const ldb_event *newest_of(const ldb_event *ev, size_t n, int type) {
  for (size_t i = n; i-- > 0;)
    if (ev[i].type == type) return &ev[i];
  return NULL;
}

/* A point read that takes over LDB_EVENT_SLOW_NS is a SLOW_READ event
 * (one read in 8 per thread is timed; a run of 8 has one); fast reads are
 * not. The clock moves 150 ms at every reading while the slow reads run. */
static void test_slow_read_event(void **state) {
  (void)state;
  fx x;
  fx_open(&x, LDB_SYNC_NORMAL, 0, 0);
  assert_int_equal(ldb_put(x.db, "k", 1, "v", 1), LDB_OK);
  ldb_event ev[32];
  size_t n = 0;
  char buf[8];
  size_t vl;
  for (int i = 0; i < 16; i++)
    assert_int_equal(ldb_get_buf(x.db, "k", 1, buf, sizeof buf, &vl), LDB_OK);
  assert_int_equal(ldb_events_read(x.db, 0, ev, 32, &n), LDB_OK);
  assert_null(newest_of(ev, n, LDB_EVENT_SLOW_READ));
  pthread_mutex_lock(&x.fe.mu);
  x.fe.tick = 150 * MS;
  pthread_mutex_unlock(&x.fe.mu);
  for (int i = 0; i < 8; i++)
    assert_int_equal(ldb_get_buf(x.db, "k", 1, buf, sizeof buf, &vl), LDB_OK);
  for (int i = 0; i < 8; i++) {
    void *v = NULL;
    size_t len = 0;
    assert_int_equal(ldb_get(x.db, "missing", 7, &v, &len), LDB_NOTFOUND);
    ldb_free(x.db, v);
  }
  pthread_mutex_lock(&x.fe.mu);
  x.fe.tick = 0;
  pthread_mutex_unlock(&x.fe.mu);
  assert_int_equal(ldb_events_read(x.db, 0, ev, 32, &n), LDB_OK);
  const ldb_event *e = newest_of(ev, n, LDB_EVENT_SLOW_READ);
  assert_non_null(e);
  assert_string_equal(ldb_event_name(e->type), "slow_read");
  assert_int_equal(e->code, LDB_OK);
  assert_true(e->value >= 150 * MS);
  /* One from each run of 8 (get_buf, get): a burst or two events. */
  uint64_t seen = 0;
  for (size_t i = 0; i < n; i++)
    if (ev[i].type == LDB_EVENT_SLOW_READ) seen += ev[i].count;
  assert_int_equal(seen, 2);
  fx_close(&x);
}

static void test_incomplete_env(void **state) {
  (void)state;
  fake_env f;
  fake_init(&f);
  ldb_store *s;
  assert_int_equal(ldb_store_memory(&s), LDB_OK);
  ldb_options o;
  ldb_options_default(&o);
  o.store = s;
  o.env = &f.env;
  ldb_db *db = NULL;
  f.env.now_ns = NULL;
  assert_int_equal(ldb_open("env", &o, &db), LDB_INVALID);
  assert_non_null(strstr(ldb_errmsg(NULL), "now_ns"));
  f.env.now_ns = fake_now;
  f.env.sleep_until = NULL;
  assert_int_equal(ldb_open("env", &o, &db), LDB_INVALID);
  assert_non_null(strstr(ldb_errmsg(NULL), "sleep_until"));
  /* no threads in the env: the engine runs without one */
  f.env.thread_start = NULL;
  assert_int_equal(ldb_open("env", &o, &db), LDB_OK);
  assert_int_equal(f.threads, 0);
  assert_int_equal(ldb_put(db, "k", 1, "v", 1), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(s);
  fake_free(&f);
  /* the default env is complete */
  const ldb_env *d = ldb_env_default();
  assert_non_null(d);
  assert_non_null(d->now_ns);
  uint64_t a = d->now_ns(d->ctx), b = d->now_ns(d->ctx);
  assert_true(b >= a);
  assert_true(d->wall_ms(d->ctx) > 1600000000000ull);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sync_interval_no_thread),
      cmocka_unit_test(test_sync_interval_thread),
      cmocka_unit_test(test_checkpoint_backoff),
      cmocka_unit_test(test_slow_read_event),
      cmocka_unit_test(test_incomplete_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
