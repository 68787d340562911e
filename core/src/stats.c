/*
 * stats.c — statistics: a snapshot of the engine's counters, gauges and
 * latency histograms, and percentiles of those histograms.
 */
#include "engine.h"

int ldb_stats_get(ldb_db *db, ldb_stats *out) {
  int rc = check_db(db);
  if (rc) return rc;
  if (!out) return ldb_err(LDB_INVALID, "ldb_stats_get: out is NULL");
  eng *e = db->e;
  memset(out, 0, sizeof *out);
  out->gets = atomic_load(&e->st_gets);
  out->puts = atomic_load(&e->st_puts);
  out->deletes = atomic_load(&e->st_dels);
  out->batches = atomic_load(&e->st_batches);
  out->commits = atomic_load(&e->st_commits);
  out->conflicts = atomic_load(&e->st_conflicts);
  out->aborts = atomic_load(&e->st_aborts);
  out->checkpoints = atomic_load(&e->st_checkpoints);
  out->active_txns = atomic_load(&e->active_txns);
  out->active_snapshots = atomic_load(&e->active_snaps);
  bt_stats bs;
  bt_stats_get(e->bf, &bs);
  out->cache_hits = bs.cache_hits;
  out->cache_misses = bs.cache_misses;
  out->cache_evictions = bs.cache_evictions;
  out->cache_bytes = bs.cache_bytes;
  out->cache_capacity = bs.cache_capacity;
  out->bytes_read = bs.bytes_read;
  out->bytes_written = bs.bytes_written + wal_bytes_written(e->log);
  out->syncs = bs.syncs + wal_syncs(e->log);
  out->data_file_size = bs.file_size;
  out->page_count = bs.page_count;
  out->free_pages = bs.free_pages;
  out->log_file_size = wal_size(e->log);
  out->page_size = bt_page_size(e->bf);
  ldb_rwlock_rdlock(&e->state_lk);
  out->memtable_bytes =
      mt_bytes(e->active) + (e->frozen ? mt_bytes(e->frozen) : 0);
  ldb_rwlock_unlock(&e->state_lk);
  out->last_seq = atomic_load(&e->last_seq);
  out->checkpoint_seq = atomic_load(&e->ckpt_seq);
  out->uptime_ns = ldb_now_ns() - e->open_ns;
  out->background_error = atomic_load(&e->bg_error);
  for (int i = 0; i < LDB_HIST_BUCKETS; i++) {
    out->get_latency[i] =
        atomic_load_explicit(&e->get_hist[i], memory_order_relaxed);
    out->commit_latency[i] =
        atomic_load_explicit(&e->commit_hist[i], memory_order_relaxed);
  }
  return LDB_OK;
}

double ldb_hist_percentile(const uint64_t *hist, double p) {
  if (!hist || !(p > 0)) return 0;
  if (p > 100) p = 100;
  double total = 0;
  for (int i = 0; i < LDB_HIST_BUCKETS; i++)
    total += (double)hist[i];
  if (total == 0) return 0;
  double target = total * p / 100.0, cum = 0;
  for (int i = 0; i < LDB_HIST_BUCKETS; i++) {
    if (!hist[i]) continue;
    if (cum + (double)hist[i] >= target) {
      double lo = i == 0 ? 0 : (double)(1ull << i);
      double hi = (double)(1ull << (i + 1));
      return lo + (hi - lo) * ((target - cum) / (double)hist[i]);
    }
    cum += (double)hist[i];
  }
  return (double)(1ull << LDB_HIST_BUCKETS);
}
