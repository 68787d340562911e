/*
 * node/binding.c — the Node-API addon: LightningDB's C API as a set of plain
 * functions over opaque handles (js/native.ts turns them into the EngineDb /
 * EngineTxn / EngineIterator objects of js/engine.ts).
 *
 * Owns: argument conversion (keys and values are read in place from
 * Uint8Array/Buffer, never copied on input), error mapping (an Error whose
 * .code is ldb_code_name() and whose message is ldb_errmsg()), async work on
 * the libuv thread pool for the calls that wait on a sync, and lifetimes.
 * Not responsible for encodings, bound semantics, retries or metrics
 * arithmetic: those live in js/.
 *
 * Lifetimes. Three native structs back the handles: ndb (an ldb_db), ntxn
 * (an ldb_txn) and niter (an ldb_iter). Two things are tracked separately:
 *  - the C resource (ldb_db/ldb_txn/ldb_iter pointer; NULL once ended), and
 *  - the struct's memory, reference counted: an ndb is referenced by its JS
 *    wrapper, by every ntxn/niter struct that points at it and by every
 *    async work in flight; an ntxn by its wrapper, its iterators and an
 *    in-flight commit. Memory is freed at zero, so JS finalizers may run in
 *    any order (GC, worker exit, process exit) without a dangling pointer.
 * The C API requires iterators to be destroyed before their transaction
 * ends and everything to be ended before ldb_close: the ndb keeps lists of
 * its live transactions and iterators so close() (or the db wrapper's
 * finalizer) ends them first, and ending a transaction destroys its
 * iterators first. Ended handles throw CLOSED; nothing is ever used after
 * free. A close() while async work is running marks the handle closed at
 * once and performs ldb_close when the last work completes.
 *
 * Hot paths. Handles are type-tagged Externals (see wrap_new). Reads go
 * through a per-env shared read buffer (readBuffer(), instance data):
 * getShared/txnGetShared take the key from its tail and return the value's
 * length, getManyShared and iterNextShared pack into it, and js/native.ts
 * copies the bytes out (into pooled Buffers) before the next call, so a
 * small read creates no Buffer with its own backing store.
 *
 * Context awareness: no JS state is global (NAPI_MODULE_INIT; the only
 * statics are constant type tags; the read buffer is instance data), so
 * the addon loads in worker_threads.
 * Every JS function runs on the thread of its env; the thread pool touches
 * only the ldb handles of a work item (ldb_db is thread-safe; the ldb_txn of
 * an async commit is no longer reachable from JS once queued).
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lightningdb.h"

/* ---- errors ------------------------------------------------------------ */

/* Throws for a failed napi call unless an exception is already pending
 * (e.g. a getter on an options object threw). */
static void throw_napi(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  char msg[256];
  if (napi_get_last_error_info(env, &info) != napi_ok) info = NULL;
  snprintf(msg, sizeof msg, "Node-API call failed in %s: %s", what,
           info && info->error_message ? info->error_message : "unknown");
  if (napi_throw_error(env, "INTERNAL", msg) != napi_ok) return;
}

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

/* An Error with .code = code and the given message (NULL on failure). */
static napi_value make_error(napi_env env, const char *code, const char *msg) {
  napi_value c, m, err;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m) != napi_ok ||
      napi_create_error(env, c, m, &err) != napi_ok)
    return NULL;
  return err;
}

/* A TypeError with code ERR_INVALID_ARG_TYPE, as Node's own APIs throw. If
 * throwing fails an exception is already pending, which the caller's
 * NULL return propagates. */
static void throw_type(napi_env env, const char *msg) {
  if (napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg) != napi_ok) return;
}

static void throw_code(napi_env env, const char *code, const char *msg) {
  napi_value err = make_error(env, code, msg);
  if (err == NULL || napi_throw(env, err) != napi_ok) {
    /* last resort; if even this fails the call returns undefined */
    if (napi_throw_error(env, code, msg) != napi_ok) return;
  }
}

/* Throws the error of the library call that just returned rc on this
 * thread. */
static void throw_ldb(napi_env env, int rc) {
  const char *msg = ldb_errmsg(NULL);
  if (msg == NULL || msg[0] == '\0') msg = ldb_strerror(rc);
  throw_code(env, ldb_code_name(rc), msg);
}

static void throw_closed(napi_env env, const char *what) {
  char msg[128];
  snprintf(msg, sizeof msg, "the %s is closed", what);
  throw_code(env, "CLOSED", msg);
}

/* ---- native structs ---------------------------------------------------- */

typedef struct ntxn ntxn;
typedef struct niter niter;

typedef struct ndb {
  ldb_db *db;        /* NULL once ldb_close ran */
  int closing;       /* close() called or wrapper finalized: ops -> CLOSED */
  int refs;          /* wrapper + child structs + async works */
  unsigned pending;  /* async works using db right now */
  ntxn *txns;        /* live (not ended) transactions, linked */
  niter *iters;      /* live (not destroyed) iterators, linked */
  uint8_t *scratch;  /* reusable buffer for get (JS thread only) */
  size_t scratch_cap;
  /* one ITER_BUF_INITIAL buffer kept from a closed iterator for the next
   * (JS thread only): a short scan (seek + a few entries) otherwise paid a
   * 64 KiB malloc/free pair, which trims and regrows the heap in the
   * kernel each time */
  uint8_t *iter_spare;
} ndb;

struct ntxn {
  ldb_txn *txn; /* NULL once committed/aborted (or handed to a commit) */
  ndb *db;
  int readonly;
  int refs; /* wrapper + iterator structs + in-flight commit */
  ntxn *prev, *next;
};

struct niter {
  ldb_iter *it; /* NULL once destroyed */
  ndb *db;
  ntxn *txn;    /* the transaction iterated, or NULL */
  int state;    /* 0: not positioned yet, 1: positioned, 2: exhausted */
  uint8_t *buf; /* ldb_iter_read buffer */
  size_t cap;
  niter *prev, *next;
};

#define SCRATCH_INITIAL (16u << 10)
#define ITER_BUF_INITIAL (64u << 10)

static const napi_type_tag DB_TAG = {0x4c444244425f5441ULL,
                                     0x9e3779b97f4a7c15ULL};
static const napi_type_tag TXN_TAG = {0x4c444254584e5f54ULL,
                                      0xc2b2ae3d27d4eb4fULL};
static const napi_type_tag ITER_TAG = {0x4c44424954455254ULL,
                                       0x165667b19e3779f9ULL};

static void db_unref(ndb *d) {
  if (--d->refs > 0) return;
  /* Every path that drops the last reference has closed the db already;
   * closing here too keeps a bug from leaking the engine lock. */
  if (d->db) ldb_close(d->db);
  free(d->scratch);
  free(d->iter_spare);
  free(d);
}

static void txn_unref(ntxn *t) {
  if (--t->refs > 0) return;
  ndb *d = t->db;
  free(t);
  db_unref(d);
}

static void iter_destroy_resource(niter *i) {
  if (i->it == NULL) return;
  ldb_iter_destroy(i->it);
  i->it = NULL;
  if (i->prev) i->prev->next = i->next;
  else i->db->iters = i->next;
  if (i->next) i->next->prev = i->prev;
  i->prev = i->next = NULL;
}

