/*
 * node/async.c — the calls that wait on a sync, run on the libuv thread
 * pool so the event loop never blocks on fsync: writeAsync (a batch),
 * txnCommitAsync and flushAsync, each returning a promise. A work item
 * holds references to its ndb (and ntxn), so close() during the work only
 * marks the db closing; the last completion runs ldb_close (binding.h).
 */
#include "binding.h"

#include <stdio.h>
#include <stdlib.h>

enum { W_WRITE, W_COMMIT, W_FLUSH };

typedef struct work {
  napi_async_work handle;
  napi_deferred deferred;
  int kind;
  ndb *d;
  ntxn *t;      /* W_COMMIT */
  ldb_txn *txn; /* W_COMMIT: owned by the work from queueing on */
  ldb_batch *b; /* W_WRITE: owned by the work */
  int rc;
  char msg[512]; /* ldb_errmsg of the pool thread, copied */
} work;

/* On the pool thread: only the ldb handles of w. */
static void work_execute(napi_env env, void *data) {
  (void)env;
  work *w = data;
  switch (w->kind) {
  case W_WRITE: w->rc = ldb_write(w->d->db, w->b); break;
  case W_COMMIT:
    w->rc = ldb_txn_commit(w->txn); /* frees it, whatever the outcome */
    w->txn = NULL;
    break;
  case W_FLUSH: w->rc = ldb_flush(w->d->db); break;
  }
  if (w->rc != LDB_OK) {
    const char *m = ldb_errmsg(NULL);
    if (m == NULL || m[0] == '\0') m = ldb_strerror(w->rc);
    snprintf(w->msg, sizeof w->msg, "%s", m);
  }
}

static void work_complete(napi_env env, napi_status status, void *data) {
  work *w = data;
  ndb *d = w->d;
  if (w->b) ldb_batch_destroy(w->b);
  if (w->txn != NULL) ldb_txn_abort(w->txn); /* cancelled before running */
  if (w->t) txn_free_late_iters(w->t);
  d->pending--;
  /* a close() that waited for this work: nobody is left to report its
   * error to (the handle is closed in any case) */
  (void)db_close_if_idle(d);
  /* Settle the promise. There is no JS caller to throw to here: a failing
   * napi call becomes an uncaught exception (process 'uncaughtException'),
   * which is the most visible place Node offers. */
  napi_value result = NULL;
  napi_status st;
  if (status != napi_ok) {
    result = make_error(env, "INTERNAL", "the async operation was cancelled");
    st = result ? napi_reject_deferred(env, w->deferred, result)
                : napi_generic_failure;
  } else if (w->rc != LDB_OK) {
    result = make_error(env, ldb_code_name(w->rc), w->msg);
    st = result ? napi_reject_deferred(env, w->deferred, result)
                : napi_generic_failure;
  } else {
    st = napi_get_undefined(env, &result);
    if (st == napi_ok) st = napi_resolve_deferred(env, w->deferred, result);
  }
  if (st != napi_ok) throw_napi(env, "settling an async operation's promise");
  if (napi_delete_async_work(env, w->handle) != napi_ok)
    throw_napi(env, "napi_delete_async_work");
  if (w->t) txn_unref(w->t);
  db_unref(d);
  free(w);
}

/* Queues w (its kind and payload set) and returns its promise. On failure
 * the caller still owns w's payload; w itself is freed. */
static napi_value work_queue(napi_env env, work *w, const char *name) {
  napi_value promise, res_name;
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &res_name) !=
          napi_ok ||
      napi_create_async_work(env, NULL, res_name, work_execute, work_complete,
                             w, &w->handle) != napi_ok) {
    throw_napi(env, name);
    free(w);
    return NULL;
  }
  if (napi_queue_async_work(env, w->handle) != napi_ok) {
    if (napi_delete_async_work(env, w->handle) != napi_ok) {
      /* leaks the work handle only */
    }
    throw_napi(env, name);
    free(w);
    return NULL;
  }
  w->d->pending++;
  w->d->refs++;
  if (w->t) w->t->refs++;
  return promise;
}

static work *work_new(napi_env env, int kind, ndb *d, const char *what) {
  work *w = calloc(1, sizeof *w);
  if (w == NULL) {
    throw_code(env, "NO_MEMORY", what);
    return NULL;
  }
  w->kind = kind;
  w->d = d;
  return w;
}

/* writeAsync(db, keys[], values[]): write() on the thread pool. */
napi_value js_write_async(napi_env env, napi_callback_info info) {
  ARGS(3);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  ldb_batch *b = build_batch(env, d, argv[1], argv[2]);
  if (b == NULL) return NULL;
  work *w = work_new(env, W_WRITE, d, "out of memory queueing a write");
  if (w == NULL) {
    ldb_batch_destroy(b);
    return NULL;
  }
  w->b = b;
  napi_value p = work_queue(env, w, "lightningdb.writeAsync");
  if (p == NULL) ldb_batch_destroy(b);
  return p;
}

/* txnCommitAsync(txn): txnCommit on the thread pool; the transaction is
 * ended from the call on (its iterators answer CLOSED: see open_iter). */
napi_value js_txn_commit_async(napi_env env, napi_callback_info info) {
  ARGS(1);
  ntxn *t = open_txn(env, argv[0]);
  if (t == NULL) return NULL;
  work *w = work_new(env, W_COMMIT, t->db, "out of memory queueing a commit");
  if (w == NULL) return NULL;
  w->t = t;
  w->txn = t->txn;
  napi_value p = work_queue(env, w, "lightningdb.commitAsync");
  if (p == NULL) return NULL; /* the transaction stays open and usable */
  t->txn = NULL;
  t->committing = 1;
  return p;
}

/* flushAsync(db): flush() on the thread pool. */
napi_value js_flush_async(napi_env env, napi_callback_info info) {
  ARGS(1);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  work *w = work_new(env, W_FLUSH, d, "out of memory queueing a flush");
  if (w == NULL) return NULL;
  return work_queue(env, w, "lightningdb.flushAsync");
}
