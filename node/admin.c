/*
 * node/admin.c — what operators call on an open database: flush,
 * checkpoint, check, backup, the statistics (walked from ldb_stat_table),
 * their Prometheus text and the engine's event ring. Each is one core call
 * with its result converted; nothing is computed here.
 */
#include "binding.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- maintenance --- */

typedef int (*db_fn)(ldb_db *);

static napi_value call_db(napi_env env, napi_callback_info info, db_fn fn) {
  ARGS(1);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  int rc = fn(d->db);
  if (rc != LDB_OK) throw_ldb(env, rc);
  return NULL;
}

napi_value js_flush(napi_env env, napi_callback_info info) {
  return call_db(env, info, ldb_flush);
}
napi_value js_checkpoint(napi_env env, napi_callback_info info) {
  return call_db(env, info, ldb_checkpoint);
}
/* check(db): ldb_check_report; CORRUPT (and other errors) thrown, else its
 * result as { pages, freeChecked, freeDamaged, freeDamagedPages: number[],
 * freeSkipped: boolean, leafPages, leafBytes, branchPages, overflowPages }. */
napi_value js_check(napi_env env, napi_callback_info info) {
  ARGS(1);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  ldb_check_result r;
  int rc = ldb_check_report(d->db, &r);
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  const struct {
    const char *name;
    uint64_t v;
  } nums[] = {{"pages", r.pages},
              {"freeChecked", r.free_checked},
              {"freeDamaged", r.free_damaged},
              {"leafPages", r.leaf_pages},
              {"leafBytes", r.leaf_bytes},
              {"branchPages", r.branch_pages},
              {"overflowPages", r.overflow_pages}};
  uint32_t listed = r.free_damaged < LDB_CHECK_LISTED ? (uint32_t)r.free_damaged
                                                      : LDB_CHECK_LISTED;
  napi_value o, v, x;
  NAPI_OK(env, napi_create_object(env, &o));
  for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
    NAPI_OK(env, napi_create_double(env, (double)nums[i].v, &v));
    NAPI_OK(env, napi_set_named_property(env, o, nums[i].name, v));
  }
  NAPI_OK(env, napi_create_array_with_length(env, listed, &v));
  for (uint32_t i = 0; i < listed; i++) {
    NAPI_OK(env, napi_create_double(env, (double)r.free_damaged_pages[i], &x));
    NAPI_OK(env, napi_set_element(env, v, i, x));
  }
  NAPI_OK(env, napi_set_named_property(env, o, "freeDamagedPages", v));
  NAPI_OK(env, napi_get_boolean(env, r.free_skipped != 0, &v));
  NAPI_OK(env, napi_set_named_property(env, o, "freeSkipped", v));
  return o;
}