/* Unlinks t from its db's live list (its ldb_txn is ended or handed off). */
static void txn_unlink(ntxn *t) {
  if (t->prev) t->prev->next = t->next;
  else t->db->txns = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = NULL;
}

/* Destroys the live iterators of t (required before t's ldb_txn ends). */
static void txn_destroy_iters(ntxn *t) {
  niter *i = t->db->iters;
  while (i) {
    niter *next = i->next;
    if (i->txn == t) iter_destroy_resource(i);
    i = next;
  }
}

static void txn_abort_resource(ntxn *t) {
  if (t->txn == NULL) return;
  txn_destroy_iters(t);
  ldb_txn_abort(t->txn);
  t->txn = NULL;
  txn_unlink(t);
}

/* Ends every child resource, then closes the ldb_db unless async work
 * still uses it (then the last completion closes it). Returns ldb_close's
 * code, or LDB_OK. */
static int db_close_resource(ndb *d) {
  d->closing = 1;
  while (d->iters) iter_destroy_resource(d->iters);
  while (d->txns) txn_abort_resource(d->txns);
  if (d->pending > 0 || d->db == NULL) return LDB_OK;
  int rc = ldb_close(d->db);
  if (rc != LDB_BUSY) d->db = NULL;
  return rc;
}

static void db_finalize(napi_env env, void *data, void *hint) {
  ndb *d = data;
  db_close_resource(d);
  db_unref(d);
}

static void txn_finalize(napi_env env, void *data, void *hint) {
  ntxn *t = data;
  txn_abort_resource(t);
  txn_unref(t);
}

/* Frees an iterator's read buffer, or keeps it as its db's spare. */
static void iter_release_buf(niter *i) {
  if (i->buf != NULL && i->cap == ITER_BUF_INITIAL && i->db->iter_spare == NULL)
    i->db->iter_spare = i->buf;
  else
    free(i->buf);
  i->buf = NULL;
  i->cap = 0;
}

static void iter_finalize(napi_env env, void *data, void *hint) {
  niter *i = data;
  ndb *d = i->db;
  ntxn *t = i->txn;
  iter_destroy_resource(i);
  iter_release_buf(i);
  free(i);
  if (t) txn_unref(t);
  db_unref(d);
}

/* Handles are tagged Externals: checking an External's type tag and
 * reading its pointer are plain C++ field reads in Node, where a wrapped
 * object costs two private-property lookups (the tag, then the wrap) on
 * every call — about a third of a cached get's time. The tag keeps a
 * foreign External (another addon's) from ever being dereferenced as ours.
 * A Node that cannot tag Externals (type tags on Externals are newer than
 * tags on objects) gets tagged wrapped objects instead; unwrap() accepts
 * both. On failure no finalizer is attached and the caller cleans up. */
static napi_value wrap_new(napi_env env, void *native, const napi_type_tag *tag,
                           napi_finalize fin) {
  napi_value obj;
  if (napi_create_external(env, native, NULL, NULL, &obj) == napi_ok &&
      napi_type_tag_object(env, obj, tag) == napi_ok) {
    /* the finalizer is attached last, so a failure before it leaves
     * native to the caller alone */
    if (napi_add_finalizer(env, obj, native, fin, NULL, NULL) == napi_ok)
      return obj;
  } else {
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && !pending &&
        napi_create_object(env, &obj) == napi_ok &&
        napi_type_tag_object(env, obj, tag) == napi_ok &&
        napi_wrap(env, obj, native, fin, NULL, NULL) == napi_ok)
      return obj;
  }
  throw_napi(env, "wrap");
  return NULL;
}

/* The native struct behind a handle argument, or NULL with a TypeError
 * thrown. */
static void *unwrap(napi_env env, napi_value v, const napi_type_tag *tag,
                    const char *what) {
  napi_valuetype type;
  bool ok = false;
  void *p = NULL;
  if (napi_typeof(env, v, &type) != napi_ok ||
      (type != napi_external && type != napi_object) ||
      napi_check_object_type_tag(env, v, tag, &ok) != napi_ok || !ok ||
      (type == napi_external ? napi_get_value_external(env, v, &p)
                             : napi_unwrap(env, v, &p)) != napi_ok ||
      p == NULL) {
    char msg[96];
    snprintf(msg, sizeof msg, "expected a LightningDB %s handle", what);
    throw_type(env, msg);
    return NULL;
  }
  return p;
}

/* The open ndb of a db handle, or NULL with CLOSED/TypeError thrown. */
static ndb *open_db(napi_env env, napi_value v) {
  ndb *d = unwrap(env, v, &DB_TAG, "database");
  if (d == NULL) return NULL;
  if (d->closing || d->db == NULL) {
    throw_closed(env, "database");
    return NULL;
  }
  return d;
}

static ntxn *open_txn(napi_env env, napi_value v) {
  ntxn *t = unwrap(env, v, &TXN_TAG, "transaction");
  if (t == NULL) return NULL;
  if (t->txn == NULL || t->db->closing) {
    throw_closed(env, "transaction");
    return NULL;
  }
  return t;
}

static niter *open_iter(napi_env env, napi_value v) {
  niter *i = unwrap(env, v, &ITER_TAG, "iterator");
  if (i == NULL) return NULL;
  if (i->it == NULL || i->db->closing) {
    throw_closed(env, "iterator");
    return NULL;
  }
  return i;
}

/* ---- argument conversion ------------------------------------------------ */

static const uint8_t empty_bytes[1] = {0};

/* Reads a Uint8Array/Buffer in place. Returns 0, or -1 with a TypeError
 * thrown. The pointer is valid during the current call only. */
static int get_bytes(napi_env env, napi_value v, const char *what,
                     const void **data, size_t *len) {
  napi_typedarray_type type;
  void *p = NULL;
  size_t n = 0;
  /* napi_get_typedarray_info itself refuses a non-TypedArray (napi_invalid_arg,
   * no exception), so no separate napi_is_typedarray on this hot path */
  if (napi_get_typedarray_info(env, v, &type, &n, &p, NULL, NULL) !=
          napi_ok ||
      (type != napi_uint8_array && type != napi_uint8_clamped_array)) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a Uint8Array or Buffer", what);
    throw_type(env, msg);
    return -1;
  }
  *data = (n == 0 || p == NULL) ? (const void *)empty_bytes : p;
  *len = n;
  return 0;
}

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  return t == napi_undefined || t == napi_null;
}

/* A UTF-8 copy of a string argument (free()), or NULL with an error
 * thrown. */
static char *get_string(napi_env env, napi_value v, const char *what) {
  size_t n = 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s must be a string", what);
    throw_type(env, msg);
    return NULL;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) {
    throw_napi(env, "napi_get_value_string_utf8");
    return NULL;
  }
  char *s = malloc(n + 1);
  if (s == NULL) {
    throw_code(env, "NO_MEMORY", "out of memory copying a string");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, v, s, n + 1, &n) != napi_ok) {
    free(s);
    throw_napi(env, "napi_get_value_string_utf8");
    return NULL;
  }
  if (strlen(s) != n) {
    free(s);
    char msg[96];
    snprintf(msg, sizeof msg, "%s must not contain NUL characters", what);
    throw_code(env, "INVALID_ARGUMENT", msg);
    return NULL;
  }
  return s;
}

/* Optional property `name` of obj: 0 absent/undefined, 1 present (in *out),
 * -1 on failure (thrown). */
