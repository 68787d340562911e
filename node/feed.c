/*
 * node/feed.c — the change feed in the addon: change cursors (handles over
 * ldb_changes_*, read in chunks with ldb_changes_read, decoded by
 * js/feed.ts) and commit listeners (an ldb_commit_hook that wakes the JS
 * thread through a thread-safe function, so a commit made by any thread or
 * worker_thread on the engine is seen without polling and without a
 * thread-pool thread blocked per consumer).
 *
 * Lifetimes: a cursor struct holds a reference to its ndb (as iterators
 * do); the core invalidates the cursor when the db closes, after which it
 * answers CLOSED. A listener belongs to its ldb_db handle: ldb_close drops
 * its hook; the thread-safe function is released by offCommit or by the
 * db's close path in JS, and the struct is freed by the thread-safe
 * function's finalizer, after the last queued call.
 */
#include "binding.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const napi_type_tag FEED_TAG = {0x4c44424645454454ULL,
                                       0x6368616e67657331ULL};
static const napi_type_tag LISTEN_TAG = {0x4c4442434f4d4d49ULL,
                                         0x74686f6f6b733031ULL};

typedef struct nchanges {
  ldb_changes *c; /* NULL once closed */
  ndb *db;
  uint8_t *buf;
  size_t cap;
} nchanges;

static void changes_free(nchanges *n) {
  if (n->c) ldb_changes_close(n->c);
  n->c = NULL;
  free(n->buf);
  n->buf = NULL;
}

static void changes_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  nchanges *n = data;
  ndb *d = n->db;
  changes_free(n);
  free(n);
  db_unref(d);
}

/* changesOpen(db, since, lower|undefined, upper|undefined,
 * prefix|undefined, flags): a cursor returning commits with seq > since;
 * flags: 1 lowerExclusive, 2 upperExclusive. */
napi_value js_changes_open(napi_env env, napi_callback_info info) {
  ARGS(6);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  double since = -1;
  if (napi_get_value_double(env, argv[1], &since) != napi_ok || !(since >= 0) ||
      since > 9007199254740991.0 || since != (double)(uint64_t)since) {
    throw_type(env, "since must be a non-negative integer");
    return NULL;
  }
  ldb_iter_options r;
  if (get_range(env, argv + 2, RANGE_LOWER_EXCLUSIVE | RANGE_UPPER_EXCLUSIVE,
                &r))
    return NULL;
  ldb_changes_options o = {.lower = r.lower,
                           .lower_len = r.lower_len,
                           .lower_exclusive = r.lower_exclusive,
                           .upper = r.upper,
                           .upper_len = r.upper_len,
                           .upper_exclusive = r.upper_exclusive,
                           .prefix = r.prefix,
                           .prefix_len = r.prefix_len};
  nchanges *n = calloc(1, sizeof *n);
  if (n == NULL) {
    throw_code(env, "NO_MEMORY", "out of memory opening a change feed");
    return NULL;
  }
  int rc = ldb_changes_open(d->db, (uint64_t)since, &o, &n->c);
  if (rc != LDB_OK) {
    free(n);
    throw_ldb(env, rc);
    return NULL;
  }
  n->db = d;
  napi_value obj = wrap_new(env, n, &FEED_TAG, changes_finalize);
  if (obj == NULL) {
    ldb_changes_close(n->c);
    free(n);
    return NULL;
  }
  d->refs++;
  return obj;
}

/* The open cursor of a handle, or NULL with CLOSED/TypeError thrown (as
 * open_db, open_txn and open_iter for theirs). */
static nchanges *open_feed(napi_env env, napi_value v) {
  nchanges *n = unwrap(env, v, &FEED_TAG, "change feed");
  if (n == NULL) return NULL;
  if (n->c == NULL || n->db->closing) {
    throw_closed(env, "change feed");
    return NULL;
  }
  return n;
}

/* changesNext(cursor, maxCommits): a Buffer of up to maxCommits commits in
 * ldb_changes_read's encoding, or null when caught up. */
napi_value js_changes_next(napi_env env, napi_callback_info info) {
  ARGS(2);
  nchanges *n = open_feed(env, argv[0]);
  if (n == NULL) return NULL;
  double max = 0;
  if (napi_get_value_double(env, argv[1], &max) != napi_ok || !(max >= 1)) {
    throw_type(env, "maxCommits must be a positive number");
    return NULL;
  }
  size_t count = 0, used = 0;
  for (;;) {
    if (n->cap == 0) {
      n->buf = malloc(64u << 10);
      if (n->buf == NULL) {
        throw_code(env, "NO_MEMORY", "out of memory reading a change feed");
        return NULL;
      }
      n->cap = 64u << 10;
    }
    int rc = ldb_changes_read(n->c, n->buf, n->cap, (size_t)max, &count, &used);
    if (rc == LDB_NOTFOUND) {
      napi_value nul;
      NAPI_OK(env, napi_get_null(env, &nul));
      return nul;
    }
    if (rc != LDB_OK) {
      throw_ldb(env, rc);
      return NULL;
    }
    if (count > 0) break;
    /* The next commit alone needs `used` bytes. */
    uint8_t *nb = realloc(n->buf, used);
    if (nb == NULL) {
      throw_code(env, "NO_MEMORY", "out of memory reading a change feed");
      return NULL;
    }
    n->buf = nb;
    n->cap = used;
  }
  napi_value out;
  void *copy;
  NAPI_OK(env, napi_create_buffer_copy(env, used, n->buf, &copy, &out));
  if (n->cap > (1u << 20)) {
    free(n->buf); /* do not keep a large commit's buffer */
    n->buf = NULL;
    n->cap = 0;
  }
  return out;
}

