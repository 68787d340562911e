/*
 * test_concurrency.c — concurrency guarantees of the public API:
 *  - snapshot stability: reader threads (iterators and read-only
 *    transactions) never see a half-applied commit, while one thread
 *    writes batches that set every key to the same generation and
 *    checkpoints run, with tree pages read through the page cache (memory
 *    store) and through the memory mapping (posix store);
 *  - optimistic conflicts: of two overlapping read-write transactions the
 *    second to commit gets LDB_CONFLICT and applies nothing;
 *  - two handles on one location share one engine;
 *  - another process (a re-executed copy of this binary) is refused with
 *    LDB_BUSY and the holder's pid in the message while we hold the lock.
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

#include "helpers/testutil.h"

#define NK 200

typedef struct snap_shared {
  ldb_db *db;
  int stop;
  int error;
  uint64_t scans;
  uint64_t gens;
} snap_shared;

static void set_err(snap_shared *s, int code, const char *what) {
  fprintf(stderr, "concurrency: %s (%s)\n", what, ldb_errmsg(NULL));
  __atomic_store_n(&s->error, code ? code : LDB_INTERNAL, __ATOMIC_RELEASE);
}

static void *snap_writer(void *arg) {
  snap_shared *s = arg;
  uint8_t v[300];
  for (uint32_t gen = 1; !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE); gen++) {
    ldb_batch *b = NULL;
    if (ldb_batch_create(s->db, &b) != LDB_OK) {
      set_err(s, LDB_NOMEM, "batch_create");
      return NULL;
    }
    for (int i = 0; i < NK; i++) {
      char k[16];
      snprintf(k, sizeof k, "k%04d", i);
      memset(v, (int)(gen & 0xff), sizeof v);
      memcpy(v, &gen, 4);
      ldb_batch_put(b, k, strlen(k), v, 20 + (size_t)(gen + (uint32_t)i) % 280);
    }
    int rc = ldb_write(s->db, b);
    ldb_batch_destroy(b);
    if (rc != LDB_OK) {
      set_err(s, rc, "writer ldb_write");
      return NULL;
    }
    __atomic_store_n(&s->gens, gen, __ATOMIC_RELEASE);
  }
  return NULL;
}

static void *snap_reader(void *arg) {
  snap_shared *s = arg;
  int round = 0;
  while (!__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE)) {
    round++;
    if (round % 2) {
      /* An iterator sees one generation everywhere. */
      ldb_iter *it = NULL;
      ldb_iter_options io;
      memset(&io, 0, sizeof io);
      io.reverse = round % 4 == 1;
      if (ldb_iter_create(s->db, NULL, &io, &it) != LDB_OK) {
        set_err(s, 0, "iter_create");
        return NULL;
      }
      uint32_t gen = 0;
      int n = 0, rc;
      for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
        const void *v;
        size_t vl;
        uint32_t g;
        ldb_iter_value(it, &v, &vl);
        memcpy(&g, v, 4);
        if (n == 0) gen = g;
        if (g != gen) {
          fprintf(stderr, "iterator saw generations %u and %u\n", gen, g);
          set_err(s, LDB_INTERNAL, "torn snapshot in iterator");
          ldb_iter_destroy(it);
          return NULL;
        }
        n++;
      }
      ldb_iter_destroy(it);
      if (rc != LDB_NOTFOUND || (n != 0 && n != NK)) {
        fprintf(stderr, "iterator: rc %s, %d keys\n", ldb_code_name(rc), n);
        set_err(s, LDB_INTERNAL, "iterator count");
        return NULL;
      }
    } else {
      /* A read-only transaction keeps its snapshot over time. */
      ldb_txn *t = NULL;
      if (ldb_txn_begin(s->db, LDB_TXN_READONLY, &t) != LDB_OK) {
        set_err(s, 0, "txn_begin");
        return NULL;
      }
      uint32_t gen = 0;
      for (int j = 0; j < 3 * NK; j++) {
        char k[16];
        uint8_t v[300];
        size_t vl;
        uint32_t g;
        snprintf(k, sizeof k, "k%04d", (j * 37) % NK);
        int rc = ldb_txn_get_buf(t, k, strlen(k), v, sizeof v, &vl);
        if (rc == LDB_NOTFOUND && gen == 0) continue;
        if (rc != LDB_OK) {
          set_err(s, rc, "snapshot get");
          ldb_txn_abort(t);
          return NULL;
        }
        memcpy(&g, v, 4);
        if (gen == 0) gen = g;
        if (g != gen) {
          fprintf(stderr, "snapshot saw generations %u and %u\n", gen, g);
          set_err(s, LDB_INTERNAL, "unstable snapshot");
          ldb_txn_abort(t);
          return NULL;
        }
      }
      ldb_txn_abort(t);
    }
    __atomic_add_fetch(&s->scans, 1, __ATOMIC_RELEASE);
  }
  return NULL;
}