static int get_prop(napi_env env, napi_value obj, const char *name,
                    napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, name, &has) != napi_ok ||
      (has && napi_get_named_property(env, obj, name, out) != napi_ok)) {
    throw_napi(env, name);
    return -1;
  }
  if (!has || is_nullish(env, *out)) return 0;
  return 1;
}

/* A non-negative integral number option no larger than max. */
static int opt_uint(napi_env env, napi_value obj, const char *name,
                    double max, uint64_t *out) {
  napi_value v;
  int r = get_prop(env, obj, name, &v);
  if (r <= 0) return r;
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "option %s must be a number", name);
    throw_type(env, msg);
    return -1;
  }
  if (!(d >= 0) || d > max || d != (double)(uint64_t)d) {
    char msg[128];
    snprintf(msg, sizeof msg,
             "option %s must be a non-negative integer no larger than %.0f",
             name, max);
    throw_code(env, "INVALID_ARGUMENT", msg);
    return -1;
  }
  *out = (uint64_t)d;
  return 1;
}

static int opt_bool(napi_env env, napi_value obj, const char *name, int *out) {
  napi_value v;
  int r = get_prop(env, obj, name, &v);
  if (r <= 0) return r;
  bool b;
  if (napi_get_value_bool(env, v, &b) != napi_ok) {
    char msg[96];
    snprintf(msg, sizeof msg, "option %s must be a boolean", name);
    throw_type(env, msg);
    return -1;
  }
  *out = b ? 1 : 0;
  return 1;
}

/* Fills o from the EngineOpenOptions object v (undefined: defaults).
 * Returns 0 or -1 (thrown). */
static int parse_open_options(napi_env env, napi_value v, ldb_options *o) {
  ldb_options_default(o);
  if (is_nullish(env, v)) return 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_object) {
    throw_type(env,
                          "options must be an object");
    return -1;
  }
  const double u32max = 4294967295.0, u64max = 9007199254740991.0;
  uint64_t u;
  int b, r;
  if ((r = opt_uint(env, v, "pageSize", u32max, &u)) < 0) return -1;
  if (r) o->page_size = (uint32_t)u;
  if ((r = opt_uint(env, v, "cacheSize", u64max, &u)) < 0) return -1;
  if (r) o->cache_size = u;
  if ((r = opt_uint(env, v, "compression", 1000, &u)) < 0) return -1;
  if (r) o->compression = (int)u;
  if ((r = opt_uint(env, v, "compressionLevel", 1000, &u)) < 0) return -1;
  if (r) o->compression_level = (int)u;
  if ((r = opt_uint(env, v, "syncMode", 1000, &u)) < 0) return -1;
  if (r) o->sync_mode = (int)u;
  if ((r = opt_uint(env, v, "syncIntervalMs", u32max, &u)) < 0) return -1;
  if (r) o->sync_interval_ms = (uint32_t)u;
  if ((r = opt_bool(env, v, "createIfMissing", &b)) < 0) return -1;
  if (r) o->create_if_missing = b;
  if ((r = opt_bool(env, v, "errorIfExists", &b)) < 0) return -1;
  if (r) o->error_if_exists = b;
  if ((r = opt_bool(env, v, "readOnly", &b)) < 0) return -1;
  if (r) o->read_only = b;
  if ((r = opt_uint(env, v, "memtableSize", u64max, &u)) < 0) return -1;
  if (r) o->memtable_size = u;
  if ((r = opt_uint(env, v, "maxActiveTransactions", u32max, &u)) < 0)
    return -1;
  if (r) o->max_active_txns = (uint32_t)u;
  if ((r = opt_bool(env, v, "backgroundCheckpoint", &b)) < 0) return -1;
  if (r) o->background_checkpoint = b;
  return 0;
}

/* argv helper: fetches up to n arguments (missing ones are undefined). */
#define ARGS(n)                                                                \
  size_t argc = (n);                                                           \
  napi_value argv[(n) > 0 ? (n) : 1];                                          \
  NAPI_OK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));          \
  for (size_t ai_ = argc; ai_ < (size_t)(n); ai_++)                            \
    NAPI_OK(env, napi_get_undefined(env, &argv[ai_]))

/* undefined (NULL also reads as undefined to Node-API callers). */
static napi_value undefined(napi_env env) {
  napi_value u = NULL;
  if (napi_get_undefined(env, &u) != napi_ok) return NULL;
  return u;
}

/* ---- reads --------------------------------------------------------------- */

typedef int (*get_buf_fn)(void *h, const void *k, size_t kl, void *buf,
                          size_t cap, size_t *len);
static int db_get_buf(void *h, const void *k, size_t kl, void *buf,
                      size_t cap, size_t *len) {
  return ldb_get_buf(h, k, kl, buf, cap, len);
}
static int txn_get_buf(void *h, const void *k, size_t kl, void *buf,
                       size_t cap, size_t *len) {
  return ldb_txn_get_buf(h, k, kl, buf, cap, len);
}

/* Finishes a lookup whose first attempt (into buf, cap bytes) returned rc
 * and len: a new Buffer with the value, or undefined when absent. A value
 * that fit is copied out of buf; a larger one is read straight into a
 * Buffer of its size, retrying if it grew in between (another thread may
 * commit meanwhile when reading the latest commit). */
static napi_value finish_read(napi_env env, get_buf_fn fn, void *h,
                              const void *k, size_t kl, const void *buf,
                              size_t cap, int rc, size_t len) {
  napi_value out;
  for (;;) {
    if (rc == LDB_NOTFOUND) return undefined(env);
    if (rc != LDB_OK) {
      throw_ldb(env, rc);
      return NULL;
    }
    if (len <= cap) {
      NAPI_OK(env, napi_create_buffer_copy(env, len, buf, NULL, &out));
      return out;
    }
    void *data = NULL;
    size_t want = len;
    NAPI_OK(env, napi_create_buffer(env, want, &data, &out));
    rc = fn(h, k, kl, data, want, &len);
    if (rc == LDB_OK && len == want) return out;
    /* shorter now: copy out of data; absent, failed or grew: the top of
     * the loop handles each (cap > want cannot recur: want > cap) */
    buf = data;
    cap = want;
  }
}

/* Looks key up through fn and returns a new Buffer with the value, or
 * undefined when absent; small values go through the db's scratch buffer. */
static napi_value read_value(napi_env env, ndb *d, get_buf_fn fn, void *h,
                             const void *k, size_t kl) {
  size_t len = 0;
  int rc = fn(h, k, kl, d->scratch, d->scratch_cap, &len);
  return finish_read(env, fn, h, k, kl, d->scratch, d->scratch_cap, rc, len);
}

/* The shared read buffer of an env (instance data): a Buffer created by
 * readBuffer() and kept alive by a strong reference until the env is torn
 * down. getInto/txnGetInto write values into it and return their length,
 * so the common small read allocates nothing natively: js/native.ts copies
 * the bytes into a pooled Buffer (much cheaper than a Buffer with its own
 * backing store, whose allocation and sweeping dominated a get). The
 * Buffer is private to js/native.ts (never handed to users, never
 * transferred), so its memory stays attached and in place. */
typedef struct {
  napi_ref ref;
  uint8_t *data;
  size_t cap;
} read_buf;