/* backup(db, path): the core validates the target. */
napi_value js_backup(napi_env env, napi_callback_info info) {
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

/* ---- statistics --- */

/* The field of row in s, as the table describes it (every field is a
 * uint64_t, histograms arrays of LDB_HIST_BUCKETS). */
static const uint64_t *stat_field(const ldb_stats *s, const ldb_stat_info *r) {
  return (const uint64_t *)(const void *)((const char *)s + r->offset);
}

/* stats(db): an object keyed by the js_name of every row of
 * ldb_stat_table: numbers in the field's unit, histograms as arrays of
 * LDB_HIST_BUCKETS counts. */
napi_value js_stats(napi_env env, napi_callback_info info) {
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
  size_t n = 0;
  const ldb_stat_info *rows = ldb_stat_table(&n);
  napi_value o, v, x;
  NAPI_OK(env, napi_create_object(env, &o));
  for (size_t i = 0; i < n; i++) {
    const uint64_t *f = stat_field(&s, &rows[i]);
    if (rows[i].type == LDB_METRIC_HISTOGRAM) {
      NAPI_OK(env, napi_create_array_with_length(env, LDB_HIST_BUCKETS, &v));
      for (uint32_t b = 0; b < LDB_HIST_BUCKETS; b++) {
        NAPI_OK(env, napi_create_double(env, (double)f[b], &x));
        NAPI_OK(env, napi_set_element(env, v, b, x));
      }
    } else {
      NAPI_OK(env, napi_create_double(env, (double)f[0], &v));
    }
    NAPI_OK(env, napi_set_named_property(env, o, rows[i].js_name, v));
  }
  return o;
}

/* prometheus(db, labels?): ldb_stats_prometheus of the current statistics;
 * labels ('db="main"', name="value" pairs) are added to every sample. */
napi_value js_prometheus(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  char *labels = NULL;
  if (!is_nullish(env, argv[1])) {
    labels = get_string(env, argv[1], "labels");
    if (labels == NULL) return NULL;
  }
  napi_value out = NULL;
  ldb_stats s;
  memset(&s, 0, sizeof s);
  size_t cap = 16u << 10, len = 0;
  char *buf = NULL;
  int rc = ldb_stats_get(d->db, &s);
  while (rc == LDB_OK) {
    char *nb = realloc(buf, cap);
    if (nb == NULL) {
      throw_code(env, "NO_MEMORY", "out of memory formatting statistics");
      goto done;
    }
    buf = nb;
    rc = ldb_stats_prometheus(&s, labels, buf, cap, &len);
    if (rc != LDB_OK || len < cap) break;
    cap = len + 1;
  }
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    goto done;
  }
  if (napi_create_string_utf8(env, buf, len, &out) != napi_ok) {
    throw_napi(env, "napi_create_string_utf8");
    out = NULL;
  }
done:
  free(buf);
  free(labels);
  return out;
}

/* ---- events ------------------------------------------------------------ */

/* events(db, after): the engine's kept events with seq > after
 * (ldb_events_read), oldest first, as objects { seq, type, code, timeNs,
 * lastNs, count, value } (type: ldb_event_name, code: ldb_code_name). */
napi_value js_events(napi_env env, napi_callback_info info) {
  ARGS(2);
  ndb *d = open_db(env, argv[0]);
  if (d == NULL) return NULL;
  double after = 0;
  if (napi_get_value_double(env, argv[1], &after) != napi_ok || after < 0) {
    throw_type(env, "after must be a non-negative number");
    return NULL;
  }
  ldb_event ev[LDB_EVENT_RING];
  size_t n = 0;
  int rc = ldb_events_read(d->db, (uint64_t)after, ev, LDB_EVENT_RING, &n);
  if (rc != LDB_OK) {
    throw_ldb(env, rc);
    return NULL;
  }
  napi_value arr, o, v;
  NAPI_OK(env, napi_create_array_with_length(env, n, &arr));
  for (size_t i = 0; i < n; i++) {
    NAPI_OK(env, napi_create_object(env, &o));
    const struct {
      const char *name;
      uint64_t value;
    } nums[] = {{"seq", ev[i].seq},
                {"timeNs", ev[i].time_ns},
                {"lastNs", ev[i].last_ns},
                {"count", ev[i].count},
                {"value", ev[i].value}};
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
      NAPI_OK(env, napi_create_double(env, (double)nums[k].value, &v));
      NAPI_OK(env, napi_set_named_property(env, o, nums[k].name, v));
    }
    NAPI_OK(env, napi_create_string_utf8(env, ldb_event_name(ev[i].type),
                                         NAPI_AUTO_LENGTH, &v));
    NAPI_OK(env, napi_set_named_property(env, o, "type", v));
    NAPI_OK(env, napi_create_string_utf8(env, ldb_code_name(ev[i].code),
                                         NAPI_AUTO_LENGTH, &v));
    NAPI_OK(env, napi_set_named_property(env, o, "code", v));
    NAPI_OK(env, napi_set_element(env, arr, (uint32_t)i, o));
  }
  return arr;
}
