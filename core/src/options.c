/*
 * options.c — option defaults and their validation.
 */
#include "engine.h"

void ldb_options_default(ldb_options *o) {
  if (!o) return;
  memset(o, 0, sizeof *o);
  o->page_size = 4096;
  o->cache_size = 64u << 20;
  o->compression = LDB_COMPRESSION_NONE;
  o->sync_mode = LDB_SYNC_NORMAL;
  o->sync_interval_ms = 100;
  o->create_if_missing = 1;
  o->memtable_size = 64u << 20;
  o->background_checkpoint = ldb_threads_available() ? 1 : 0;
  o->max_active_txns = 10000;
}

int options_check(const ldb_options *o) {
  if (o->page_size < LDB_MIN_PAGE_SIZE || o->page_size > LDB_MAX_PAGE_SIZE ||
      (o->page_size & (o->page_size - 1)))
    return ldb_err(LDB_INVALID, "page_size %u is not a power of two in %u..%u",
                   o->page_size, LDB_MIN_PAGE_SIZE, LDB_MAX_PAGE_SIZE);
  if (o->compression < LDB_COMPRESSION_NONE ||
      o->compression > LDB_COMPRESSION_ZSTD ||
      !ldb_codec_available(o->compression))
    return ldb_err(LDB_INVALID,
                   "compression %d is not supported (use 0 none, "
                   "1 lz4, 2 zstd)",
                   o->compression);
  if (o->sync_mode < LDB_SYNC_FULL || o->sync_mode > LDB_SYNC_OFF)
    return ldb_err(LDB_INVALID,
                   "sync_mode %d is invalid (0 full, 1 normal, "
                   "2 off)",
                   o->sync_mode);
  if (o->memtable_size == 0)
    return ldb_err(LDB_INVALID, "memtable_size must be positive");
  if (o->compression_level < -131072 || o->compression_level > 22)
    return ldb_err(LDB_INVALID, "compression_level %d is out of range",
                   o->compression_level);
  return LDB_OK;
}