/* On the memory store every tree page comes through the page cache; on
 * the posix store through the memory mapping (lock-free reads, pages
 * verified once per version while checkpoints free and rewrite them). */
static void snapshot_stability(int posix) {
  ldb_store *store = NULL;
  ldb_options o;
  snap_shared s;
  char *dir = NULL;
  memset(&s, 0, sizeof s);
  ldb_options_default(&o);
  if (posix) {
    dir = tu_tmpdir("conc-mmap");
  } else {
    assert_int_equal(ldb_store_memory(&store), LDB_OK);
    o.store = store;
    o.cache_size = 64 * 4096; /* small: evictions under the readers */
  }
  o.sync_mode = LDB_SYNC_OFF;
  o.memtable_size = 512 * 1024; /* checkpoints happen under the readers */
  assert_int_equal(ldb_open(posix ? dir : "conc", &o, &s.db), LDB_OK);
  pthread_t w, r[3];
  assert_int_equal(pthread_create(&w, NULL, snap_writer, &s), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_create(&r[i], NULL, snap_reader, &s), 0);
  uint64_t want = tu_scale(600, 5, 60);
  for (int waited = 0; waited < 60000; waited++) {
    if (__atomic_load_n(&s.error, __ATOMIC_ACQUIRE)) break;
    if (__atomic_load_n(&s.scans, __ATOMIC_ACQUIRE) >= want &&
        __atomic_load_n(&s.gens, __ATOMIC_ACQUIRE) >= 50)
      break;
    tu_sleep_ms(1);
  }
  __atomic_store_n(&s.stop, 1, __ATOMIC_RELEASE);
  pthread_join(w, NULL);
  for (int i = 0; i < 3; i++)
    pthread_join(r[i], NULL);
  printf("snapshot stability: %llu scans over %llu generations\n",
         (unsigned long long)s.scans, (unsigned long long)s.gens);
  assert_int_equal(s.error, LDB_OK);
  assert_true(s.gens > 1);
  assert_int_equal(ldb_check(s.db), LDB_OK);
  assert_int_equal(ldb_close(s.db), LDB_OK);
  ldb_store_destroy(store);
  if (dir) {
    tu_rmrf(dir);
    free(dir);
  }
}

static void test_snapshot_stability(void **state) {
  (void)state;
  snapshot_stability(0);
}

static void test_snapshot_stability_mapped(void **state) {
  (void)state;
  snapshot_stability(1);
}

static ldb_db *open_mem(ldb_store *store) {
  ldb_options o;
  ldb_options_default(&o);
  o.store = store;
  return tu_open("conc", &o);
}

