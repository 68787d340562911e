/*
 * node/iterators.c — iterator handles (see binding.h for lifetimes) and
 * their chunked reads: iterNext packs up to max entries into the shared
 * read buffer with ldb_iter_read, and js/chunk.ts decodes them. An entry
 * larger than the read buffer comes back alone in a Buffer of its size.
 */
#include "binding.h"

#include <stdlib.h>
#include <string.h>

/* Frees i's ldb_iter (also one the core invalidated), or defers that
 * while its transaction's async commit runs. Idempotent. */
static void iter_destroy_resource(niter *i) {
  if (i->it == NULL || i->late) return;
  ntxn *t = i->txn;
  if (t != NULL && t->committing) {
    i->late = 1;
    i->late_next = t->late;
    t->late = i;
    return;
  }
  ldb_iter_destroy(i->it);
  i->it = NULL;
}

static void iter_free(niter *i) {
  ndb *d = i->db;
  ntxn *t = i->txn;
  free(i);
  if (t) txn_unref(t);
  db_unref(d);
}

void txn_free_late_iters(ntxn *t) {
  niter *i = t->late;
  t->late = NULL;
  t->committing = 0;
  while (i != NULL) {
    niter *next = i->late_next;
    ldb_iter_destroy(i->it);
    i->it = NULL;
    i->late = 0;
    if (i->orphan) iter_free(i); /* t stays referenced by the commit */
    i = next;
  }
}

static void iter_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  niter *i = data;
  iter_destroy_resource(i);
  if (i->late)
    i->orphan = 1; /* freed by txn_free_late_iters */
  else
    iter_free(i);
}

/* The iterator of a handle, or NULL with CLOSED/TypeError thrown. One
 * whose db is closing or whose transaction ended (or is being committed on
 * the thread pool, which invalidates it there) is not passed to the core. */
static niter *open_iter(napi_env env, napi_value v) {
  niter *i = unwrap(env, v, &ITER_TAG, "iterator");
  if (i == NULL) return NULL;
  if (i->it == NULL || i->late || i->db->closing ||
      (i->txn && i->txn->txn == NULL)) {
    throw_closed(env, "iterator");
    return NULL;
  }
  return i;
}

/* iterCreate(db, txn|null, lower|undefined, upper|undefined,
 * prefix|undefined, flags): an iterator over txn's snapshot (or a fresh one
 * of the latest commit), unpositioned. Options are positional (named
 * property lookups on an options object cost more than a short scan's
 * whole read). flags: 1 lowerExclusive, 2 upperExclusive, 4 reverse. */
napi_value js_iter_create(napi_env env, napi_callback_info info) {
  ARGS(6);
  nrange r;
  if (range_args(env, argv, &r)) return NULL;
  ndb *d = r.d;
  ntxn *t = r.t;
  niter *i = calloc(1, sizeof *i);
  if (i == NULL) {
    throw_code(env, "NO_MEMORY", "out of memory creating an iterator");
    return NULL;
  }
  int rc = ldb_iter_create(d->db, r.txn, &r.o, &i->it);
  if (rc != LDB_OK) {
    free(i);
    throw_ldb(env, rc);
    return NULL;
  }
  i->db = d;
  i->txn = t;
  napi_value obj = wrap_new(env, i, &ITER_TAG, iter_finalize);
  if (obj == NULL) {
    ldb_iter_destroy(i->it);
    free(i);
    return NULL;
  }
  d->refs++;
  if (t) t->refs++;
  return obj;
}

/* iterSeek(it, key?): positions at the first entry (in iteration order) at
 * or after key, or at the start of the range. */
napi_value js_iter_seek(napi_env env, napi_callback_info info) {
  ARGS(2);
  niter *i = open_iter(env, argv[0]);
  if (i == NULL) return NULL;
  int rc;
  if (is_nullish(env, argv[1])) {
    rc = ldb_iter_first(i->it);
  } else {
    const void *k;
    size_t kl;
    if (get_bytes(env, argv[1], "key", &k, &kl)) return NULL;
    rc = ldb_iter_seek(i->it, k, kl);
  }
  if (rc == LDB_OK)
    i->state = 1;
  else if (rc == LDB_NOTFOUND)
    i->state = 2;
  else
    throw_ldb(env, rc);
  return NULL;
}

/* The single entry at the iterator, larger than the read buffer (needs
 * `need` bytes), as a Buffer holding just that chunk. */
static napi_value read_one_large(napi_env env, niter *i, size_t need) {
  napi_value out;
  void *data = NULL;
  size_t count = 0, used = 0;
  NAPI_OK(env, napi_create_buffer(env, need, &data, &out));
  int rc = ldb_iter_read(i->it, data, need, 1, &count, &used);
  if (rc != LDB_OK) {
    throw_ldb(env, rc == LDB_NOTFOUND ? LDB_INTERNAL : rc);
    return NULL;
  }
  if (count != 1 || used != need) {
    throw_code(env, "INTERNAL", "ldb_iter_read changed an entry's size");
    return NULL;
  }
  return out;
}

/* iterNext(it, max): up to max entries from the current position, each
 * [u32 key_len][u32 value_len][key][value] little-endian as ldb_iter_read
 * writes them: the chunk's length in the read buffer (a number), a Buffer
 * holding one entry larger than the read buffer, or null at the end. */
napi_value js_iter_next(napi_env env, napi_callback_info info) {
  ARGS(2);
  niter *i = open_iter(env, argv[0]);
  if (i == NULL) return NULL;
  int64_t max = 0;
  if (napi_get_value_int64(env, argv[1], &max) != napi_ok || max < 1) {
    throw_type(env, "max must be a positive number");
    return NULL;
  }
  read_buf *rb = read_buf_get(env);
  if (rb == NULL) return NULL;
  napi_value out;
  int rc;
  if (i->state == 0) {
    rc = ldb_iter_first(i->it);
    if (rc == LDB_NOTFOUND)
      i->state = 2;
    else if (rc != LDB_OK) {
      throw_ldb(env, rc);
      return NULL;
    } else
      i->state = 1;
  }
  if (i->state == 2) {
    NAPI_OK(env, napi_get_null(env, &out));
    return out;
  }
  size_t count = 0, used = 0;
  rc = ldb_iter_read(i->it, rb->data, rb->cap, (size_t)max, &count, &used);
  if (rc == LDB_NOTFOUND) {
    i->state = 2;
    NAPI_OK(env, napi_get_null(env, &out));
    return out;
  }
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  if (count > 0) {
    NAPI_OK(env, napi_create_double(env, (double)used, &out));
    return out;
  }
  if (used <= rb->cap) { /* no progress and nothing needed: a core bug */
    throw_code(env, "INTERNAL", "ldb_iter_read made no progress");
    return NULL;
  }
  return read_one_large(env, i, used);
}

/* iterClose(it): idempotent. */
napi_value js_iter_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  niter *i = unwrap(env, argv[0], &ITER_TAG, "iterator");
  if (i == NULL) return NULL;
  iter_destroy_resource(i);
  return NULL;
}
