/*
 * node/module.c — module setup of the Node-API addon: the export table,
 * error mapping (LDB_* codes to Errors with a stable .code), argument
 * conversion shared by the other files, the contract tables as the core
 * compiled them (contract()), and version(). See binding.h for the layout
 * of the addon and its lifetimes.
 */
#include "binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors --- */

void throw_napi(napi_env env, const char *what) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  const napi_extended_error_info *info = NULL;
  char msg[256];
  if (napi_get_last_error_info(env, &info) != napi_ok) info = NULL;
  snprintf(msg, sizeof msg, "Node-API call failed in %s: %s", what,
           info && info->error_message ? info->error_message : "unknown");
  if (napi_throw_error(env, "INTERNAL", msg) != napi_ok) return;
}

napi_value make_error(napi_env env, const char *code, const char *msg) {
  napi_value c, m, err;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c) != napi_ok ||
      napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m) != napi_ok ||
      napi_create_error(env, c, m, &err) != napi_ok)
    return NULL;
  return err;
}

/* If throwing fails an exception is already pending, which the caller's
 * NULL return propagates. */
void throw_type(napi_env env, const char *msg) {
  if (napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg) != napi_ok)
    return;
}

void throw_code(napi_env env, const char *code, const char *msg) {
  napi_value err = make_error(env, code, msg);
  if (err == NULL || napi_throw(env, err) != napi_ok) {
    /* last resort; if even this fails the call returns undefined */
    if (napi_throw_error(env, code, msg) != napi_ok) return;
  }
}

void throw_ldb(napi_env env, int rc) {
  const char *msg = ldb_errmsg(NULL);
  if (msg == NULL || msg[0] == '\0') msg = ldb_strerror(rc);
  throw_code(env, ldb_code_name(rc), msg);
}

void throw_closed(napi_env env, const char *what) {
  char msg[128];
  snprintf(msg, sizeof msg, "the %s is closed", what);
  throw_code(env, "CLOSED", msg);
}

/* ---- arguments --- */

static const uint8_t empty_bytes[1] = {0};