static void test_conflicts(void **state) {
  (void)state;
  ldb_store *store = NULL;
  assert_int_equal(ldb_store_memory(&store), LDB_OK);
  ldb_db *db = open_mem(store);
  ldb_txn *a = NULL, *b = NULL;
  void *v = NULL;
  size_t vl;
  assert_int_equal(ldb_put(db, "x", 1, "0", 1), LDB_OK);

  /* Read-modify-write on the same key: the second commit conflicts. */
  assert_int_equal(ldb_txn_begin(db, 0, &a), LDB_OK);
  assert_int_equal(ldb_txn_begin(db, 0, &b), LDB_OK);
  assert_int_equal(ldb_txn_get(a, "x", 1, &v, &vl), LDB_OK);
  ldb_free(db, v);
  assert_int_equal(ldb_txn_get(b, "x", 1, &v, &vl), LDB_OK);
  ldb_free(db, v);
  assert_int_equal(ldb_txn_put(a, "x", 1, "a", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(b, "x", 1, "b", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(b, "y", 1, "b", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(a), LDB_OK);
  assert_int_equal(ldb_txn_commit(b), LDB_CONFLICT);
  assert_int_equal(ldb_get(db, "x", 1, &v, &vl), LDB_OK);
  assert_memory_equal(v, "a", 1);
  ldb_free(db, v);
  /* Nothing of the conflicting transaction was applied. */
  assert_int_equal(ldb_get(db, "y", 1, &v, &vl), LDB_NOTFOUND);

  /* Blind writes to the same key conflict too (write set). */
  assert_int_equal(ldb_txn_begin(db, 0, &a), LDB_OK);
  assert_int_equal(ldb_txn_begin(db, 0, &b), LDB_OK);
  assert_int_equal(ldb_txn_put(a, "z", 1, "a", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(b, "z", 1, "b", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(a), LDB_OK);
  assert_int_equal(ldb_txn_commit(b), LDB_CONFLICT);

  /* A key read by b and committed by a single put after b began. */
  assert_int_equal(ldb_txn_begin(db, 0, &b), LDB_OK);
  assert_int_equal(ldb_txn_get(b, "q", 1, &v, &vl), LDB_NOTFOUND);
  assert_int_equal(ldb_put(db, "q", 1, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(b, "r", 1, "1", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(b), LDB_CONFLICT);

  /* Disjoint transactions both commit. */
  assert_int_equal(ldb_txn_begin(db, 0, &a), LDB_OK);
  assert_int_equal(ldb_txn_begin(db, 0, &b), LDB_OK);
  assert_int_equal(ldb_txn_put(a, "m", 1, "a", 1), LDB_OK);
  assert_int_equal(ldb_txn_put(b, "n", 1, "b", 1), LDB_OK);
  assert_int_equal(ldb_txn_commit(a), LDB_OK);
  assert_int_equal(ldb_txn_commit(b), LDB_OK);

  /* Threads incrementing one counter with retry lose no increment. */
  ldb_stats st0, st1;
  assert_int_equal(ldb_stats_get(db, &st0), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(store);
  (void)st0;
  (void)st1;
}

static pthread_barrier_t g_start;

typedef struct ctr {
  ldb_db *db;
  int iters;
  int error;
  int conflicts;
} ctr;

static void *incr(void *arg) {
  ctr *c = arg;
  pthread_barrier_wait(&g_start);
  for (int i = 0; i < c->iters;) {
    ldb_txn *t = NULL;
    char buf[32];
    size_t len = 0;
    int rc = ldb_txn_begin(c->db, 0, &t);
    if (rc) {
      c->error = rc;
      return NULL;
    }
    rc = ldb_txn_get_buf(t, "ctr", 3, buf, sizeof buf - 1, &len);
    long n = 0;
    if (rc == LDB_OK) {
      buf[len] = 0;
      n = atol(buf);
    } else if (rc != LDB_NOTFOUND) {
      ldb_txn_abort(t);
      c->error = rc;
      return NULL;
    }
    /* Widen the window between read and commit so they overlap. */
    if (i % 3 == 0) sched_yield();
    int m = snprintf(buf, sizeof buf, "%ld", n + 1);
    rc = ldb_txn_put(t, "ctr", 3, buf, (size_t)m);
    if (rc) {
      ldb_txn_abort(t);
      c->error = rc;
      return NULL;
    }
    rc = ldb_txn_commit(t);
    if (rc == LDB_CONFLICT) {
      c->conflicts++;
      continue;
    }
    if (rc) {
      c->error = rc;
      return NULL;
    }
    i++;
  }
  return NULL;
}

static void test_counter_threads(void **state) {
  (void)state;
  ldb_store *store = NULL;
  assert_int_equal(ldb_store_memory(&store), LDB_OK);
  ldb_db *db = open_mem(store);
  ldb_db *db2 = open_mem(store); /* each thread its own handle */
  ctr c[4];
  pthread_t th[4];
  int iters = (int)tu_scale(500, 5, 50);
  pthread_barrier_init(&g_start, NULL, 4);
  for (int i = 0; i < 4; i++) {
    memset(&c[i], 0, sizeof c[i]);
    c[i].db = i % 2 ? db2 : db;
    c[i].iters = iters;
    assert_int_equal(pthread_create(&th[i], NULL, incr, &c[i]), 0);
  }
  int conflicts = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(c[i].error, LDB_OK);
    conflicts += c[i].conflicts;
  }
  pthread_barrier_destroy(&g_start);
  /* Four threads interleaving read-modify-write must have collided. */
  assert_true(conflicts > 0);
  char buf[32];
  size_t len;
  assert_int_equal(ldb_get_buf(db, "ctr", 3, buf, sizeof buf - 1, &len),
                   LDB_OK);
  buf[len] = 0;
  printf("counter: %s after %d increments, %d conflicts retried\n", buf,
         4 * iters, conflicts);
  assert_int_equal(atol(buf), 4 * iters);
  assert_int_equal(ldb_close(db2), LDB_OK);
  assert_int_equal(ldb_close(db), LDB_OK);
  ldb_store_destroy(store);
}

static void test_shared_engine(void **state) {
  (void)state;
  ldb_store *store = NULL;
  assert_int_equal(ldb_store_memory(&store), LDB_OK);
  ldb_db *a = open_mem(store);
  ldb_db *b = open_mem(store);
  void *v = NULL;
  size_t vl;
  assert_int_equal(ldb_put(a, "k", 1, "v1", 2), LDB_OK);
  assert_int_equal(ldb_get(b, "k", 1, &v, &vl), LDB_OK);
  assert_int_equal(vl, 2);
  assert_memory_equal(v, "v1", 2);
  ldb_free(b, v);
  /* A transaction from one handle conflicts with a commit of the other. */
  ldb_txn *t = NULL;
  assert_int_equal(ldb_txn_begin(b, 0, &t), LDB_OK);
  assert_int_equal(ldb_txn_get(t, "k", 1, &v, &vl), LDB_OK);
  ldb_free(b, v);
  assert_int_equal(ldb_put(a, "k", 1, "v2", 2), LDB_OK);
  assert_int_equal(ldb_txn_put(t, "k", 1, "v3", 2), LDB_OK);
  assert_int_equal(ldb_txn_commit(t), LDB_CONFLICT);
  /* A batch made on one handle applies on the other. */
  ldb_batch *bt = NULL;
  assert_int_equal(ldb_batch_create(a, &bt), LDB_OK);
  assert_int_equal(ldb_batch_put(bt, "j", 1, "x", 1), LDB_OK);
  assert_int_equal(ldb_write(b, bt), LDB_OK);
  ldb_batch_destroy(bt);
  ldb_stats sa, sb;
  assert_int_equal(ldb_stats_get(a, &sa), LDB_OK);
  assert_int_equal(ldb_stats_get(b, &sb), LDB_OK);
  assert_int_equal(sa.last_seq, sb.last_seq);
  /* Closing one handle leaves the other working. */
  assert_int_equal(ldb_close(a), LDB_OK);
  assert_int_equal(ldb_get(b, "j", 1, &v, &vl), LDB_OK);
  ldb_free(b, v);
  assert_int_equal(ldb_put(b, "k", 1, "v4", 2), LDB_OK);
  assert_int_equal(ldb_close(b), LDB_OK);
  /* And the data survives the last close. */
  a = open_mem(store);
  assert_int_equal(ldb_get(a, "k", 1, &v, &vl), LDB_OK);
  assert_memory_equal(v, "v4", 2);
  ldb_free(a, v);
  assert_int_equal(ldb_close(a), LDB_OK);
  ldb_store_destroy(store);
}

/* ---- another process --------------------------------------------------- */

static const char *g_self;

/* Child mode: try to open dir (read_only when ro) and report. Exit codes:
 * 0 = LDB_BUSY naming pid `want`, 1 = opened, 2 = BUSY without the pid,
 * 3 = another error. */
static int child_main(const char *dir, int ro, const char *want_pid) {
  ldb_options o;
  ldb_db *db = NULL;
  ldb_options_default(&o);
  o.read_only = ro;
  int rc = ldb_open(dir, &o, &db);
  if (rc == LDB_OK) {
    ldb_close(db);
    return 1;
  }
  const char *msg = ldb_errmsg(NULL);
  fprintf(stderr, "child: open %s: %s: %s\n", ro ? "read-only" : "read-write",
          ldb_code_name(rc), msg);
  if (rc != LDB_BUSY) return 3;
  char want[48];
  snprintf(want, sizeof want, "pid %s", want_pid);
  return strstr(msg, want) ? 0 : 2;
}

static int run_child(const char *dir, int ro) {
  char pid[32];
  snprintf(pid, sizeof pid, "%ld", tu_pid());
  /* A new process running this binary, not a fork: a forked copy would
   * inherit our open engine. */
  char *argv[] = {
      (char *)g_self, "--child-open", (char *)dir, ro ? "1" : "0", pid, NULL};
  int st = tu_run_wait(argv);
  return st < 0 ? 5 : st;
}

static void test_other_process_lock(void **state) {
  (void)state;
  char *dir = tu_tmpdir("lock");
  ldb_options o;
  ldb_db *db = NULL;
  ldb_options_default(&o);
  assert_int_equal(ldb_open(dir, &o, &db), LDB_OK);
  assert_int_equal(ldb_put(db, "k", 1, "v", 1), LDB_OK);
  assert_int_equal(run_child(dir, 0), 0);
  assert_int_equal(run_child(dir, 1), 0);
  /* A second handle in this process shares the engine instead. */
  ldb_db *db2 = NULL;
  assert_int_equal(ldb_open(dir, &o, &db2), LDB_OK);
  assert_int_equal(ldb_close(db2), LDB_OK);
  assert_int_equal(run_child(dir, 0), 0); /* still held */
  assert_int_equal(ldb_close(db), LDB_OK);
  /* Released: the other process may open now. */
  assert_int_equal(run_child(dir, 0), 1);
  /* Readers share: a read-only holder lets another reader in, not a
   * writer. */
  o.read_only = 1;
  assert_int_equal(ldb_open(dir, &o, &db), LDB_OK);
  assert_int_equal(run_child(dir, 1), 1);
  assert_int_equal(run_child(dir, 0), 0);
  assert_int_equal(ldb_put(db, "k", 1, "w", 1), LDB_READONLY);
  assert_int_equal(ldb_close(db), LDB_OK);
  tu_rmrf(dir);
  free(dir);
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "--child-open"))
    return child_main(argv[2], atoi(argv[3]), argv[4]);
  g_self = tu_self_exe();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_snapshot_stability),
      cmocka_unit_test(test_snapshot_stability_mapped),
      cmocka_unit_test(test_conflicts),
      cmocka_unit_test(test_counter_threads),
      cmocka_unit_test(test_shared_engine),
      cmocka_unit_test(test_other_process_lock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
