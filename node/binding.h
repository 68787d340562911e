/*
 * node/binding.h — private header of the Node-API addon: LightningDB's C API
 * as plain functions over opaque handles, which js/native/engine.ts turns
 * into the EngineDb / EngineTxn / EngineIterator objects of js/engine.ts.
 *
 * The addon is thin: it converts arguments (keys and values are read in
 * place from Uint8Array/Buffer, never copied on input), calls the C API and
 * maps errors (an Error whose .code is ldb_code_name() and whose message is
 * ldb_errmsg()). Encodings, bounds, retries and metrics live in js/; option
 * and statistic names live in the core's tables (ldb_option_table,
 * ldb_stat_table), which the addon walks. One file per concern:
 *   module.c     module setup, the export table, error mapping, argument
 *                conversion, the contract tables, version()
 *   handles.c    database and transaction handles and their lifetimes:
 *                open/close, begin/commit/abort, writes
 *   admin.c      flush, checkpoint, check, backup, stats, Prometheus text,
 *                events
 *   reads.c      get/txnGet/getMany and the shared read buffer
 *   iterators.c  iterator handles and chunked reads
 *   async.c      writeAsync/txnCommitAsync/flushAsync on the thread pool
 *   feed.c       change feed cursors and commit listeners
 *
 * Lifetimes. Three native structs back the handles: ndb (an ldb_db), ntxn
 * (an ldb_txn) and niter (an ldb_iter). Two things are tracked separately:
 *  - the C resource (ldb_db/ldb_txn/ldb_iter pointer; NULL once freed), and
 *  - the struct's memory, reference counted: an ndb is referenced by its JS
 *    handle, by every ntxn/niter struct that points at it and by every
 *    async work in flight; an ntxn by its handle, its iterators and an
 *    in-flight commit. Memory is freed at zero, so JS finalizers may run in
 *    any order (GC, worker exit, process exit) without a dangling pointer.
 * ldb_close never refuses: it invalidates the handle's open transactions
 * and iterators, which then answer LDB_CLOSED until freed, and ending a
 * transaction invalidates its iterators the same way; so the addon keeps no
 * lists of children. A child's C resource is freed by its close/abort call
 * or its finalizer, in any order relative to the database's. Two states are
 * the addon's own: a db whose close() waits for async work (closing: its
 * children answer CLOSED at once, ldb_close runs when the last work
 * completes; ldb_close must not run concurrently with a call on the db or
 * its children), and a transaction handed to an async commit (its
 * iterators answer CLOSED without reaching the core, which invalidates
 * them on the pool thread; closing one meanwhile is deferred until the
 * commit completes).
 *
 * Handles are type-tagged Externals (see wrap_new in handles.c).
 *
 * Context awareness: no JS state is global (NAPI_MODULE_INIT; the only
 * statics are constant type tags; the read buffer is instance data), so
 * the addon loads in worker_threads. Every JS function runs on the thread
 * of its env; the thread pool touches only the ldb handles of a work item
 * (ldb_db is thread-safe; the ldb_txn of an async commit is no longer
 * reachable from JS once queued).
 */
#ifndef LDB_NODE_BINDING_H
#define LDB_NODE_BINDING_H

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <stddef.h>
#include <stdint.h>

#include "lightningdb.h"

/* ---- errors and arguments (module.c) ------------------------------------ */

/* Throws for a failed napi call unless an exception is already pending. */
void throw_napi(napi_env env, const char *what);
/* An Error with .code = code (NULL when it cannot be made). */
napi_value make_error(napi_env env, const char *code, const char *msg);
/* Throws an Error with .code = code. */
void throw_code(napi_env env, const char *code, const char *msg);
/* A TypeError with code ERR_INVALID_ARG_TYPE, as Node's own APIs throw. */
void throw_type(napi_env env, const char *msg);
/* Throws the error of the library call that just returned rc on this
 * thread (code name and ldb_errmsg()). */
void throw_ldb(napi_env env, int rc);
/* Throws CLOSED: "the <what> is closed". */
void throw_closed(napi_env env, const char *what);

#define NAPI_OK(env, call)                                                     \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      throw_napi((env), #call);                                                \
      return NULL;                                                             \
    }                                                                          \
  } while (0)

