/*
 * exports.c — the few C helpers the wasm engine (js/wasm/engine.ts) calls
 * besides the public API, each because JS would otherwise lay out a C
 * struct by hand: an ldb_options to fill by name, ldb_iter_options and
 * ldb_changes_options from flat arguments (one parameter list, one
 * conversion), and ldb_stats, ldb_check_result and ldb_event flattened
 * into doubles.
 *
 * Owns: nothing but that translation. Names of options, statistics and
 * error codes are not written here: options are set by name through
 * ldb_options_set_string(), statistics come from walking ldb_stat_table()
 * and error names from ldb_error_table(). Everything else JS calls is
 * lightningdb.h itself (wasm/wasm.cmake lists the exports).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* A fresh ldb_options with the defaults of ldb_options_default() (without
 * threads: background_checkpoint is 0), for JS to fill with
 * ldb_options_set_string(). NULL when out of memory. Freed with free(). */
ldb_options *ldbw_options_new(void) {
  ldb_options *o = malloc(sizeof *o);
  if (o) ldb_options_default(o);
  return o;
}

/* ldb_open of `path` (a label) on `store` (from ldbw_store_js_new) with
 * *opts; the store is the only field JS cannot set by name. */
int ldbw_open(const char *path, ldb_store *store, ldb_options *opts,
              ldb_db **out) {
  opts->store = store;
  return ldb_open(path, opts, out);
}

/* The range arguments every flat wrapper below takes, in this order; a
 * NULL pointer (0 from JS) means "no bound". */
#define FLAT_RANGE_PARAMS                                                      \
  const void *lower, size_t lower_len, int lower_exclusive, const void *upper, \
      size_t upper_len, int upper_exclusive, const void *prefix,               \
      size_t prefix_len
#define FLAT_RANGE_ARGS                                                        \
  lower, lower_len, lower_exclusive, upper, upper_len, upper_exclusive,        \
      prefix, prefix_len

/* ldb_iter_options from the flat range arguments and reverse. */
static ldb_iter_options flat_range(FLAT_RANGE_PARAMS, int reverse) {
  ldb_iter_options o = {.lower = lower,
                        .lower_len = lower_len,
                        .lower_exclusive = lower_exclusive,
                        .upper = upper,
                        .upper_len = upper_len,
                        .upper_exclusive = upper_exclusive,
                        .prefix = prefix,
                        .prefix_len = prefix_len,
                        .reverse = reverse};
  return o;
}

/* ldb_iter_create with the options flattened. The iterator is
 * unpositioned, as from ldb_iter_create. */
int ldbw_iter_create(ldb_db *db, ldb_txn *txn, FLAT_RANGE_PARAMS, int reverse,
                     ldb_iter **out) {
  ldb_iter_options o = flat_range(FLAT_RANGE_ARGS, reverse);
  return ldb_iter_create(db, txn, &o, out);
}

/* ldb_changes_open with the options flattened and since as a double (JS
 * numbers: exact up to 2^53). */
int ldbw_changes_open(ldb_db *db, double since, FLAT_RANGE_PARAMS,
                      ldb_changes **out) {
  ldb_changes_options o = {FLAT_RANGE_ARGS}; /* its fields, in this order */
  return ldb_changes_open(db, (uint64_t)since, &o, out);
}

/* ldb_count (op 0) or ldb_delete_range (op 1, at most limit keys;
 * limit < 0: no limit) over a range given as to ldbw_iter_create; the
 * number counted or deleted is stored in *out as a double (exact up to
 * 2^53, more keys than a database holds). */
int ldbw_range(ldb_db *db, ldb_txn *txn, FLAT_RANGE_PARAMS, int reverse, int op,
               double limit, double *out) {
  ldb_iter_options o = flat_range(FLAT_RANGE_ARGS, reverse);
  uint64_t n = 0;
  int rc = op == 0
               ? ldb_count(db, txn, &o, &n)
               : ldb_delete_range(db, txn, &o,
                                  limit < 0 ? UINT64_MAX : (uint64_t)limit, &n);
  *out = (double)n;
  return rc;
}

/* Doubles one row of ldb_stat_table() takes in ldbw_stats()'s output. */
static size_t row_width(const ldb_stat_info *r) {
  return r->type == LDB_METRIC_HISTOGRAM ? LDB_HIST_BUCKETS : 1;
}

/* The layout of ldbw_stats()'s output, for JS to read once per module:
 * "jsName:width" per row of ldb_stat_table(), space-separated, in table
 * order (width 1 for a counter or gauge, LDB_HIST_BUCKETS for a
 * histogram). js_names are identifiers, so no quoting is needed. Built on
 * the first call; static afterwards. NULL when out of memory. */
