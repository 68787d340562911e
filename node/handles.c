/*
 * node/handles.c — database and transaction handles and their lifetimes
 * (see binding.h): wrapping and unwrapping tagged handles, finalizers,
 * open (options from ldb_option_table) and close, transactions and writes.
 * Children need no tracking: the core invalidates them (binding.h).
 */
#include "binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const napi_type_tag DB_TAG = {0x4c444244425f5441ULL, 0x9e3779b97f4a7c15ULL};
const napi_type_tag TXN_TAG = {0x4c444254584e5f54ULL, 0xc2b2ae3d27d4eb4fULL};
const napi_type_tag ITER_TAG = {0x4c44424954455254ULL, 0x165667b19e3779f9ULL};

/* ---- lifetimes --- */

void db_unref(ndb *d) {
  if (--d->refs > 0) return;
  /* Every path that drops the last reference has closed the db already;
   * closing here too keeps a bug from leaking the engine lock. */
  if (d->db) ldb_close(d->db);
  free(d);
}

void txn_unref(ntxn *t) {
  if (--t->refs > 0) return;
  ndb *d = t->db;
  free(t);
  db_unref(d);
}

static void txn_abort_resource(ntxn *t) {
  if (t->txn == NULL) return;
  ldb_txn_abort(t->txn);
  t->txn = NULL;
}

int db_close_if_idle(ndb *d) {
  if (!d->closing || d->pending > 0 || d->db == NULL) return LDB_OK;
  int rc = ldb_close(d->db); /* never refuses: the handle is closed */
  d->db = NULL;
  return rc;
}

static void db_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ndb *d = data;
  d->closing = 1;
  db_close_if_idle(d);
  db_unref(d);
}

static void txn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  ntxn *t = data;
  txn_abort_resource(t);
  txn_unref(t);
}

/* ---- handles --- */

/* Handles are tagged Externals: checking an External's type tag and
 * reading its pointer are plain C++ field reads in Node, where a wrapped
 * object costs two private-property lookups (the tag, then the wrap) on
 * every call — about a third of a cached get's time. The tag keeps a
 * foreign External (another addon's) from ever being dereferenced as ours.
 * A Node that cannot tag Externals (type tags on Externals are newer than
 * tags on objects) gets tagged wrapped objects instead; unwrap() accepts
 * both. On failure no finalizer is attached and the caller cleans up. */
napi_value wrap_new(napi_env env, void *native, const napi_type_tag *tag,
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

void *unwrap(napi_env env, napi_value v, const napi_type_tag *tag,
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

ndb *open_db(napi_env env, napi_value v) {
  ndb *d = unwrap(env, v, &DB_TAG, "database");
  if (d == NULL) return NULL;
  if (d->closing || d->db == NULL) {
    throw_closed(env, "database");
    return NULL;
  }
  return d;
}

ntxn *open_txn(napi_env env, napi_value v) {
  ntxn *t = unwrap(env, v, &TXN_TAG, "transaction");
  if (t == NULL) return NULL;
  if (t->txn == NULL || t->db->closing) {
    throw_closed(env, "transaction");
    return NULL;
  }
  return t;
}

int open_scope(napi_env env, napi_value db, napi_value txn, ndb **d, ntxn **t) {
  *d = NULL;
  *t = NULL;
  if (is_nullish(env, txn)) return (*d = open_db(env, db)) == NULL ? -1 : 0;
  if ((*t = open_txn(env, txn)) == NULL) return -1;
  *d = (*t)->db;
  return 0;
}

void *open_handle(napi_env env, napi_value v, int in_txn) {
  if (in_txn) {
    ntxn *t = open_txn(env, v);
    return t ? (void *)t->txn : NULL;
  }
  ndb *d = open_db(env, v);
  return d ? (void *)d->db : NULL;
}

/* ---- opening and closing --- */

/* Sets one option from a JS value: a string through ldb_options_set_string
 * (an enum's name, "true"/"false", a decimal number), a number or boolean
 * through ldb_options_set; the core checks names and ranges. */
static int set_option(napi_env env, ldb_options *o, const ldb_option_info *row,
                      napi_value v) {
  napi_valuetype t;
  char msg[160];
  int rc;
  if (napi_typeof(env, v, &t) != napi_ok) {
    throw_napi(env, row->js_name);
    return -1;
  }
  if (t == napi_string) {
    char *s = get_string(env, v, row->js_name);
    if (s == NULL) return -1;
    rc = ldb_options_set_string(o, row->name, s);
    free(s);
  } else if (t == napi_boolean) {
    bool b = false;
    if (napi_get_value_bool(env, v, &b) != napi_ok) {
      throw_napi(env, row->js_name);
      return -1;
    }
    rc = ldb_options_set(o, row->name, b ? 1 : 0);
  } else if (t == napi_number) {
    double d = -1;
    if (napi_get_value_double(env, v, &d) != napi_ok) {
      throw_napi(env, row->js_name);
      return -1;
    }
    /* 2^64 and above, negatives, fractions and NaN have no uint64_t */
    if (!(d >= 0) || d >= 18446744073709551616.0 || d != (double)(uint64_t)d) {
      snprintf(msg, sizeof msg,
               "option %s must be a non-negative integer, got %g", row->js_name,
               d);
      throw_code(env, "INVALID_ARGUMENT", msg);
      return -1;
    }
    rc = ldb_options_set(o, row->name, (uint64_t)d);
  } else {
    snprintf(msg, sizeof msg, "option %s must be a number, boolean or string",
             row->js_name);
    throw_type(env, msg);
    return -1;
  }
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return -1;
  }
  return 0;
}

/* Fills o from an options object keyed by the js_name of every row of
 * ldb_option_table (undefined or null: the default). 0, or -1 thrown. */
static int parse_open_options(napi_env env, napi_value v, ldb_options *o) {
  ldb_options_default(o);
  if (is_nullish(env, v)) return 0;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_object) {
    throw_type(env, "options must be an object");
    return -1;
  }
  size_t n = 0;
  const ldb_option_info *rows = ldb_option_table(&n);
  for (size_t i = 0; i < n; i++) {
    napi_value pv;
    if (napi_get_named_property(env, v, rows[i].js_name, &pv) != napi_ok) {
      throw_napi(env, rows[i].js_name);
      return -1;
    }
    if (!is_nullish(env, pv) && set_option(env, o, &rows[i], pv)) return -1;
  }
  return 0;
}