/* NAPI_OK for functions that must release something: jumps to fail. */
#define NAPI_OK_GOTO(call)                                                     \
  do {                                                                         \
    if ((call) != napi_ok) {                                                   \
      throw_napi(env, #call);                                                  \
      goto fail;                                                               \
    }                                                                          \
  } while (0)

/* Fetches up to n arguments into argv (missing ones are undefined). */
#define ARGS(n)                                                                \
  size_t argc = (n);                                                           \
  napi_value argv[(n) > 0 ? (n) : 1];                                          \
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));          \
  for (size_t ai_ = argc; ai_ < (size_t)(n); ai_++)                            \
  NAPI_OK(env, napi_get_undefined(env, &argv[ai_]))

/* Reads a Uint8Array/Buffer in place: 0, or -1 with a TypeError thrown.
 * The pointer is valid during the current call only. */
int get_bytes(napi_env env, napi_value v, const char *what, const void **data,
              size_t *len);
/* 1 for undefined or null. */
int is_nullish(napi_env env, napi_value v);

/* Flags of a range argument (iterCreate, rangeCount, rangeDelete,
 * changesOpen). */
#define RANGE_LOWER_EXCLUSIVE 1u
#define RANGE_UPPER_EXCLUSIVE 2u
#define RANGE_REVERSE 4u
/* A range given positionally as args[0..3]: lower, upper, prefix (each a
 * Uint8Array read in place, or nullish: no bound) and flags (an integer
 * from 0 to max_flags, RANGE_*). 0, or -1 with a TypeError thrown. */
int get_range(napi_env env, const napi_value *args, uint32_t max_flags,
              ldb_iter_options *o);
/* A UTF-8 copy of a string argument (free()), or NULL with an error
 * thrown (TypeError; INVALID_ARGUMENT for an embedded NUL). */
char *get_string(napi_env env, napi_value v, const char *what);
/* undefined (NULL when even that fails; Node-API reads NULL as undefined). */
napi_value undefined(napi_env env);

/* ---- handles (handles.c) ------------------------------------------------- */

typedef struct ntxn ntxn;
typedef struct niter niter;

typedef struct ndb {
  ldb_db *db;       /* NULL once ldb_close ran */
  int closing;      /* close() called or handle finalized: ops -> CLOSED */
  int refs;         /* handle + child structs + async works */
  unsigned pending; /* async works using db right now */
} ndb;

struct ntxn {
  ldb_txn *txn; /* NULL once committed/aborted (or handed to a commit) */
  ndb *db;
  int refs;       /* handle + iterator structs + in-flight commit */
  int committing; /* an async commit of txn runs on the pool thread */
  niter *late;    /* iterators closed meanwhile, freed when it completes */
};

struct niter {
  ldb_iter *it; /* NULL once destroyed */
  ndb *db;
  ntxn *txn; /* the transaction iterated, or NULL */
  int state; /* 0: not positioned yet, 1: positioned, 2: exhausted */
  /* Closed or finalized while its transaction's async commit runs (which
   * invalidates it on the pool thread, so it must not be freed
   * concurrently): linked into txn->late; orphan: its handle is gone and
   * the struct is freed with it. */
  int late, orphan;
  niter *late_next;
};

extern const napi_type_tag DB_TAG, TXN_TAG, ITER_TAG;

/* A tagged handle for native (NULL with an error thrown; native is then
 * still the caller's). fin runs when the handle is collected. */
napi_value wrap_new(napi_env env, void *native, const napi_type_tag *tag,
                    napi_finalize fin);
/* The native struct behind a handle, or NULL with a TypeError thrown. */
void *unwrap(napi_env env, napi_value v, const napi_type_tag *tag,
             const char *what);
/* The open struct of a handle, or NULL with CLOSED/TypeError thrown. */
ndb *open_db(napi_env env, napi_value v);
ntxn *open_txn(napi_env env, napi_value v);
/* The (db, txn|null) pair of calls that run in a transaction or on the
 * latest commit: *t the open transaction (NULL when txn is nullish) and *d
 * its database (or db's). 0, or -1 with CLOSED/TypeError thrown. */
int open_scope(napi_env env, napi_value db, napi_value txn, ndb **d, ntxn **t);
/* The C handle of an open database handle (an ldb_db *), or with in_txn of
 * an open transaction handle (an ldb_txn *): for the calls both have
 * (get, put, delete); NULL with CLOSED/TypeError thrown. */
void *open_handle(napi_env env, napi_value v, int in_txn);

void db_unref(ndb *d);
void txn_unref(ntxn *t);
/* Runs ldb_close once the db is closing and no async work uses it; returns
 * its code (LDB_OK when it did not run). */
int db_close_if_idle(ndb *d);

/* ---- iterators (iterators.c) --------------------------------------------- */