const char *ldbw_stats_layout(void) {
  static char *layout;
  size_t n, i, cap = 1, len = 0;
  const ldb_stat_info *t = ldb_stat_table(&n);
  if (layout) return layout;
  for (i = 0; i < n; i++)
    cap += strlen(t[i].js_name) + 16;
  layout = malloc(cap);
  if (!layout) return NULL;
  layout[0] = 0;
  for (i = 0; i < n; i++)
    len += (size_t)snprintf(layout + len, cap - len, "%s%s:%zu", i ? " " : "",
                            t[i].js_name, row_width(&t[i]));
  return layout;
}

/* Fills out[0..cap) with db's statistics as doubles, row by row of
 * ldb_stat_table() (the layout of ldbw_stats_layout()). A counter above
 * 2^53 loses precision, far beyond what an engine counts. LDB_INTERNAL when
 * cap is too small (JS sized out from another layout). */
int ldbw_stats(ldb_db *db, double *out, size_t cap) {
  ldb_stats s;
  size_t n, i, b, at = 0;
  const ldb_stat_info *t = ldb_stat_table(&n);
  int rc = ldb_stats_get(db, &s);
  if (rc != LDB_OK) return rc;
  for (i = 0; i < n; i++) {
    const char *field = (const char *)&s + t[i].offset;
    size_t w = row_width(&t[i]);
    if (at + w > cap)
      return ldb_err(LDB_INTERNAL, "ldbw_stats: %zu doubles exceed %zu", at + w,
                     cap);
    for (b = 0; b < w; b++)
      out[at++] = (double)((const uint64_t *)field)[b];
  }
  return LDB_OK;
}

/* ldb_stats_prometheus() of db's statistics now (JS holds no ldb_stats);
 * buf, cap and *len as there. */
int ldbw_stats_prometheus(ldb_db *db, const char *labels, char *buf, size_t cap,
                          size_t *len) {
  ldb_stats s;
  int rc = ldb_stats_get(db, &s);
  if (rc != LDB_OK) return rc;
  return ldb_stats_prometheus(&s, labels, buf, cap, len);
}

/* ldb_check_report of db, its result written as 8 + LDB_CHECK_LISTED
 * doubles (so JS reads no struct layout): pages, free_checked,
 * free_damaged, free_skipped, then free_damaged_pages (the first
 * min(free_damaged, LDB_CHECK_LISTED) are set), then leaf_pages,
 * leaf_bytes, branch_pages, overflow_pages. */
int ldbw_check(ldb_db *db, double *out) {
  ldb_check_result r;
  int rc = ldb_check_report(db, &r);
  if (rc) return rc;
  out[0] = (double)r.pages;
  out[1] = (double)r.free_checked;
  out[2] = (double)r.free_damaged;
  out[3] = r.free_skipped;
  for (size_t i = 0; i < LDB_CHECK_LISTED; i++)
    out[4 + i] = (double)r.free_damaged_pages[i];
  out[4 + LDB_CHECK_LISTED] = (double)r.leaf_pages;
  out[5 + LDB_CHECK_LISTED] = (double)r.leaf_bytes;
  out[6 + LDB_CHECK_LISTED] = (double)r.branch_pages;
  out[7 + LDB_CHECK_LISTED] = (double)r.overflow_pages;
  return LDB_OK;
}

/* Bytes of the WebAssembly heap allocated with malloc now (dlmalloc's
 * mallinfo): page caches, memtables and scratch buffers of every database
 * of the module. A diagnostic for memory use in browsers, where the heap
 * never shrinks; metrics() reports it as heapBytes (js/wasm/engine.ts). */
double ldbw_heap_bytes(void) {
  struct mallinfo mi = mallinfo();
  return (double)mi.uordblks;
}

/* ldb_events_read with `after` as a double (JS numbers: exact up to 2^53);
 * each event is written as 7 doubles: seq, time_ns, last_ns, count, value,
 * type, code, so JS reads no struct layout. At most cap events (and at
 * most LDB_EVENT_RING); *count receives the number written. */
int ldbw_events_read(ldb_db *db, double after, double *out, size_t cap,
                     size_t *count) {
  ldb_event ev[LDB_EVENT_RING];
  size_t n = 0;
  if (cap > LDB_EVENT_RING) cap = LDB_EVENT_RING;
  int rc = ldb_events_read(db, after > 0 ? (uint64_t)after : 0, ev, cap, &n);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    double *o = out + 7 * i;
    o[0] = (double)ev[i].seq;
    o[1] = (double)ev[i].time_ns;
    o[2] = (double)ev[i].last_ns;
    o[3] = (double)ev[i].count;
    o[4] = (double)ev[i].value;
    o[5] = ev[i].type;
    o[6] = ev[i].code;
  }
  *count = n;
  return LDB_OK;
}