/* Layout: values in [0, READ_VAL_CAP), and the last LDB_MAX_KEY_SIZE
 * bytes a key area that getShared/txnGetShared read their key from (JS
 * copies the key there: cheaper than napi_get_typedarray_info). Disjoint,
 * so a lookup never writes over the key it is reading. */
#define READ_VAL_CAP (64u << 10)
#define READ_BUF_SIZE (READ_VAL_CAP + LDB_MAX_KEY_SIZE)
/* A single get returns values up to this size through the read buffer; a
 * larger one is read again straight into a Buffer of its size (a second
 * lookup costs less than copying a big value twice, and such Buffers are
 * not pooled anyway: read64k was 0.76x lmdb-js with 64 KiB values inline). */
#define READ_INLINE_MAX (16u << 10)

static void read_buf_finalize(napi_env env, void *data, void *hint) {
  read_buf *rb = data;
  (void)hint;
  if (rb->ref && napi_delete_reference(env, rb->ref) != napi_ok) { /* env going away */ }
  free(rb);
}

static read_buf *get_read_buf(napi_env env) {
  void *p = NULL;
  if (napi_get_instance_data(env, &p) != napi_ok) return NULL;
  return p;
}

/* readBuffer(): the env's shared read buffer (created on the first call). */
static napi_value js_read_buffer(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  read_buf *rb = get_read_buf(env);
  if (rb != NULL) {
    NAPI_OK(env, napi_get_reference_value(env, rb->ref, &out));
    return out;
  }
  rb = calloc(1, sizeof *rb);
  if (rb == NULL) {
    throw_code(env, "NO_MEMORY", "out of memory creating the read buffer");
    return NULL;
  }
  void *data = NULL;
  if (napi_create_buffer(env, READ_BUF_SIZE, &data, &out) != napi_ok ||
      napi_create_reference(env, out, 1, &rb->ref) != napi_ok) {
    free(rb);
    throw_napi(env, "creating the read buffer");
    return NULL;
  }
  rb->data = data;
  rb->cap = READ_VAL_CAP;
  if (napi_set_instance_data(env, rb, read_buf_finalize, NULL) != napi_ok) {
    if (napi_delete_reference(env, rb->ref) != napi_ok) { /* leaks the ref */ }
    free(rb);
    throw_napi(env, "napi_set_instance_data");
    return NULL;
  }
  return out;
}

/* Looks key up into the shared read buffer: its length (a number) when it
 * is at most READ_INLINE_MAX bytes, -1 when absent, or (no read buffer
 * yet, or a larger value) a new Buffer with the value. */
static napi_value read_into(napi_env env, ndb *d, get_buf_fn fn, void *h,
                            const void *k, size_t kl) {
  read_buf *rb = get_read_buf(env);
  if (rb == NULL) return read_value(env, d, fn, h, k, kl);
  size_t len = 0, cap = rb->cap < READ_INLINE_MAX ? rb->cap : READ_INLINE_MAX;
  int rc = fn(h, k, kl, rb->data, cap, &len);
  napi_value out;
  if (rc == LDB_OK && len <= cap) {
    NAPI_OK(env, napi_create_int32(env, (int32_t)len, &out));
    return out;
  }
  if (rc == LDB_NOTFOUND) {
    NAPI_OK(env, napi_create_int32(env, -1, &out));
    return out;
  }
  return finish_read(env, fn, h, k, kl, rb->data, cap, rc, len);
}

static napi_value js_get(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  const void *k;
  size_t kl;
  if (d == NULL || get_bytes(env, argv[1], "key", &k, &kl)) return NULL;
  return read_value(env, d, db_get_buf, d->db, k, kl);
}

/* The key a getShared/txnGetShared call names by its length (argument 1)
 * in the read buffer's key area. Returns 0, or -1 with an exception. */
static int shared_key(napi_env env, napi_value len, const void **k,
                      size_t *kl) {
  read_buf *rb = get_read_buf(env);
  double n = -1;
  if (rb == NULL) {
    throw_code(env, "INTERNAL", "readBuffer() was not called");
    return -1;
  }
  /* a double, not napi_get_value_uint32, which wraps 2^32 + 1 to 1 */
  if (napi_get_value_double(env, len, &n) != napi_ok || !(n >= 0) ||
      n > LDB_MAX_KEY_SIZE || n != (double)(size_t)n) {
    throw_type(env, "key length must be a number up to the key area size");
    return -1;
  }
  *k = rb->data + READ_VAL_CAP;
  *kl = (size_t)n;
  return 0;
}

/* getShared(db, keyLength): getInto with the key taken from the read
 * buffer's key area. */
static napi_value js_get_shared(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  const void *k;
  size_t kl;
  if (d == NULL || shared_key(env, argv[1], &k, &kl)) return NULL;
  return read_into(env, d, db_get_buf, d->db, k, kl);
}

/* getInto(db, key): read_into over the latest commit. */
static napi_value js_get_into(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  const void *k;
  size_t kl;
  if (d == NULL || get_bytes(env, argv[1], "key", &k, &kl)) return NULL;
  return read_into(env, d, db_get_buf, d->db, k, kl);
}

/* getMany(db, keys[]): every key read from one read-only snapshot. */
static napi_value js_get_many(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  bool is_arr = false;
  uint32_t n = 0;
  NAPI_OK(env, napi_is_array(env, argv[1], &is_arr));
  if (!is_arr) {
    throw_type(env, "keys must be an array");
    return NULL;
  }
  NAPI_OK(env, napi_get_array_length(env, argv[1], &n));
  napi_value out;
  NAPI_OK(env, napi_create_array_with_length(env, n, &out));
  ldb_txn *txn = NULL;
  int rc = ldb_txn_begin(d->db, LDB_TXN_READONLY, &txn);
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value kv, v;
    const void *k;
    size_t kl;
    if (napi_get_element(env, argv[1], i, &kv) != napi_ok) {
      throw_napi(env, "napi_get_element");
      goto fail;
    }
    if (get_bytes(env, kv, "key", &k, &kl)) goto fail;
    v = read_value(env, d, txn_get_buf, txn, k, kl);
    if (v == NULL || napi_set_element(env, out, i, v) != napi_ok) {
      if (v != NULL) throw_napi(env, "napi_set_element");
      goto fail;
    }
  }
  ldb_txn_abort(txn);
  return out;
fail:
  ldb_txn_abort(txn);
  return NULL;
}

/* getManyShared(db, keys[]): getMany through the read buffer, one
 * snapshot. Layout of the buffer's value area: [i32 m] then, for keys
 * 0..m-1 in order, [i32 len][len bytes] (len -1: absent; -2: the value did
 * not fit and is spill[i]). Keys m..n-1 (the area ran out) are all in
 * spill: a Buffer, or undefined when absent. Returns m as a number when
 * nothing spilled, else the spill array (length n). Little-endian i32. */