/* After t's async commit: frees the iterators closed meanwhile. */
void txn_free_late_iters(ntxn *t);

/* ---- reads (reads.c) ----------------------------------------------------- */

/* The shared read buffer of an env (instance data): a Buffer kept alive by
 * a strong reference until the env is torn down. Values (and iterator
 * chunks) are read into its first READ_VAL_CAP bytes; the last
 * LDB_MAX_KEY_SIZE bytes are a key area that get/txnGet read a key from
 * when given its length (JS copies the key there: cheaper than passing a
 * TypedArray). js/native/ copies every byte out before its next call, and
 * never hands the buffer to users, so its memory stays attached in place. */
typedef struct read_buf {
  napi_ref ref;
  uint8_t *data;
  size_t cap; /* READ_VAL_CAP */
} read_buf;

#define READ_VAL_CAP (64u << 10)
#define READ_BUF_SIZE (READ_VAL_CAP + LDB_MAX_KEY_SIZE)

/* The env's read buffer, created on first use; NULL with an error thrown. */
read_buf *read_buf_get(napi_env env);

/* ---- exported functions --- */

/* handles.c */
napi_value js_open(napi_env env, napi_callback_info info);
napi_value js_close(napi_env env, napi_callback_info info);
napi_value js_put(napi_env env, napi_callback_info info);
napi_value js_del(napi_env env, napi_callback_info info);
napi_value js_write(napi_env env, napi_callback_info info);
napi_value js_begin(napi_env env, napi_callback_info info);
napi_value js_txn_put(napi_env env, napi_callback_info info);
napi_value js_txn_del(napi_env env, napi_callback_info info);
napi_value js_txn_commit(napi_env env, napi_callback_info info);
napi_value js_txn_abort(napi_env env, napi_callback_info info);
/* Builds a batch from parallel arrays keys[] and values[] (a nullish value
 * deletes); NULL with an error thrown. The batch copies every byte. */
ldb_batch *build_batch(napi_env env, ndb *d, napi_value keys,
                       napi_value values);

/* admin.c */
napi_value js_flush(napi_env env, napi_callback_info info);
napi_value js_checkpoint(napi_env env, napi_callback_info info);
napi_value js_check(napi_env env, napi_callback_info info);
napi_value js_backup(napi_env env, napi_callback_info info);
napi_value js_stats(napi_env env, napi_callback_info info);
napi_value js_prometheus(napi_env env, napi_callback_info info);
napi_value js_events(napi_env env, napi_callback_info info);

/* reads.c */
napi_value js_read_buffer(napi_env env, napi_callback_info info);
napi_value js_get(napi_env env, napi_callback_info info);
napi_value js_txn_get(napi_env env, napi_callback_info info);
napi_value js_get_many(napi_env env, napi_callback_info info);

/* iterators.c */
napi_value js_iter_create(napi_env env, napi_callback_info info);
/* ranges.c */
/* The arguments iterCreate, rangeCount and rangeDelete share: argv[0..1]
 * (db, txn|null) resolved by open_scope into d and t (txn: t's ldb_txn, or
 * NULL), argv[2..5] (lower, upper, prefix, flags 0..7) by get_range into o.
 * The bounds point into argv's buffers: valid during the call. */
typedef struct nrange {
  ndb *d;
  ntxn *t;
  ldb_txn *txn;
  ldb_iter_options o;
} nrange;
/* Fills *r from argv. 0, or -1 thrown. */
int range_args(napi_env env, const napi_value *argv, nrange *r);
napi_value js_range_count(napi_env env, napi_callback_info info);
napi_value js_range_delete(napi_env env, napi_callback_info info);
napi_value js_iter_seek(napi_env env, napi_callback_info info);
napi_value js_iter_next(napi_env env, napi_callback_info info);
napi_value js_iter_close(napi_env env, napi_callback_info info);

/* feed.c */
napi_value js_changes_open(napi_env env, napi_callback_info info);
napi_value js_changes_next(napi_env env, napi_callback_info info);
napi_value js_changes_close(napi_env env, napi_callback_info info);
napi_value js_on_commit(napi_env env, napi_callback_info info);
napi_value js_off_commit(napi_env env, napi_callback_info info);
napi_value js_ref_commit(napi_env env, napi_callback_info info);

/* async.c */
napi_value js_write_async(napi_env env, napi_callback_info info);
napi_value js_txn_commit_async(napi_env env, napi_callback_info info);
napi_value js_flush_async(napi_env env, napi_callback_info info);

#endif /* LDB_NODE_BINDING_H */