/* changesClose(cursor): idempotent. */
napi_value js_changes_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  nchanges *n = unwrap(env, argv[0], &FEED_TAG, "change feed");
  if (n == NULL) return NULL;
  changes_free(n);
  return undefined(env);
}

/* ---- commit listeners --- */

typedef struct nlisten {
  ndb *d; /* the handle the hook is registered on (referenced); NULL once
             detached */
  napi_threadsafe_function tsfn;
  _Atomic int queued; /* a wake-up is queued: later commits join it */
  int released;       /* offCommit or the handle's finalizer ran */
  int tsfn_alive;     /* the thread-safe function is not finalized */
  int refs;           /* the JS handle + the thread-safe function */
} nlisten;

static void listen_hook(void *ctx, uint64_t seq) {
  (void)seq;
  nlisten *l = ctx;
  if (atomic_exchange(&l->queued, 1)) return;
  if (napi_call_threadsafe_function(l->tsfn, NULL, napi_tsfn_nonblocking) !=
      napi_ok)
    atomic_store(&l->queued, 0);
}

static void listen_call(napi_env env, napi_value fn, void *context,
                        void *data) {
  (void)data;
  nlisten *l = context;
  atomic_store(&l->queued, 0);
  if (env == NULL || fn == NULL || l->released) return;
  napi_value recv, result;
  if (napi_get_undefined(env, &recv) != napi_ok) return;
  /* An exception thrown by the listener surfaces as uncaught, as from an
   * EventEmitter listener. */
  napi_call_function(env, recv, fn, 0, NULL, &result);
}

static void listen_unref(nlisten *l) {
  if (--l->refs == 0) free(l);
}

/* Removes the hook (no call is in progress once ldb_commit_hook_remove
 * returns; a closed db dropped it already) and lets go of the db. On the
 * JS thread. */
static void listen_detach(nlisten *l) {
  ndb *d = l->d;
  if (d == NULL) return;
  l->d = NULL;
  if (d->db) ldb_commit_hook_remove(d->db, listen_hook, l);
  db_unref(d);
}

/* The thread-safe function is finalized: after offCommit, or when the env
 * is torn down (worker exit, process exit) before that. */
static void listen_tsfn_done(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  nlisten *l = data;
  l->tsfn_alive = 0;
  listen_detach(l);
  listen_unref(l);
}

static void listen_release(nlisten *l) {
  if (l->released) return;
  l->released = 1;
  listen_detach(l);
  if (l->tsfn_alive)
    napi_release_threadsafe_function(l->tsfn, napi_tsfn_release);
}

static void listen_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  nlisten *l = data;
  listen_release(l);
  listen_unref(l);
}

/* onCommit(db, fn): calls fn() on this thread after commits of the engine
 * (by any handle or thread) become visible; several commits may share one
 * call. Returns a listener handle for offCommit/refCommit. The listener
 * does not keep the event loop alive unless refCommit(l, true). */
napi_value js_on_commit(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  napi_valuetype t;
  NAPI_OK(env, napi_typeof(env, argv[1], &t));
  if (t != napi_function) {
    throw_type(env, "the commit listener must be a function");
    return NULL;
  }
  nlisten *l = calloc(1, sizeof *l);
  if (l == NULL) {
    throw_code(env, "NO_MEMORY", "out of memory adding a commit listener");
    return NULL;
  }
  napi_value name;
  NAPI_OK_GOTO(napi_create_string_utf8(env, "lightningdb-commit",
                                       NAPI_AUTO_LENGTH, &name));
  NAPI_OK_GOTO(napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1,
                                               l, listen_tsfn_done, l,
                                               listen_call, &l->tsfn));
  l->tsfn_alive = 1;
  l->refs = 2;
  napi_unref_threadsafe_function(env, l->tsfn);
  l->d = d;
  d->refs++;
  int rc = ldb_commit_hook_add(d->db, listen_hook, l);
  if (rc != LDB_OK) {
    /* Nothing to remove: removing would replace the error's message. */
    l->d = NULL;
    db_unref(d);
    listen_release(l);
    listen_unref(l); /* the handle's reference: there is no handle */
    throw_ldb(env, rc);
    return NULL;
  }
  napi_value obj = wrap_new(env, l, &LISTEN_TAG, listen_finalize);
  if (obj == NULL) {
    listen_release(l);
    listen_unref(l);
    return NULL;
  }
  return obj;
fail:
  free(l);
  return NULL;
}

/* offCommit(listener): removes it; idempotent. */
napi_value js_off_commit(napi_env env, napi_callback_info info) {
  ARGS(1);
  nlisten *l = unwrap(env, argv[0], &LISTEN_TAG, "commit listener");
  if (l == NULL) return NULL;
  listen_release(l);
  return undefined(env);
}

/* refCommit(listener, keepAlive): whether the listener keeps the event loop
 * alive (a consumer awaiting the next commit does). */
napi_value js_ref_commit(napi_env env, napi_callback_info info) {
  ARGS(2);
  nlisten *l = unwrap(env, argv[0], &LISTEN_TAG, "commit listener");
  if (l == NULL) return NULL;
  bool on = false;
  NAPI_OK(env, napi_get_value_bool(env, argv[1], &on));
  if (!l->released) {
    if (on)
      napi_ref_threadsafe_function(env, l->tsfn);
    else
      napi_unref_threadsafe_function(env, l->tsfn);
  }
  return undefined(env);
}