static napi_value js_get_many_shared(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  read_buf *rb = get_read_buf(env);
  if (rb == NULL) {
    throw_code(env, "INTERNAL", "readBuffer() was not called");
    return NULL;
  }
  bool is_arr = false;
  uint32_t n = 0;
  NAPI_OK(env, napi_is_array(env, argv[1], &is_arr));
  if (!is_arr) {
    throw_type(env, "keys must be an array");
    return NULL;
  }
  NAPI_OK(env, napi_get_array_length(env, argv[1], &n));
  napi_value spill = NULL, result = NULL;
  ldb_txn *txn = NULL;
  int rc = ldb_txn_begin(d->db, LDB_TXN_READONLY, &txn);
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  uint8_t *base = rb->data;
  size_t cap = rb->cap, pos = 4;
  uint32_t m = 0;
  int inline_ok = 1; /* still describing keys in the buffer */
  for (uint32_t i = 0; i < n; i++) {
    napi_value kv, v = NULL;
    const void *k;
    size_t kl, len = 0;
    if (napi_get_element(env, argv[1], i, &kv) != napi_ok) {
      throw_napi(env, "napi_get_element");
      goto fail;
    }
    if (get_bytes(env, kv, "key", &k, &kl)) goto fail;
    if (inline_ok && cap - pos < 4) inline_ok = 0;
    if (inline_ok) {
      int32_t hdr;
      rc = ldb_txn_get_buf(txn, k, kl, base + pos + 4, cap - pos - 4, &len);
      if (rc == LDB_NOTFOUND) {
        hdr = -1;
      } else if (rc == LDB_OK && len <= cap - pos - 4) {
        hdr = (int32_t)len;
      } else if (rc == LDB_OK) {
        hdr = -2;
        v = finish_read(env, txn_get_buf, txn, k, kl, NULL, 0, rc, len);
        if (v == NULL) goto fail;
      } else {
        throw_ldb(env, rc);
        goto fail;
      }
      memcpy(base + pos, &hdr, 4);
      pos += 4 + (hdr > 0 ? (size_t)hdr : 0);
      m++;
      if (v == NULL) continue;
    } else {
      v = read_value(env, d, txn_get_buf, txn, k, kl);
      if (v == NULL) goto fail;
    }
    if (spill == NULL) NAPI_OK_GOTO(napi_create_array_with_length(env, n, &spill));
    NAPI_OK_GOTO(napi_set_element(env, spill, i, v));
  }
  memcpy(base, &m, 4);
  ldb_txn_abort(txn);
  if (spill != NULL) return spill;
  NAPI_OK(env, napi_create_uint32(env, m, &result));
  return result;
fail:
  ldb_txn_abort(txn);
  return NULL;
}

/* ---- single writes ------------------------------------------------------- */

