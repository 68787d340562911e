/*
 * stats.c — statistics: the table of ldb_stats fields (stats.def), a
 * snapshot of the engine's counters, gauges and latency histograms,
 * percentiles of those histograms, their Prometheus text exposition, and
 * the reader of the engine's event ring (ldb_events_read).
 * Hosts expose what this file produces; they define no series of their own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "engine.h"

static const ldb_stat_info stat_table[] = {
#define LDB_STAT(c, js, metric, type, scale, help)                             \
  {#c, #js, #metric, LDB_METRIC_##type, scale, help, offsetof(ldb_stats, c)},
#include "stats.def"
#undef LDB_STAT
};

#define STAT_COUNT (sizeof stat_table / sizeof stat_table[0])
#define STAT_FIELD(c) (((ldb_stats *)0)->c)

/* Every row's field has the size its type implies... */
#define LDB_STAT(c, js, metric, type, scale, help)                             \
  _Static_assert(sizeof STAT_FIELD(c) ==                                       \
                     (LDB_METRIC_##type == LDB_METRIC_HISTOGRAM                \
                          ? sizeof(uint64_t) * LDB_HIST_BUCKETS                \
                          : sizeof(uint64_t)),                                 \
                 "stats.def: " #c " does not have the size of its type");
#include "stats.def"
#undef LDB_STAT

/* ...and together the rows cover the whole struct: a field without a row
 * fails the build. (test_contract checks offsets and order as well.) */
#define LDB_STAT(c, js, metric, type, scale, help) +sizeof STAT_FIELD(c)
_Static_assert(0
#include "stats.def"
                   == sizeof(ldb_stats),
               "every field of ldb_stats has a row in stats.def");
#undef LDB_STAT

const ldb_stat_info *ldb_stat_table(size_t *count) {
  if (count) *count = STAT_COUNT;
  return stat_table;
}

static uint64_t pct_ns(const uint64_t *hist, double p) {
  return (uint64_t)(ldb_hist_percentile(hist, p) + 0.5);
}

int ldb_events_read(ldb_db *db, uint64_t after, ldb_event *out, size_t cap,
                    size_t *count) {
  int rc = check_db(db);
  if (rc) return rc;
  if (!count || (!out && cap))
    return ldb_err(LDB_INVALID, "ldb_events_read: invalid arguments");
  *count = ev_ring_read(&db->e->events, after, out, cap);
  return LDB_OK;
}

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
  out->mmap_bytes = bs.mmap_bytes;
  out->mmap_sampled_resident = bs.mmap_sampled_resident;
  out->mmap_sampled_faults = bs.mmap_sampled_faults;
  out->mmap_resident_bytes = bs.mmap_resident_bytes;
  out->mmap_released_bytes = bs.mmap_released_bytes;
  out->bytes_read = bs.bytes_read;
  out->bytes_written = bs.bytes_written + feed_bytes_written(e->log);
  out->syncs = bs.syncs + feed_syncs(e->log);
  out->data_file_size = bs.file_size;
  out->page_count = bs.page_count;
  out->free_pages = bs.free_pages;
  out->range_deletes = atomic_load(&e->st_range_deletes);
  out->counts = atomic_load(&e->st_counts);
  out->values_raw = bs.codec_values[LDB_COMPRESSION_NONE];
  out->values_lz4 = bs.codec_values[LDB_COMPRESSION_LZ4];
  out->values_zstd = bs.codec_values[LDB_COMPRESSION_ZSTD];
  out->values_snappy = bs.codec_values[LDB_COMPRESSION_SNAPPY];
  out->log_file_size = feed_size(e->log);
  out->page_size = bt_page_size(e->bf);
  ldb_rwlock_rdlock(&e->state_lk);
  /* Memtables without commits count 0: their fixed parts (filter, first
   * index table) belong to the engine's baseline. */
  out->memtable_bytes =
      (mt_count(e->active) ? mt_mem(e->active) : 0) +
      (e->frozen && mt_count(e->frozen) ? mt_mem(e->frozen) : 0);
  ldb_rwlock_unlock(&e->state_lk);
  out->memtable_limit = e->opts.memtable_size + atomic_load(&e->mt_lent);
  out->corrupt_reads = bs.reads_corrupt;
  out->last_seq = atomic_load(&e->last_seq);
  out->checkpoint_seq = atomic_load(&e->ckpt_seq);
  out->uptime_ns = eng_now(e) - e->open_ns;
  out->background_error = atomic_load(&e->bg_error);
  for (int i = 0; i < LDB_HIST_BUCKETS; i++) {
    out->get_latency[i] =
        atomic_load_explicit(&e->get_hist[i], memory_order_relaxed);
    out->commit_latency[i] =
        atomic_load_explicit(&e->commit_hist[i], memory_order_relaxed);
  }
  out->get_latency_sum_ns = atomic_load(&e->get_sum);
  out->commit_latency_sum_ns = atomic_load(&e->commit_sum);
  out->get_p50_ns = pct_ns(out->get_latency, 50);
  out->get_p99_ns = pct_ns(out->get_latency, 99);
  out->commit_p50_ns = pct_ns(out->commit_latency, 50);
  out->commit_p99_ns = pct_ns(out->commit_latency, 99);
  if (e->opts.log_retention_bytes)
    feed_stats(e->log, &out->log_retained_since, &out->log_retained_segments,
               &out->log_retained_bytes);
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

/* ---- Prometheus text exposition ---------------------------------------- */

/* Appends to a caller's buffer, counting the full length. */
typedef struct {
  char *buf;
  size_t cap, len;
} out_buf;

static void emit(out_buf *o, const char *fmt, ...) LDB_PRINTF(2, 3);

static void emit(out_buf *o, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t room = o->len < o->cap ? o->cap - o->len : 0;
  int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
  va_end(ap);
  if (n > 0) o->len += (size_t)n;
}

/* name="value" pairs separated by commas, values with \\ \" \n escapes. */
static int labels_valid(const char *l) {
  const char *p = l;
  for (;;) {
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_'))
      return 0;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
           (*p >= '0' && *p <= '9') || *p == '_')
      p++;
    if (*p++ != '=' || *p++ != '"') return 0;
    for (; *p != '"'; p++) {
      if (!*p || *p == '\n') return 0;
      if (*p == '\\' && (p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
        p++;
      else if (*p == '\\')
        return 0;
    }
    p++;
    if (!*p) return 1;
    if (*p++ != ',') return 0;
  }
}

static uint64_t field(const ldb_stats *s, const ldb_stat_info *r) {
  uint64_t v;
  memcpy(&v, (const unsigned char *)s + r->offset, sizeof v);
  return v;
}

/* A sample value: exact integers when the scale is 1. */
static void emit_value(out_buf *o, uint64_t v, double scale) {
  if (scale == 1)
    emit(o, "%llu\n", (unsigned long long)v);
  else
    emit(o, "%.10g\n", (double)v * scale);
}

static void emit_histogram(out_buf *o, const ldb_stats *s,
                           const ldb_stat_info *r, const char *labels) {
  const uint64_t *h =
      (const uint64_t *)(const void *)((const unsigned char *)s + r->offset);
  const char *sep = *labels ? "," : "";
  uint64_t cum = 0, sum = 0;
  for (size_t i = 0; i < STAT_COUNT; i++)
    if (stat_table[i].type == LDB_METRIC_SUM &&
        !strcmp(stat_table[i].metric, r->metric))
      sum = field(s, &stat_table[i]);
  for (int i = 0; i < LDB_HIST_BUCKETS - 1; i++) {
    cum += h[i];
    emit(o, "%s_bucket{%s%sle=\"%.10g\"} %llu\n", r->metric, labels, sep,
         (double)(2ull << i) * r->scale, (unsigned long long)cum);
  }
  cum += h[LDB_HIST_BUCKETS - 1];
  emit(o, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", r->metric, labels, sep,
       (unsigned long long)cum);
  emit(o, "%s_sum%s%s%s ", r->metric, *labels ? "{" : "", labels,
       *labels ? "}" : "");
  emit_value(o, sum, r->scale);
  emit(o, "%s_count%s%s%s %llu\n", r->metric, *labels ? "{" : "", labels,
       *labels ? "}" : "", (unsigned long long)cum);
}

int ldb_stats_prometheus(const ldb_stats *s, const char *labels, char *buf,
                         size_t cap, size_t *len) {
  if (!s || !len || (!buf && cap))
    return ldb_err(LDB_INVALID, "ldb_stats_prometheus: invalid arguments");
  if (!labels) labels = "";
  if (*labels && !labels_valid(labels))
    return ldb_err(LDB_INVALID,
                   "labels must be name=\"value\" "
                   "pairs separated by commas: %.100s",
                   labels);
  out_buf o = {buf, cap, 0};
  static const char *const type_names[] = {"", "counter", "gauge", "histogram"};
  for (size_t i = 0; i < STAT_COUNT; i++) {
    const ldb_stat_info *r = &stat_table[i];
    if (r->type == LDB_METRIC_SUM) continue; /* inside its histogram */
    emit(&o, "# HELP %s %s.\n# TYPE %s %s\n", r->metric, r->help, r->metric,
         type_names[r->type]);
    if (r->type == LDB_METRIC_HISTOGRAM) {
      emit_histogram(&o, s, r, labels);
      continue;
    }
    emit(&o, "%s%s%s%s ", r->metric, *labels ? "{" : "", labels,
         *labels ? "}" : "");
    emit_value(&o, field(s, r), r->scale);
  }
  if (cap) buf[o.len < cap ? o.len : cap - 1] = 0;
  *len = o.len;
  return LDB_OK;
}
