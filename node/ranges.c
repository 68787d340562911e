/*
 * ranges.c — range operations done in the core: rangeCount and
 * rangeDelete adapt ldb_count and ldb_delete_range (bounds as iterCreate
 * takes them, positional). Nothing of the range crosses into JavaScript.
 */
#include <math.h>
#include <string.h>

#include "binding.h"

int range_args(napi_env env, const napi_value *argv, nrange *r) {
  if (open_scope(env, argv[0], argv[1], &r->d, &r->t)) return -1;
  r->txn = r->t ? r->t->txn : NULL;
  return get_range(env, argv + 2, 7, &r->o);
}

/* The result of ldb_count or ldb_delete_range: the number n, or the
 * core's error rc thrown. */
static napi_value count_result(napi_env env, int rc, uint64_t n) {
  napi_value v;
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
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
  nrange r;
  if (range_args(env, argv, &r)) return NULL;
  uint64_t n = 0;
  int rc = ldb_count(r.d->db, r.txn, &r.o, &n);
  return count_result(env, rc, n);
}

/* rangeDelete(db, txn|null, lower, upper, prefix, flags, limit): deletes
 * at most limit keys of the range (ldb_delete_range; limit a non-negative
 * integer or Infinity) and returns how many. */
napi_value js_range_delete(napi_env env, napi_callback_info info) {
  ARGS(7);
  nrange r;
  if (range_args(env, argv, &r)) return NULL;
  double lim = -1;
  if (napi_get_value_double(env, argv[6], &lim) != napi_ok || !(lim >= 0) ||
      (lim != (double)(uint64_t)lim && lim != (double)INFINITY)) {
    throw_type(env, "limit must be a non-negative integer or Infinity");
    return NULL;
  }
  uint64_t limit = lim >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)lim;
  uint64_t n = 0;
  int rc = ldb_delete_range(r.d->db, r.txn, &r.o, limit, &n);
  return count_result(env, rc, n);
}
