/*
 * exports.c — small C helpers exported to JavaScript so that the wasm
 * engine (js/wasm/engine.ts) never lays out C structs by hand: opening with
 * options passed as an array of doubles, creating iterators from flat
 * arguments, and statistics flattened into an array of doubles.
 *
 * Everything else JS calls is the public API of lightningdb.h directly.
 */
#include <math.h>

#include "lightningdb.h"

/* Indexes into the options array of ldbw_open; NaN means "default". The
 * same order is in js/wasm/module.ts (OPT_*). */
enum {
  OPT_PAGE_SIZE,
  OPT_CACHE_SIZE,
  OPT_COMPRESSION,
  OPT_COMPRESSION_LEVEL,
  OPT_SYNC_MODE,
  OPT_SYNC_INTERVAL_MS,
  OPT_CREATE_IF_MISSING,
  OPT_ERROR_IF_EXISTS,
  OPT_READ_ONLY,
  OPT_MEMTABLE_SIZE,
  OPT_MAX_ACTIVE_TXNS,
  OPT_COUNT
};

/* Opens `path` (a label) on `store` (a JS store from ldbw_store_js_new).
 * There are no threads under WebAssembly: background_checkpoint is always 0,
 * so checkpoints run in bounded steps inside commits and ldb_checkpoint_step.
 */
int ldbw_open(const char *path, ldb_store *store, const double *o,
              ldb_db **out) {
  ldb_options opts;
  ldb_options_default(&opts);
  if (!isnan(o[OPT_PAGE_SIZE])) opts.page_size = (uint32_t)o[OPT_PAGE_SIZE];
  if (!isnan(o[OPT_CACHE_SIZE])) opts.cache_size = (uint64_t)o[OPT_CACHE_SIZE];
  if (!isnan(o[OPT_COMPRESSION])) opts.compression = (int)o[OPT_COMPRESSION];
  if (!isnan(o[OPT_COMPRESSION_LEVEL]))
    opts.compression_level = (int)o[OPT_COMPRESSION_LEVEL];
  if (!isnan(o[OPT_SYNC_MODE])) opts.sync_mode = (int)o[OPT_SYNC_MODE];
  if (!isnan(o[OPT_SYNC_INTERVAL_MS]))
    opts.sync_interval_ms = (uint32_t)o[OPT_SYNC_INTERVAL_MS];
  if (!isnan(o[OPT_CREATE_IF_MISSING]))
    opts.create_if_missing = (int)o[OPT_CREATE_IF_MISSING];
  if (!isnan(o[OPT_ERROR_IF_EXISTS]))
    opts.error_if_exists = (int)o[OPT_ERROR_IF_EXISTS];
  if (!isnan(o[OPT_READ_ONLY])) opts.read_only = (int)o[OPT_READ_ONLY];
  if (!isnan(o[OPT_MEMTABLE_SIZE]))
    opts.memtable_size = (uint64_t)o[OPT_MEMTABLE_SIZE];
  if (!isnan(o[OPT_MAX_ACTIVE_TXNS]))
    opts.max_active_txns = (uint32_t)o[OPT_MAX_ACTIVE_TXNS];
  opts.background_checkpoint = 0;
  opts.store = store;
  return ldb_open(path, &opts, out);
}

void ldbw_store_destroy(ldb_store *s) { ldb_store_destroy(s); }

/* ldb_iter_create with the options flattened; a NULL pointer (0 from JS)
 * means "no bound". Positions the iterator at the start of its range. */
int ldbw_iter_create(ldb_db *db, ldb_txn *txn, const void *lower,
                     size_t lower_len, int lower_exclusive, const void *upper,
                     size_t upper_len, int upper_exclusive, const void *prefix,
                     size_t prefix_len, int reverse, ldb_iter **out) {
  ldb_iter_options o;
  o.lower = lower;
  o.lower_len = lower_len;
  o.lower_exclusive = lower_exclusive;
  o.upper = upper;
  o.upper_len = upper_len;
  o.upper_exclusive = upper_exclusive;
  o.prefix = prefix;
  o.prefix_len = prefix_len;
  o.reverse = reverse;
  return ldb_iter_create(db, txn, &o, out);
}

/* ldb_changes_open with the options flattened (NULL: no bound) and since
 * as a double (JS numbers: exact up to 2^53). */
int ldbw_changes_open(ldb_db *db, double since, const void *lower,
                      size_t lower_len, int lower_exclusive, const void *upper,
                      size_t upper_len, int upper_exclusive,
                      const void *prefix, size_t prefix_len,
                      ldb_changes **out) {
  ldb_changes_options o;
  o.lower = lower;
  o.lower_len = lower_len;
  o.lower_exclusive = lower_exclusive;
  o.upper = upper;
  o.upper_len = upper_len;
  o.upper_exclusive = upper_exclusive;
  o.prefix = prefix;
  o.prefix_len = prefix_len;
  return ldb_changes_open(db, (uint64_t)since, &o, out);
}

int ldbw_checkpoint_step(ldb_db *db, uint32_t budget, int *more) {
  return ldb_checkpoint_step(db, budget, more);
}

/* Number of doubles ldbw_stats writes. */
#define STATS_SCALARS 28
int ldbw_stats_count(void) { return STATS_SCALARS + 2 * LDB_HIST_BUCKETS; }

/* Fills out[0..ldbw_stats_count()) with the statistics, in the order of
 * js/wasm/module.ts (STATS_FIELDS), then the two histograms. */
int ldbw_stats(ldb_db *db, double *out) {
  ldb_stats s;
  int rc = ldb_stats_get(db, &s), i = 0, b;
  if (rc != LDB_OK) return rc;
  out[i++] = (double)s.gets;
  out[i++] = (double)s.puts;
  out[i++] = (double)s.deletes;
  out[i++] = (double)s.batches;
  out[i++] = (double)s.commits;
  out[i++] = (double)s.conflicts;
  out[i++] = (double)s.aborts;
  out[i++] = (double)s.cache_hits;
  out[i++] = (double)s.cache_misses;
  out[i++] = (double)s.cache_evictions;
  out[i++] = (double)s.cache_bytes;
  out[i++] = (double)s.cache_capacity;
  out[i++] = (double)s.bytes_read;
  out[i++] = (double)s.bytes_written;
  out[i++] = (double)s.syncs;
  out[i++] = (double)s.checkpoints;
  out[i++] = (double)s.active_txns;
  out[i++] = (double)s.active_snapshots;
  out[i++] = (double)s.memtable_bytes;
  out[i++] = (double)s.data_file_size;
  out[i++] = (double)s.log_file_size;
  out[i++] = (double)s.page_size;
  out[i++] = (double)s.page_count;
  out[i++] = (double)s.free_pages;
  out[i++] = (double)s.last_seq;
  out[i++] = (double)s.checkpoint_seq;
  out[i++] = (double)s.uptime_ns;
  out[i++] = (double)s.background_error;
  for (b = 0; b < LDB_HIST_BUCKETS; b++) out[i++] = (double)s.get_latency[b];
  for (b = 0; b < LDB_HIST_BUCKETS; b++)
    out[i++] = (double)s.commit_latency[b];
  return LDB_OK;
}

/* Bytes currently allocated with malloc in the wasm heap (dlmalloc's
 * mallinfo), for leak tests and memory metrics. */
#include <malloc.h>
double ldbw_heap_used(void) {
  struct mallinfo mi = mallinfo();
  return (double)mi.uordblks;
}