static napi_value js_put(napi_env env, napi_callback_info info) {
  ARGS(3);
  ndb *d = open_db(env, argv[0]);
  const void *k, *v;
  size_t kl, vl;
  if (d == NULL || get_bytes(env, argv[1], "key", &k, &kl) ||
      get_bytes(env, argv[2], "value", &v, &vl))
    return NULL;
  int rc = ldb_put(d->db, k, kl, v, vl);
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

static napi_value js_del(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  const void *k;
  size_t kl;
  if (d == NULL || get_bytes(env, argv[1], "key", &k, &kl)) return NULL;
  int rc = ldb_delete(d->db, k, kl);
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

/* Builds a batch from parallel arrays keys[] and values[] (a nullish value
 * means delete). Returns the batch (the caller destroys it) or NULL with an
 * error thrown. The batch copies every key and value. */
static ldb_batch *build_batch(napi_env env, ndb *d, napi_value keys,
                              napi_value values) {
  bool ka = false, va = false;
  uint32_t n = 0, nv = 0;
  ldb_batch *b = NULL;
  if (napi_is_array(env, keys, &ka) != napi_ok ||
      napi_is_array(env, values, &va) != napi_ok) {
    throw_napi(env, "napi_is_array");
    return NULL;
  }
  if (!ka || !va) {
    throw_type(env,
                          "keys and values must be arrays");
    return NULL;
  }
  if (napi_get_array_length(env, keys, &n) != napi_ok ||
      napi_get_array_length(env, values, &nv) != napi_ok) {
    throw_napi(env, "napi_get_array_length");
    return NULL;
  }
  if (n != nv) {
    throw_code(env, "INVALID_ARGUMENT",
               "keys and values must have the same length");
    return NULL;
  }
  int rc = ldb_batch_create(d->db, &b);
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value kv, vv;
    const void *k, *v;
    size_t kl, vl;
    if (napi_get_element(env, keys, i, &kv) != napi_ok ||
        napi_get_element(env, values, i, &vv) != napi_ok) {
      throw_napi(env, "napi_get_element");
      goto fail;
    }
    if (get_bytes(env, kv, "key", &k, &kl)) goto fail;
    if (is_nullish(env, vv)) {
      rc = ldb_batch_delete(b, k, kl);
    } else {
      if (get_bytes(env, vv, "value", &v, &vl)) goto fail;
      rc = ldb_batch_put(b, k, kl, v, vl);
    }
    if (rc != LDB_OK) {
      throw_ldb(env, rc);
      goto fail;
    }
  }
  return b;
fail:
  ldb_batch_destroy(b);
  return NULL;
}

static napi_value js_write(napi_env env, napi_callback_info info) {
  ARGS(3);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  ldb_batch *b = build_batch(env, d, argv[1], argv[2]);
  if (b == NULL) return NULL;
  int rc = ldb_write(d->db, b);
  ldb_batch_destroy(b);
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

/* ---- async work ---------------------------------------------------------- */

enum { W_WRITE, W_COMMIT, W_FLUSH };

typedef struct work {
  napi_async_work handle;
  napi_deferred deferred;
  int kind;
  ndb *d;
  ntxn *t;        /* W_COMMIT */
  ldb_txn *txn;   /* W_COMMIT: owned by the work from queueing on */
  ldb_batch *b;   /* W_WRITE: owned by the work */
  int rc;
  char msg[512];  /* ldb_errmsg of the pool thread, copied */
} work;

static void work_execute(napi_env env, void *data) {
  work *w = data;
  switch (w->kind) {
  case W_WRITE: w->rc = ldb_write(w->d->db, w->b); break;
  case W_COMMIT:
    w->rc = ldb_txn_commit(w->txn);
    /* BUSY (iterators open) leaves the txn open; none can be (they were
     * destroyed before queueing), but never leak it */
    if (w->rc == LDB_BUSY) ldb_txn_abort(w->txn);
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
  d->pending--;
  if (d->closing && d->pending == 0 && d->db != NULL) {
    if (ldb_close(d->db) != LDB_BUSY) d->db = NULL;
  }
  /* Settle the promise. There is no JS caller to throw to here: a failing
   * napi call becomes an uncaught exception (process 'uncaughtException'),
   * which is the most visible place Node offers. */
  napi_value result = NULL;
  napi_status st;
  if (status != napi_ok) {
    result = make_error(env, "INTERNAL", "the async operation was cancelled");
    st = result ? napi_reject_deferred(env, w->deferred, result) : napi_generic_failure;
  } else if (w->rc != LDB_OK) {
    result = make_error(env, ldb_code_name(w->rc), w->msg);
    st = result ? napi_reject_deferred(env, w->deferred, result) : napi_generic_failure;
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
    if (napi_delete_async_work(env, w->handle) != napi_ok) { /* leaks w->handle only */ }
    throw_napi(env, name);
    free(w);
    return NULL;
  }
  w->d->pending++;
  w->d->refs++;
  if (w->t) w->t->refs++;
  return promise;
}

static napi_value js_write_async(napi_env env, napi_callback_info info) {
  ARGS(3);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  work *w = calloc(1, sizeof *w);
  if (w == NULL) {
    throw_code(env, "NO_MEMORY", "out of memory queueing a write");
    return NULL;
  }
  w->kind = W_WRITE;
  w->d = d;
  w->b = build_batch(env, d, argv[1], argv[2]);
  if (w->b == NULL) {
    free(w);
    return NULL;
  }
  ldb_batch *b = w->b;
  napi_value p = work_queue(env, w, "lightningdb.writeAsync");
  if (p == NULL) ldb_batch_destroy(b);
  return p;
}

static napi_value js_flush_async(napi_env env, napi_callback_info info) {
  ARGS(1);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  work *w = calloc(1, sizeof *w);
  if (w == NULL) {
    throw_code(env, "NO_MEMORY", "out of memory queueing a flush");
    return NULL;
  }
  w->kind = W_FLUSH;
  w->d = d;
  return work_queue(env, w, "lightningdb.flushAsync");
}

/* ---- transactions -------------------------------------------------------- */

static napi_value js_begin(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  bool ro = false;
  if (!is_nullish(env, argv[1]) &&
      napi_get_value_bool(env, argv[1], &ro) != napi_ok) {
    throw_type(env,
                          "readOnly must be a boolean");
    return NULL;
  }
  ntxn *t = calloc(1, sizeof *t);
  if (t == NULL) {
    throw_code(env, "NO_MEMORY", "out of memory beginning a transaction");
    return NULL;
  }
  int rc = ldb_txn_begin(d->db, ro ? LDB_TXN_READONLY : 0, &t->txn);
  if (rc != LDB_OK) {
    free(t);
    throw_ldb(env, rc);
    return NULL;
  }
  t->db = d;
  t->readonly = ro;
  t->refs = 1;
  napi_value obj = wrap_new(env, t, &TXN_TAG, txn_finalize);
  if (obj == NULL) {
    ldb_txn_abort(t->txn);
    free(t);
    return NULL;
  }
  d->refs++;
  t->next = d->txns;
  if (d->txns) d->txns->prev = t;
  d->txns = t;
  return obj;
}

static napi_value js_txn_get(napi_env env, napi_callback_info info) {
  ARGS(2);
  ntxn *t = open_txn(env, argv[0]);
  const void *k;
  size_t kl;
  if (t == NULL || get_bytes(env, argv[1], "key", &k, &kl)) return NULL;
  return read_value(env, t->db, txn_get_buf, t->txn, k, kl);
}

/* txnGetShared(txn, keyLength): txnGetInto with the key in the key area. */
static napi_value js_txn_get_shared(napi_env env, napi_callback_info info) {
  ARGS(2);
  ntxn *t = open_txn(env, argv[0]);
  const void *k;
  size_t kl;
  if (t == NULL || shared_key(env, argv[1], &k, &kl)) return NULL;
  return read_into(env, t->db, txn_get_buf, t->txn, k, kl);
}

/* txnGetInto(txn, key): read_into within a transaction. */
static napi_value js_txn_get_into(napi_env env, napi_callback_info info) {
  ARGS(2);
  ntxn *t = open_txn(env, argv[0]);
  const void *k;
  size_t kl;
  if (t == NULL || get_bytes(env, argv[1], "key", &k, &kl)) return NULL;
  return read_into(env, t->db, txn_get_buf, t->txn, k, kl);
}

static napi_value js_txn_put(napi_env env, napi_callback_info info) {
  ARGS(3);
  ntxn *t = open_txn(env, argv[0]);
  const void *k, *v;
  size_t kl, vl;
  if (t == NULL || get_bytes(env, argv[1], "key", &k, &kl) ||
      get_bytes(env, argv[2], "value", &v, &vl))
    return NULL;
  int rc = ldb_txn_put(t->txn, k, kl, v, vl);
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

static napi_value js_txn_del(napi_env env, napi_callback_info info) {
  ARGS(2);
  ntxn *t = open_txn(env, argv[0]);
  const void *k;
  size_t kl;
  if (t == NULL || get_bytes(env, argv[1], "key", &k, &kl)) return NULL;
  int rc = ldb_txn_delete(t->txn, k, kl);
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

/* Commit ends the transaction whatever the outcome, so its iterators are
 * destroyed first (the C API requires it). */
static napi_value js_txn_commit(napi_env env, napi_callback_info info) {
  ARGS(1);
  ntxn *t = open_txn(env, argv[0]);
  if (t == NULL) return NULL;
  txn_destroy_iters(t);
  ldb_txn *txn = t->txn;
  t->txn = NULL;
  txn_unlink(t);
  int rc = ldb_txn_commit(txn);
  if (rc == LDB_BUSY) {
    /* cannot happen (iterators were destroyed); do not leak the txn */
    ldb_txn_abort(txn);
  }
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

static napi_value js_txn_commit_async(napi_env env, napi_callback_info info) {
  ARGS(1);
  ntxn *t = open_txn(env, argv[0]);
  if (t == NULL) return NULL;
  work *w = calloc(1, sizeof *w);
  if (w == NULL) {
    throw_code(env, "NO_MEMORY", "out of memory queueing a commit");
    return NULL;
  }
  w->kind = W_COMMIT;
  w->d = t->db;
  w->t = t;
  w->txn = t->txn;
  /* before queueing: the pool thread may start at once */
  txn_destroy_iters(t);
  napi_value p = work_queue(env, w, "lightningdb.commitAsync");
  if (p == NULL) return NULL; /* the transaction stays open and usable */
  t->txn = NULL;
  txn_unlink(t);
  return p;
}

static napi_value js_txn_abort(napi_env env, napi_callback_info info) {
  ARGS(1);
  ntxn *t = unwrap(env, argv[0], &TXN_TAG, "transaction");
  if (t == NULL) return NULL;
  txn_abort_resource(t);
  return NULL;
}

/* ---- iterators ----------------------------------------------------------- */

/* The db (and transaction) an iterator is created on: argv[0] the db,
 * argv[1] a transaction or null. Returns 0, or -1 with an exception. */
static int iter_owner(napi_env env, napi_value *argv, ndb **dp, ntxn **tp) {
  if (is_nullish(env, argv[1])) {
    *dp = open_db(env, argv[0]);
    *tp = NULL;
    return *dp == NULL ? -1 : 0;
  }
  *tp = open_txn(env, argv[1]);
  if (*tp == NULL) return -1;
  *dp = (*tp)->db;
  return 0;
}

/* Creates the iterator and its handle (shared by iterCreate/iterOpen). */
static napi_value iter_new(napi_env env, ndb *d, ntxn *t,
                           const ldb_iter_options *opts) {
  ldb_iter_options o = *opts;
  niter *i = calloc(1, sizeof *i);
  if (i == NULL) {
    throw_code(env, "NO_MEMORY", "out of memory creating an iterator");
    return NULL;
  }
  int rc = ldb_iter_create(d->db, t ? t->txn : NULL, &o, &i->it);
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
  i->next = d->iters;
  if (d->iters) d->iters->prev = i;
  d->iters = i;
  return obj;
}

/* iterCreate(db, txn|null, opts): opts as EngineIterOptions. */
static napi_value js_iter_create(napi_env env, napi_callback_info info) {
  ARGS(3);
  ndb *d = NULL;
  ntxn *t = NULL;
  if (iter_owner(env, argv, &d, &t)) return NULL;
  ldb_iter_options o;
  memset(&o, 0, sizeof o);
  if (!is_nullish(env, argv[2])) {
    napi_value v;
    int r, b;
    if ((r = get_prop(env, argv[2], "lower", &v)) < 0) return NULL;
    if (r && get_bytes(env, v, "lower bound", &o.lower, &o.lower_len))
      return NULL;
    if ((r = get_prop(env, argv[2], "upper", &v)) < 0) return NULL;
    if (r && get_bytes(env, v, "upper bound", &o.upper, &o.upper_len))
      return NULL;
    if ((r = get_prop(env, argv[2], "prefix", &v)) < 0) return NULL;
    if (r && get_bytes(env, v, "prefix", &o.prefix, &o.prefix_len))
      return NULL;
    if ((r = opt_bool(env, argv[2], "lowerExclusive", &b)) < 0) return NULL;
    if (r) o.lower_exclusive = b;
    if ((r = opt_bool(env, argv[2], "upperExclusive", &b)) < 0) return NULL;
    if (r) o.upper_exclusive = b;
    if ((r = opt_bool(env, argv[2], "reverse", &b)) < 0) return NULL;
    if (r) o.reverse = b;
  }
  return iter_new(env, d, t, &o);
}

/* Flags of iterOpen. */
#define ITER_LOWER_EXCLUSIVE 1u
#define ITER_UPPER_EXCLUSIVE 2u
#define ITER_REVERSE 4u

/* iterOpen(db, txn|null, lower|undefined, upper|undefined,
 * prefix|undefined, flags): iterCreate with positional options (named
 * property lookups on an options object cost more than a short scan's
 * whole read). flags: 1 lowerExclusive, 2 upperExclusive, 4 reverse. */
static napi_value js_iter_open(napi_env env, napi_callback_info info) {
  ARGS(6);
  ndb *d = NULL;
  ntxn *t = NULL;
  if (iter_owner(env, argv, &d, &t)) return NULL;
  ldb_iter_options o;
  memset(&o, 0, sizeof o);
  double f = -1;
  if (!is_nullish(env, argv[2]) &&
      get_bytes(env, argv[2], "lower bound", &o.lower, &o.lower_len))
    return NULL;
  if (!is_nullish(env, argv[3]) &&
      get_bytes(env, argv[3], "upper bound", &o.upper, &o.upper_len))
    return NULL;
  if (!is_nullish(env, argv[4]) &&
      get_bytes(env, argv[4], "prefix", &o.prefix, &o.prefix_len))
    return NULL;
  if (napi_get_value_double(env, argv[5], &f) != napi_ok || !(f >= 0) ||
      f > 7 || f != (double)(uint32_t)f) {
    throw_type(env, "flags must be an integer from 0 to 7");
    return NULL;
  }
  uint32_t flags = (uint32_t)f;
  o.lower_exclusive = (flags & ITER_LOWER_EXCLUSIVE) != 0;
  o.upper_exclusive = (flags & ITER_UPPER_EXCLUSIVE) != 0;
  o.reverse = (flags & ITER_REVERSE) != 0;
  return iter_new(env, d, t, &o);
}

/* iterSeek(it, key?): positions at the first entry (in iteration order) at
 * or after key, or at the start of the range. */
static napi_value js_iter_seek(napi_env env, napi_callback_info info) {
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
  if (rc == LDB_OK) i->state = 1;
  else if (rc == LDB_NOTFOUND) i->state = 2;
  else throw_ldb(env, rc);
  return NULL;
}

/* iterNext(it, max): a Buffer holding up to max entries from the current
 * position, each [u32 key_len][u32 value_len][key][value] little-endian as
 * ldb_iter_read writes them, or null at the end. js/native.ts splits it. */
static napi_value iter_next(napi_env env, napi_callback_info info,
                            int shared) {
  ARGS(2);
  niter *i = open_iter(env, argv[0]);
  if (i == NULL) return NULL;
  int64_t max = 0;
  if (napi_get_value_int64(env, argv[1], &max) != napi_ok || max < 1) {
    throw_type(env,
                          "max must be a positive number");
    return NULL;
  }
  napi_value nul;
  NAPI_OK(env, napi_get_null(env, &nul));
  int rc;
  if (i->state == 0) {
    rc = ldb_iter_first(i->it);
    if (rc == LDB_NOTFOUND) i->state = 2;
    else if (rc != LDB_OK) {
      throw_ldb(env, rc);
      return NULL;
    } else i->state = 1;
  }
  if (i->state == 2) return nul;
  size_t count = 0, used = 0;
  read_buf *rb = shared ? get_read_buf(env) : NULL;
  if (rb != NULL) {
    /* straight into the read buffer; js/native.ts copies the chunk out
     * (a pooled Buffer for a short one) before any other call */
    rc = ldb_iter_read(i->it, rb->data, rb->cap, (size_t)max, &count, &used);
    if (rc == LDB_NOTFOUND) {
      i->state = 2;
      return nul;
    }
    if (rc != LDB_OK) {
      throw_ldb(env, rc);
      return NULL;
    }
    if (count > 0) {
      napi_value n;
      NAPI_OK(env, napi_create_double(env, (double)used, &n));
      return n;
    }
    /* the next entry alone is larger than the read buffer: below */
  }
  if (i->buf == NULL && i->db->iter_spare != NULL) {
    i->buf = i->db->iter_spare;
    i->db->iter_spare = NULL;
    i->cap = ITER_BUF_INITIAL;
  }
  if (i->buf == NULL) {
    i->buf = malloc(ITER_BUF_INITIAL);
    if (i->buf == NULL) {
      throw_code(env, "NO_MEMORY", "out of memory reading an iterator");
      return NULL;
    }
    i->cap = ITER_BUF_INITIAL;
  }
  for (;;) {
    rc = ldb_iter_read(i->it, i->buf, i->cap, (size_t)max, &count, &used);
    if (rc == LDB_NOTFOUND) {
      i->state = 2;
      return nul;
    }
    if (rc != LDB_OK) {
      throw_ldb(env, rc);
      return NULL;
    }
    if (count > 0) break;
    if (used <= i->cap) { /* defensive: no progress and nothing needed */
      throw_code(env, "INTERNAL", "ldb_iter_read made no progress");
      return NULL;
    }
    /* the current entry alone needs `used` bytes: grow and retry */
    uint8_t *nb = malloc(used);
    if (nb == NULL) {
      throw_code(env, "NO_MEMORY", "out of memory reading an iterator");
      return NULL;
    }
    free(i->buf);
    i->buf = nb;
    i->cap = used;
  }
  napi_value out;
  NAPI_OK(env, napi_create_buffer_copy(env, used, i->buf, NULL, &out));
  /* a one-off huge entry should not pin its buffer for the scan's life */
  if (i->cap > (4u << 20)) {
    free(i->buf);
    i->buf = NULL;
    i->cap = 0;
  }
  return out;
}

static napi_value js_iter_next(napi_env env, napi_callback_info info) {
  return iter_next(env, info, 0);
}

/* iterNextShared(it, max): iterNext into the read buffer: the chunk's
 * length (a number) when it fits, else a Buffer as iterNext; null at the
 * end. */
static napi_value js_iter_next_shared(napi_env env, napi_callback_info info) {
  return iter_next(env, info, 1);
}

static napi_value js_iter_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  niter *i = unwrap(env, argv[0], &ITER_TAG, "iterator");
  if (i == NULL) return NULL;
  iter_destroy_resource(i);
  iter_release_buf(i);
  return NULL;
}

/* ---- opening, closing, maintenance --------------------------------------- */

static napi_value js_open(napi_env env, napi_callback_info info) {
  ARGS(2);
  ldb_options o;
  if (parse_open_options(env, argv[1], &o)) return NULL;
  char *path = get_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  ndb *d = calloc(1, sizeof *d);
  uint8_t *scratch = malloc(SCRATCH_INITIAL);
  if (d == NULL || scratch == NULL) {
    free(d);
    free(scratch);
    free(path);
    throw_code(env, "NO_MEMORY", "out of memory opening a database");
    return NULL;
  }
  int rc = ldb_open(path, &o, &d->db);
  free(path);
  if (rc != LDB_OK) {
    free(d);
    free(scratch);
    throw_ldb(env, rc);
    return NULL;
  }
  d->scratch = scratch;
  d->scratch_cap = SCRATCH_INITIAL;
  d->refs = 1;
  napi_value obj = wrap_new(env, d, &DB_TAG, db_finalize);
  if (obj == NULL) {
    ldb_close(d->db);
    free(scratch);
    free(d);
    return NULL;
  }
  return obj;
}

/* close(db): ends open transactions and iterators, then closes. Idempotent. */
static napi_value js_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  ndb *d = unwrap(env, argv[0], &DB_TAG, "database");
  if (d == NULL) return NULL;
  if (d->closing && d->db == NULL) return NULL;
  int rc = db_close_resource(d);
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

typedef int (*db_fn)(ldb_db *);

static napi_value call_db(napi_env env, napi_callback_info info, db_fn fn) {
  ARGS(1);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  int rc = fn(d->db);
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

static napi_value js_flush(napi_env env, napi_callback_info info) {
  return call_db(env, info, ldb_flush);
}
static napi_value js_checkpoint(napi_env env, napi_callback_info info) {
  return call_db(env, info, ldb_checkpoint);
}
static napi_value js_check(napi_env env, napi_callback_info info) {
  return call_db(env, info, ldb_check);
}

static napi_value js_checkpoint_step(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  uint32_t budget = 0;
  if (napi_get_value_uint32(env, argv[1], &budget) != napi_ok) {
    throw_type(env,
                          "budget must be a number");
    return NULL;
  }
  int more = 0;
  int rc = ldb_checkpoint_step(d->db, budget, &more);
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  napi_value out;
  NAPI_OK(env, napi_get_boolean(env, more != 0, &out));
  return out;
}

static napi_value js_backup(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  char *path = get_string(env, argv[1], "path");
  if (path == NULL) return NULL;
  int rc = ldb_backup(d->db, path);
  free(path);
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

static int set_num(napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  return napi_create_double(env, v, &n) == napi_ok &&
                 napi_set_named_property(env, obj, name, n) == napi_ok
             ? 0
             : -1;
}

static int set_hist(napi_env env, napi_value obj, const char *name,
                    const uint64_t *h) {
  napi_value arr, n;
  if (napi_create_array_with_length(env, LDB_HIST_BUCKETS, &arr) != napi_ok)
    return -1;
  for (uint32_t i = 0; i < LDB_HIST_BUCKETS; i++)
    if (napi_create_double(env, (double)h[i], &n) != napi_ok ||
        napi_set_element(env, arr, i, n) != napi_ok)
      return -1;
  return napi_set_named_property(env, obj, name, arr) == napi_ok ? 0 : -1;
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  ARGS(1);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  ldb_stats s;
  memset(&s, 0, sizeof s);
  int rc = ldb_stats_get(d->db, &s);
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  napi_value o, bg;
  NAPI_OK(env, napi_create_object(env, &o));
  struct {
    const char *name;
    uint64_t v;
  } f[] = {
      {"gets", s.gets}, {"puts", s.puts}, {"deletes", s.deletes},
      {"batches", s.batches}, {"commits", s.commits},
      {"conflicts", s.conflicts}, {"aborts", s.aborts},
      {"cacheHits", s.cache_hits}, {"cacheMisses", s.cache_misses},
      {"cacheEvictions", s.cache_evictions}, {"cacheBytes", s.cache_bytes},
      {"cacheCapacity", s.cache_capacity}, {"bytesRead", s.bytes_read},
      {"bytesWritten", s.bytes_written}, {"syncs", s.syncs},
      {"checkpoints", s.checkpoints}, {"activeTxns", s.active_txns},
      {"activeSnapshots", s.active_snapshots},
      {"memtableBytes", s.memtable_bytes},
      {"dataFileSize", s.data_file_size}, {"logFileSize", s.log_file_size},
      {"pageSize", s.page_size}, {"pageCount", s.page_count},
      {"freePages", s.free_pages}, {"lastSeq", s.last_seq},
      {"checkpointSeq", s.checkpoint_seq}, {"uptimeNs", s.uptime_ns},
  };
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (set_num(env, o, f[i].name, (double)f[i].v)) {
      throw_napi(env, "stats");
      return NULL;
    }
  NAPI_OK(env, napi_create_string_utf8(env, ldb_code_name(s.background_error),
                                       NAPI_AUTO_LENGTH, &bg));
  NAPI_OK(env, napi_set_named_property(env, o, "backgroundError", bg));
  if (set_hist(env, o, "getLatency", s.get_latency) ||
      set_hist(env, o, "commitLatency", s.commit_latency)) {
    throw_napi(env, "stats");
    return NULL;
  }
  return o;
}

static napi_value js_version(napi_env env, napi_callback_info info) {
  napi_value v;
  NAPI_OK(env, napi_create_string_utf8(env, ldb_version(), NAPI_AUTO_LENGTH,
                                       &v));
  return v;
}

/* ---- module -------------------------------------------------------------- */

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}
      FN("open", js_open),
      FN("close", js_close),
      FN("get", js_get),
      FN("getInto", js_get_into),
      FN("getShared", js_get_shared),
      FN("readBuffer", js_read_buffer),
      FN("getMany", js_get_many),
      FN("getManyShared", js_get_many_shared),
      FN("put", js_put),
      FN("del", js_del),
      FN("write", js_write),
      FN("writeAsync", js_write_async),
      FN("begin", js_begin),
      FN("txnGet", js_txn_get),
      FN("txnGetInto", js_txn_get_into),
      FN("txnGetShared", js_txn_get_shared),
      FN("txnPut", js_txn_put),
      FN("txnDel", js_txn_del),
      FN("txnCommit", js_txn_commit),
      FN("txnCommitAsync", js_txn_commit_async),
      FN("txnAbort", js_txn_abort),
      FN("iterCreate", js_iter_create),
      FN("iterOpen", js_iter_open),
      FN("iterSeek", js_iter_seek),
      FN("iterNext", js_iter_next),
      FN("iterNextShared", js_iter_next_shared),
      FN("iterClose", js_iter_close),
      FN("flush", js_flush),
      FN("flushAsync", js_flush_async),
      FN("checkpoint", js_checkpoint),
      FN("checkpointStep", js_checkpoint_step),
      FN("check", js_check),
      FN("backup", js_backup),
      FN("stats", js_stats),
      FN("version", js_version),
#undef FN
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0],
                             props) != napi_ok) {
    throw_napi(env, "module init");
    return NULL;
  }
  return exports;
}