/* open(path, options): a database handle. */
napi_value js_open(napi_env env, napi_callback_info info) {
  ARGS(2);
  ldb_options o;
  if (parse_open_options(env, argv[1], &o)) return NULL;
  char *path = get_string(env, argv[0], "path");
  if (path == NULL) return NULL;
  ndb *d = calloc(1, sizeof *d);
  if (d == NULL) {
    free(path);
    throw_code(env, "NO_MEMORY", "out of memory opening a database");
    return NULL;
  }
  int rc = ldb_open(path, &o, &d->db);
  free(path);
  if (rc != LDB_OK) {
    free(d);
    throw_ldb(env, rc);
    return NULL;
  }
  d->refs = 1;
  napi_value obj = wrap_new(env, d, &DB_TAG, db_finalize);
  if (obj == NULL) {
    ldb_close(d->db);
    free(d);
    return NULL;
  }
  return obj;
}

/* close(db): closes the handle; its open transactions and iterators are
 * invalidated by the core (CLOSED from then on). With async work in flight
 * ldb_close runs when the last work completes. Idempotent. */
napi_value js_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  ndb *d = unwrap(env, argv[0], &DB_TAG, "database");
  if (d == NULL || d->closing) return NULL;
  d->closing = 1;
  int rc = db_close_if_idle(d);
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

/* ---- writes --- */

/* The one path of put, del, txnPut and txnDel: (handle, key, value) or,
 * with del, (handle, key); the handle a database or, with in_txn, a
 * transaction. */
static napi_value write_one(napi_env env, napi_callback_info info, int in_txn,
                            int del) {
  ARGS(3);
  void *h = open_handle(env, argv[0], in_txn);
  const void *k, *v = NULL;
  size_t kl, vl = 0;
  if (h == NULL || get_bytes(env, argv[1], "key", &k, &kl) ||
      (!del && get_bytes(env, argv[2], "value", &v, &vl)))
    return NULL;
  int rc = in_txn
               ? (del ? ldb_txn_delete(h, k, kl) : ldb_txn_put(h, k, kl, v, vl))
               : (del ? ldb_delete(h, k, kl) : ldb_put(h, k, kl, v, vl));
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

napi_value js_put(napi_env env, napi_callback_info info) {
  return write_one(env, info, 0, 0);
}

napi_value js_del(napi_env env, napi_callback_info info) {
  return write_one(env, info, 0, 1);
}

ldb_batch *build_batch(napi_env env, ndb *d, napi_value keys,
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
    throw_type(env, "keys and values must be arrays");
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

/* write(db, keys[], values[]): one atomic batch (a nullish value deletes). */
napi_value js_write(napi_env env, napi_callback_info info) {
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

/* ---- transactions --- */

/* begin(db, readOnly): a transaction handle. */
napi_value js_begin(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  bool ro = false;
  if (!is_nullish(env, argv[1]) &&
      napi_get_value_bool(env, argv[1], &ro) != napi_ok) {
    throw_type(env, "readOnly must be a boolean");
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
  t->refs = 1;
  napi_value obj = wrap_new(env, t, &TXN_TAG, txn_finalize);
  if (obj == NULL) {
    ldb_txn_abort(t->txn);
    free(t);
    return NULL;
  }
  d->refs++;
  return obj;
}

napi_value js_txn_put(napi_env env, napi_callback_info info) {
  return write_one(env, info, 1, 0);
}

napi_value js_txn_del(napi_env env, napi_callback_info info) {
  return write_one(env, info, 1, 1);
}

/* txnCommit(txn): ends and frees the transaction whatever the outcome;
 * its iterators answer CLOSED from then on. */
napi_value js_txn_commit(napi_env env, napi_callback_info info) {
  ARGS(1);
  ntxn *t = open_txn(env, argv[0]);
  if (t == NULL) return NULL;
  ldb_txn *txn = t->txn;
  t->txn = NULL;
  int rc = ldb_txn_commit(txn);
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

/* txnAbort(txn): idempotent. */
napi_value js_txn_abort(napi_env env, napi_callback_info info) {
  ARGS(1);
  ntxn *t = unwrap(env, argv[0], &TXN_TAG, "transaction");
  if (t == NULL) return NULL;
  txn_abort_resource(t);
  return NULL;
}
