/*
 * ranges.c — range operations done in the core: rangeCount and
 * rangeDelete adapt ldb_count and ldb_delete_range (bounds as iterCreate
 * takes them, positional). Nothing of the range crosses into JavaScript.
 */
#include <math.h>
#include <string.h>

#include "binding.h"

int range_args(napi_env env, const napi_value *argv, ndb **d, ntxn **t,
               ldb_iter_options *o) {
  if (open_scope(env, argv[0], argv[1], d, t)) return -1;
  return get_range(env, argv + 2, 7, o);
}

static napi_value number(napi_env env, uint64_t n) {
  napi_value v;
  if (napi_create_double(env, (double)n, &v) != napi_ok) {
    throw_napi(env, "number");
    return NULL;
  }
  return v;
}

/* rangeCount(db, txn|null, lower, upper, prefix, flags): the number of
 * keys in the range (ldb_count). */
napi_value js_range_count(napi_env env, napi_callback_info info) {
  ARGS(6);
  ndb *d;
  ntxn *t;
  ldb_iter_options o;
  if (range_args(env, argv, &d, &t, &o)) return NULL;
  uint64_t n = 0;
  int rc = ldb_count(d->db, t ? t->txn : NULL, &o, &n);
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  return number(env, n);
}

/* rangeDelete(db, txn|null, lower, upper, prefix, flags, limit): deletes
 * at most limit keys of the range (ldb_delete_range; limit a non-negative
 * integer or Infinity) and returns how many. */
napi_value js_range_delete(napi_env env, napi_callback_info info) {
  ARGS(7);
  ndb *d;
  ntxn *t;
  ldb_iter_options o;
  if (range_args(env, argv, &d, &t, &o)) return NULL;
  double lim = -1;
  if (napi_get_value_double(env, argv[6], &lim) != napi_ok || !(lim >= 0) ||
      (lim != (double)(uint64_t)lim && lim != (double)INFINITY)) {
    throw_type(env, "limit must be a non-negative integer or Infinity");
    return NULL;
  }
  uint64_t limit = lim >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)lim;
  uint64_t n = 0;
  int rc = ldb_delete_range(d->db, t ? t->txn : NULL, &o, limit, &n);
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  return number(env, n);
}