int get_bytes(napi_env env, napi_value v, const char *what, const void **data,
              size_t *len) {
  napi_typedarray_type type;
  void *p = NULL;
  size_t n = 0;
  /* napi_get_typedarray_info itself refuses a non-TypedArray
   * (napi_invalid_arg, no exception), so no separate napi_is_typedarray on
   * this hot path */
  if (napi_get_typedarray_info(env, v, &type, &n, &p, NULL, NULL) != napi_ok ||
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

int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return 0;
  return t == napi_undefined || t == napi_null;
}

int get_range(napi_env env, const napi_value *args, uint32_t max_flags,
              ldb_iter_options *o) {
  memset(o, 0, sizeof *o);
  if (!is_nullish(env, args[0]) &&
      get_bytes(env, args[0], "lower bound", &o->lower, &o->lower_len))
    return -1;
  if (!is_nullish(env, args[1]) &&
      get_bytes(env, args[1], "upper bound", &o->upper, &o->upper_len))
    return -1;
  if (!is_nullish(env, args[2]) &&
      get_bytes(env, args[2], "prefix", &o->prefix, &o->prefix_len))
    return -1;
  double f = -1;
  if (napi_get_value_double(env, args[3], &f) != napi_ok || !(f >= 0) ||
      f > max_flags || f != (double)(uint32_t)f) {
    char msg[64];
    snprintf(msg, sizeof msg, "flags must be an integer from 0 to %u",
             max_flags);
    throw_type(env, msg);
    return -1;
  }
  uint32_t flags = (uint32_t)f;
  o->lower_exclusive = (flags & RANGE_LOWER_EXCLUSIVE) != 0;
  o->upper_exclusive = (flags & RANGE_UPPER_EXCLUSIVE) != 0;
  o->reverse = (flags & RANGE_REVERSE) != 0;
  return 0;
}

char *get_string(napi_env env, napi_value v, const char *what) {
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

napi_value undefined(napi_env env) {
  napi_value u = NULL;
  if (napi_get_undefined(env, &u) != napi_ok) return NULL;
  return u;
}

/* ---- the contract tables --- */

/* Sets obj[name] to a string (NULL: null) or a number. 0, or -1 thrown. */
static int set_str(napi_env env, napi_value obj, const char *name,
                   const char *s) {
  napi_value v;
  napi_status st = s ? napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v)
                     : napi_get_null(env, &v);
  if (st != napi_ok || napi_set_named_property(env, obj, name, v) != napi_ok) {
    throw_napi(env, name);
    return -1;
  }
  return 0;
}

static int set_num(napi_env env, napi_value obj, const char *name, double d) {
  napi_value v;
  if (napi_create_double(env, d, &v) != napi_ok ||
      napi_set_named_property(env, obj, name, v) != napi_ok) {
    throw_napi(env, name);
    return -1;
  }
  return 0;
}

/* contract(): the option, statistic and error tables compiled into this
 * addon, row by row ({ options, stats, errors }), so a test can check the
 * generated js/contract.ts against the binary that runs. */
static napi_value js_contract(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, opts, stats, errs, row;
  size_t n = 0;
  NAPI_OK(env, napi_create_object(env, &out));
  const ldb_option_info *o = ldb_option_table(&n);
  NAPI_OK(env, napi_create_array_with_length(env, n, &opts));
  for (size_t i = 0; i < n; i++) {
    NAPI_OK(env, napi_create_object(env, &row));
    if (set_str(env, row, "name", o[i].name) ||
        set_str(env, row, "jsName", o[i].js_name) ||
        set_num(env, row, "type", o[i].type) ||
        set_num(env, row, "default", (double)o[i].def) ||
        set_num(env, row, "min", (double)o[i].min) ||
        set_num(env, row, "max", (double)o[i].max) ||
        set_str(env, row, "values", o[i].values) ||
        set_str(env, row, "unit", o[i].unit) ||
        set_str(env, row, "doc", o[i].doc))
      return NULL;
    NAPI_OK(env, napi_set_element(env, opts, (uint32_t)i, row));
  }
  const ldb_stat_info *s = ldb_stat_table(&n);
  NAPI_OK(env, napi_create_array_with_length(env, n, &stats));
  for (size_t i = 0; i < n; i++) {
    NAPI_OK(env, napi_create_object(env, &row));
    if (set_str(env, row, "name", s[i].name) ||
        set_str(env, row, "jsName", s[i].js_name) ||
        set_str(env, row, "metric", s[i].metric) ||
        set_num(env, row, "type", s[i].type) ||
        set_num(env, row, "scale", s[i].scale) ||
        set_str(env, row, "help", s[i].help))
      return NULL;
    NAPI_OK(env, napi_set_element(env, stats, (uint32_t)i, row));
  }
  const ldb_error_info *e = ldb_error_table(&n);
  NAPI_OK(env, napi_create_array_with_length(env, n, &errs));
  for (size_t i = 0; i < n; i++) {
    NAPI_OK(env, napi_create_object(env, &row));
    if (set_num(env, row, "code", e[i].code) ||
        set_str(env, row, "name", e[i].name) ||
        set_str(env, row, "message", e[i].message))
      return NULL;
    NAPI_OK(env, napi_set_element(env, errs, (uint32_t)i, row));
  }
  NAPI_OK(env, napi_set_named_property(env, out, "options", opts));
  NAPI_OK(env, napi_set_named_property(env, out, "stats", stats));
  NAPI_OK(env, napi_set_named_property(env, out, "errors", errs));
  return out;
}

static napi_value js_version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  NAPI_OK(env,
          napi_create_string_utf8(env, ldb_version(), NAPI_AUTO_LENGTH, &v));
  return v;
}

/* ---- module --- */

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
#define FN(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}
      FN("open", js_open),
      FN("close", js_close),
      FN("readBuffer", js_read_buffer),
      FN("get", js_get),
      FN("getMany", js_get_many),
      FN("put", js_put),
      FN("del", js_del),
      FN("write", js_write),
      FN("writeAsync", js_write_async),
      FN("begin", js_begin),
      FN("txnGet", js_txn_get),
      FN("txnPut", js_txn_put),
      FN("txnDel", js_txn_del),
      FN("txnCommit", js_txn_commit),
      FN("txnCommitAsync", js_txn_commit_async),
      FN("txnAbort", js_txn_abort),
      FN("iterCreate", js_iter_create),
      FN("iterSeek", js_iter_seek),
      FN("iterNext", js_iter_next),
      FN("iterClose", js_iter_close),
      FN("rangeCount", js_range_count),
      FN("rangeDelete", js_range_delete),
      FN("flush", js_flush),
      FN("flushAsync", js_flush_async),
      FN("checkpoint", js_checkpoint),
      FN("check", js_check),
      FN("backup", js_backup),
      FN("stats", js_stats),
      FN("prometheus", js_prometheus),
      FN("events", js_events),
      FN("changesOpen", js_changes_open),
      FN("changesNext", js_changes_next),
      FN("changesClose", js_changes_close),
      FN("onCommit", js_on_commit),
      FN("offCommit", js_off_commit),
      FN("refCommit", js_ref_commit),
      FN("contract", js_contract),
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
