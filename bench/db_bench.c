/*
 * db_bench.c — LightningDB's db_bench-style benchmark against peer embedded
 * key-value stores (LMDB, LevelDB, RocksDB, SQLite), through their C APIs.
 *
 * This file owns: the workload definitions (fillseq, fillrandom, overwrite,
 * readrandom, readrandom_mt, readmissing, readseq, readreverse, seekrandom,
 * mixed, fillsync), the per-engine adapters, timing, the result table and the
 * JSON report. It is not a test: it checks that reads find what was written (a
 * miscount aborts that engine's run) but it proves nothing else.
 *
 * Each engine is an adapter behind `struct engine`; every adapter is compiled
 * only when its library was found at build time (HAVE_LMDB, HAVE_LEVELDB,
 * HAVE_ROCKSDB, HAVE_SQLITE; NO_LIGHTNINGDB leaves LightningDB out, for
 * building against the peers alone). Each engine runs every workload in
 * turn in its own subdirectory of --db, which is removed afterwards, and in
 * its own child process (fork), so that its peak RSS, its I/O counters and
 * its allocator state are its own: the child writes its results into a
 * shared anonymous mapping the parent reads after waitpid. Nothing of an
 * engine is opened in the parent. --keep_db keeps the subdirectories;
 * --use_existing_db then starts the read workloads from the database a
 * kept run left (same --num and --db), without loading one.
 *
 * Besides rates, each child measures what the issue-14 targets need: peak
 * RSS above the RSS it had before its first open (VmHWM, reset through
 * /proc/self/clear_refs), the disk space of its files at fixed points, the
 * bytes it wrote (/proc/self/io) per byte of keys and values put, and the
 * time to open its cleanly closed database (workload `reopen`). Linux only
 * for those figures; where /proc cannot be read they are reported as "-".
 *
 * Keys are 16 bytes: the 15-digit decimal index followed by '0' for keys
 * that are written and '1' for keys that are never written (readmissing), so
 * missing keys interleave with present ones. Values are --value_size bytes
 * (default 100) of incompressible pseudo-random data; compression is off in
 * every engine. All engines see the same key sequences (fixed seeds).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef NO_LIGHTNINGDB
#include "lightningdb.h"
#endif
#ifdef HAVE_LMDB
#include <lmdb.h>
#endif
#ifdef HAVE_LEVELDB
#include <leveldb/c.h>
#endif
#ifdef HAVE_ROCKSDB
#include <rocksdb/c.h>
#endif
#ifdef HAVE_SQLITE
#include <sqlite3.h>
#endif

#define KEY_SIZE 16
#define MAX_VALUE 4096
#define POOL_SIZE (1u << 20) /* random bytes values are cut from */
#define MAX_ENGINES 8
#define MAX_BENCHES 32

/* ------------------------------------------------------------------------ */
/* Configuration, random numbers, keys and values. */

static struct {
  uint64_t num;      /* keys loaded by the fills */
  uint64_t reads;    /* operations of readrandom/readmissing/mixed */
  uint64_t seeks;    /* seeks of seekrandom */
  uint64_t sync_num; /* puts of fillsync */
  uint32_t batch;    /* puts per commit in fillseq/fillrandom/overwrite */
  uint32_t nexts;    /* nexts after each seek */
  uint32_t value_size;
  uint32_t threads;     /* reader threads of readrandom_mt */
  uint64_t cache_bytes; /* every engine's page/block cache (not LMDB's) */
  int mmap_bounded;     /* LightningDB's mmap_bounded; -1: its default */
  const char *db_dir;   /* NULL: a fresh temporary directory */
  const char *json_path;
  int keep_db;
  int use_existing_db; /* read workloads start from the bulk database a
                          --keep_db run with the same --num and --db left,
                          instead of loading one (for profiling reads at
                          10M without the fill before each run) */
  int fill_check;      /* LightningDB: after each workload, walk the tree
                          (ldb_check_report) and print how full its leaves are;
                          untimed, but it reads every page */
} cfg;

static unsigned char *g_pool; /* POOL_SIZE random bytes */

/* splitmix64: fast, good enough to pick keys, and reproducible per seed. */
static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint64_t rng_below(uint64_t *s, uint64_t n) {
  return rng_next(s) % n;
}

/* Writes the 16-byte key of index i; missing keys end in '1' and so are
 * never equal to a written key but sort between them. */
static void make_key(unsigned char *k, uint64_t i, int missing) {
  for (int d = 14; d >= 0; d--) {
    k[d] = (unsigned char)('0' + i % 10);
    i /= 10;
  }
  k[15] = missing ? '1' : '0';
}

/* A value for a write: a slice of the random pool that depends on the
 * write's sequence number, so consecutive values differ. */
static const unsigned char *value_for(uint64_t seq) {
  return g_pool + (seq * 2654435761u) % (POOL_SIZE - cfg.value_size);
}

static double now_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "db_bench: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) die("out of memory (%zu bytes)", n);
  return p;
}

static int rm_cb(const char *path, const struct stat *sb, int flag,
                 struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  if (remove(path) != 0 && errno != ENOENT) {
    fprintf(stderr, "db_bench: cannot remove %s: %s\n", path, strerror(errno));
    return -1;
  }
  return 0;
}

/* rm -rf dir; a missing dir is fine. */
static int remove_tree(const char *dir) {
  struct stat st;
  if (lstat(dir, &st) != 0) return 0;
  return nftw(dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------------------ */
/* What a process costs: memory, I/O and disk space (Linux /proc). Every
 * reader returns 0 when its source cannot be read; the report prints 0 as
 * "-". */

/* A "Name:   123 kB" field of /proc/self/status, in bytes. */
static uint64_t proc_status_bytes(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[512];
  size_t fl = strlen(field);
  uint64_t v = 0;
  if (!f) return 0;
  while (fgets(line, sizeof line, f))
    if (!strncmp(line, field, fl) && line[fl] == ':') {
      v = strtoull(line + fl + 1, NULL, 10) * 1024;
      break;
    }
  fclose(f);
  return v;
}

/* Sets VmHWM (peak RSS) back to the current RSS (Linux >= 4.0). */
static void peak_rss_reset(void) {
  FILE *f = fopen("/proc/self/clear_refs", "w");
  if (!f) return;
  fputs("5", f);
  fclose(f);
}

/* /proc/self/io: wchar = bytes handed to write-family system calls;
 * write_bytes = bytes of page cache this process dirtied, i.e. what storage
 * will receive (a page dirtied twice before writeback counts once, and
 * writes through a shared mapping count here but not in wchar);
 * cancelled = dirty bytes dropped before writeback (files truncated or
 * deleted). All threads of the process count. */
typedef struct {
  uint64_t wchar, write_bytes, cancelled;
} io_counts;

static void io_read(io_counts *c) {
  FILE *f = fopen("/proc/self/io", "r");
  char line[128];
  memset(c, 0, sizeof *c);
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    unsigned long long v;
    if (sscanf(line, "wchar: %llu", &v) == 1) c->wchar = v;
    if (sscanf(line, "write_bytes: %llu", &v) == 1) c->write_bytes = v;
    if (sscanf(line, "cancelled_write_bytes: %llu", &v) == 1) c->cancelled = v;
  }
  fclose(f);
}

static uint64_t g_du; /* accumulator of dir_bytes' callback */

static int du_cb(const char *path, const struct stat *sb, int flag,
                 struct FTW *ftw) {
  (void)path;
  (void)ftw;
  if (flag == FTW_F) g_du += (uint64_t)sb->st_blocks * 512;
  return 0;
}

/* Bytes allocated on disk by the files under path (st_blocks, so a sparse
 * file such as LMDB's map counts only what it uses); 0 if it is missing. */
static uint64_t dir_bytes(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return 0;
  g_du = 0;
  if (nftw(path, du_cb, 16, FTW_PHYS) != 0) return 0;
  return g_du;
}

/* The 1-minute load average, or -1. */
static double load_avg(void) {
  double l = -1;
  FILE *f = fopen("/proc/loadavg", "r");
  if (!f) return -1;
  if (fscanf(f, "%lf", &l) != 1) l = -1;
  fclose(f);
  return l;
}

/* ------------------------------------------------------------------------ */
/* The engine adapter interface.
 *
 * open: the database in dir: a fresh one when dir does not exist, else the
 *   one a previous close left there (reopen). durable = 1 means every
 *   commit must be durable when write() returns (fillsync); durable = 0
 *   means commits may be lost in a crash (bulk phases).
 * close: a clean close, everything written reaches the engine's files.
 * write: puts n entries (keys: n * KEY_SIZE bytes; vals[i]: value_size
 *   bytes) as ONE atomic commit. n == 1 uses the engine's single-put path.
 * del: deletes n keys (all present) as ONE atomic commit.
 * get: *found = 1 and the value copied into buf (cap bytes), or *found = 0.
 * scan: visits every entry in key order (reverse: descending), touching key
 *   and value; *count receives the entries seen.
 * seek: positions at the first key >= key, then steps `nexts` times; *count
 *   receives the entries visited (at most nexts + 1).
 * Every function returns 0, or -1 after printing why. */
struct engine {
  const char *name;
  int (*open)(const char *dir, int durable, void **h);
  void (*close)(void *h);
  int (*write)(void *h, const unsigned char *keys,
               const unsigned char *const *vals, size_t n);
  int (*del)(void *h, const unsigned char *keys, size_t n);
  int (*get)(void *h, const unsigned char *key, unsigned char *buf, size_t cap,
             int *found);
  int (*scan)(void *h, int reverse, uint64_t *count);
  int (*seek)(void *h, const unsigned char *key, uint32_t nexts,
              uint64_t *count);
  void (*version)(char *buf, size_t cap);
  /* Optional (NULL): a one-line summary of the engine's own counters,
   * printed after each workload to explain the numbers. */
  void (*stats)(void *h, char *buf, size_t cap);
  /* Optional (NULL): the bytes the engine says it wrote to its files since
   * open, to check /proc's write counters against. */
  uint64_t (*own_written)(void *h);
  /* The engine's main data file inside its directory (its size is reported
   * beside the whole directory's), or NULL when the engine keeps its data
   * in many files (LevelDB, RocksDB: the directory is the figure). */
  const char *data_file;
};

/* A sink the scans fold bytes into, so the compiler cannot drop reads. */
static volatile uint64_t g_sink;

/* ------------------------------------------------------------------------ */
/* LightningDB: public API only. Bulk phases open with LDB_SYNC_OFF, fillsync
 * with LDB_SYNC_FULL (each ldb_put returns after the log is synced). */
#ifndef NO_LIGHTNINGDB
typedef struct {
  ldb_db *db;
  ldb_batch *batch;
} ldb_h;

static int ldb_fail(const char *what, int rc) {
  fprintf(stderr, "lightningdb: %s: %s (%s)\n", what, ldb_strerror(rc),
          ldb_errmsg(NULL));
  return -1;
}

static int e_ldb_open(const char *dir, int durable, void **out) {
  ldb_options o;
  ldb_options_default(&o);
  o.sync_mode = durable ? LDB_SYNC_FULL : LDB_SYNC_OFF;
  o.cache_size = cfg.cache_bytes;
  if (cfg.mmap_bounded >= 0) o.mmap_bounded = cfg.mmap_bounded;
  o.compression = LDB_COMPRESSION_NONE;
  ldb_h *h = xmalloc(sizeof *h);
  memset(h, 0, sizeof *h);
  int rc = ldb_open(dir, &o, &h->db);
  if (rc != LDB_OK) {
    free(h);
    return ldb_fail("open", rc);
  }
  rc = ldb_batch_create(h->db, &h->batch);
  if (rc != LDB_OK) {
    ldb_close(h->db);
    free(h);
    return ldb_fail("batch_create", rc);
  }
  *out = h;
  return 0;
}

static void e_ldb_close(void *p) {
  ldb_h *h = p;
  ldb_batch_destroy(h->batch);
  int rc = ldb_close(h->db);
  if (rc != LDB_OK) ldb_fail("close", rc);
  free(h);
}

static int e_ldb_write(void *p, const unsigned char *keys,
                       const unsigned char *const *vals, size_t n) {
  ldb_h *h = p;
  int rc;
  if (n == 1) {
    rc = ldb_put(h->db, keys, KEY_SIZE, vals[0], cfg.value_size);
    return rc == LDB_OK ? 0 : ldb_fail("put", rc);
  }
  ldb_batch_clear(h->batch);
  for (size_t i = 0; i < n; i++) {
    rc = ldb_batch_put(h->batch, keys + i * KEY_SIZE, KEY_SIZE, vals[i],
                       cfg.value_size);
    if (rc != LDB_OK) return ldb_fail("batch_put", rc);
  }
  rc = ldb_write(h->db, h->batch);
  return rc == LDB_OK ? 0 : ldb_fail("write", rc);
}

static int e_ldb_del(void *p, const unsigned char *keys, size_t n) {
  ldb_h *h = p;
  int rc;
  if (n == 1) {
    rc = ldb_delete(h->db, keys, KEY_SIZE);
    return rc == LDB_OK ? 0 : ldb_fail("delete", rc);
  }
  ldb_batch_clear(h->batch);
  for (size_t i = 0; i < n; i++) {
    rc = ldb_batch_delete(h->batch, keys + i * KEY_SIZE, KEY_SIZE);
    if (rc != LDB_OK) return ldb_fail("batch_delete", rc);
  }
  rc = ldb_write(h->db, h->batch);
  return rc == LDB_OK ? 0 : ldb_fail("write", rc);
}

static int e_ldb_get(void *p, const unsigned char *key, unsigned char *buf,
                     size_t cap, int *found) {
  ldb_h *h = p;
  size_t len;
  int rc = ldb_get_buf(h->db, key, KEY_SIZE, buf, cap, &len);
  if (rc == LDB_NOTFOUND) {
    *found = 0;
    return 0;
  }
  if (rc != LDB_OK) return ldb_fail("get_buf", rc);
  *found = 1;
  return 0;
}

static int e_ldb_scan(void *p, int reverse, uint64_t *count) {
  ldb_h *h = p;
  ldb_iter *it;
  uint64_t n = 0, sink = 0;
  int rc = ldb_iter_create(h->db, NULL, NULL, &it);
  if (rc != LDB_OK) return ldb_fail("iter_create", rc);
  for (rc = reverse ? ldb_iter_last(it) : ldb_iter_first(it); rc == LDB_OK;
       rc = reverse ? ldb_iter_prev(it) : ldb_iter_next(it)) {
    const void *k, *v;
    size_t kl, vl;
    if ((rc = ldb_iter_key(it, &k, &kl)) != LDB_OK) break;
    if ((rc = ldb_iter_value(it, &v, &vl)) != LDB_OK) break;
    sink += ((const unsigned char *)k)[kl - 1] + vl;
    n++;
  }
  ldb_iter_destroy(it);
  if (rc != LDB_NOTFOUND) return ldb_fail("iterate", rc);
  g_sink += sink;
  *count = n;
  return 0;
}

static int e_ldb_seek(void *p, const unsigned char *key, uint32_t nexts,
                      uint64_t *count) {
  ldb_h *h = p;
  ldb_iter *it;
  uint64_t n = 0, sink = 0;
  int rc = ldb_iter_create(h->db, NULL, NULL, &it);
  if (rc != LDB_OK) return ldb_fail("iter_create", rc);
  rc = ldb_iter_seek(it, key, KEY_SIZE);
  for (uint32_t i = 0; rc == LDB_OK; i++) {
    const void *k, *v;
    size_t kl, vl;
    if ((rc = ldb_iter_key(it, &k, &kl)) != LDB_OK) break;
    if ((rc = ldb_iter_value(it, &v, &vl)) != LDB_OK) break;
    sink += ((const unsigned char *)k)[kl - 1] + vl;
    n++;
    if (i == nexts) break;
    rc = ldb_iter_next(it);
  }
  ldb_iter_destroy(it);
  if (rc != LDB_OK && rc != LDB_NOTFOUND) return ldb_fail("iterate", rc);
  g_sink += sink;
  *count = n;
  return 0;
}

static void e_ldb_version(char *buf, size_t cap) {
  snprintf(buf, cap, "%s", ldb_version());
}

static void e_ldb_stats(void *p, char *buf, size_t cap) {
  ldb_h *h = p;
  ldb_stats st;
  if (ldb_stats_get(h->db, &st) != LDB_OK) {
    snprintf(buf, cap, "stats: %s", ldb_errmsg(NULL));
    return;
  }
  snprintf(buf, cap,
           "checkpoints=%" PRIu64 " memtable=%.1fMB data=%.1fMB (%" PRIu64
           " pages, %" PRIu64 " free) log=%.1fMB cache=%.1fMB hit/miss=%" PRIu64
           "/%" PRIu64 " mapped=%.1fMB released=%.0fMB syncs=%" PRIu64
           " written=%.0fMB",
           st.checkpoints, st.memtable_bytes / 1e6, st.data_file_size / 1e6,
           st.page_count, st.free_pages, st.log_file_size / 1e6,
           st.cache_bytes / 1e6, st.cache_hits, st.cache_misses,
           st.mmap_resident_bytes / 1e6, st.mmap_released_bytes / 1e6, st.syncs,
           st.bytes_written / 1e6);
  ldb_check_result cr;
  size_t len = strlen(buf);
  if (!cfg.fill_check || len >= cap) return;
  if (ldb_check_report(h->db, &cr) != LDB_OK) {
    snprintf(buf + len, cap - len, "\n             check: %s",
             ldb_errmsg(h->db));
    return;
  }
  uint64_t leaf_cap = cr.leaf_pages * (st.page_size - 16);
  snprintf(buf + len, cap - len,
           "\n             leaves=%" PRIu64 " fill=%.1f%% (%.1fMB of %.1fMB)"
           " branches=%" PRIu64 " overflow=%" PRIu64,
           cr.leaf_pages, leaf_cap ? 100.0 * cr.leaf_bytes / leaf_cap : 0.0,
           cr.leaf_bytes / 1e6, leaf_cap / 1e6, cr.branch_pages,
           cr.overflow_pages);
}

static uint64_t e_ldb_own_written(void *p) {
  ldb_h *h = p;
  ldb_stats st;
  return ldb_stats_get(h->db, &st) == LDB_OK ? st.bytes_written : 0;
}

static const struct engine ENGINE_LDB = {
    "lightningdb", e_ldb_open,  e_ldb_close,       e_ldb_write,
    e_ldb_del,     e_ldb_get,   e_ldb_scan,        e_ldb_seek,
    e_ldb_version, e_ldb_stats, e_ldb_own_written, "data.ldb"};
#endif

/* ------------------------------------------------------------------------ */
/* LMDB: MDB_NOSYNC for bulk phases, default (sync at every commit) for
 * fillsync; the map is sized to hold the whole run. A read is one read-only
 * transaction (renewed, not re-allocated), as ldb_get reads one snapshot. */
#ifdef HAVE_LMDB
typedef struct {
  MDB_env *env;
  MDB_dbi dbi;
  MDB_txn *rtxn; /* reset between reads; renewed for each one */
} lmdb_h;

static int lmdb_fail(const char *what, int rc) {
  fprintf(stderr, "lmdb: %s: %s\n", what, mdb_strerror(rc));
  return -1;
}

static int e_lmdb_open(const char *dir, int durable, void **out) {
  lmdb_h *h = xmalloc(sizeof *h);
  memset(h, 0, sizeof *h);
  MDB_txn *txn = NULL;
  int rc;
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "lmdb: mkdir %s: %s\n", dir, strerror(errno));
    free(h);
    return -1;
  }
  /* Sparse: only the pages used take disk space. */
  size_t map = (size_t)16 << 30;
  size_t need =
      (size_t)(cfg.num + cfg.sync_num) * (KEY_SIZE + cfg.value_size) * 4;
  if (need > map) map = need;
  if ((rc = mdb_env_create(&h->env)) != 0) goto fail;
  if ((rc = mdb_env_set_mapsize(h->env, map)) != 0) goto fail;
  if ((rc = mdb_env_open(h->env, dir, durable ? 0 : MDB_NOSYNC, 0644)) != 0)
    goto fail;
  if ((rc = mdb_txn_begin(h->env, NULL, 0, &txn)) != 0) goto fail;
  if ((rc = mdb_dbi_open(txn, NULL, 0, &h->dbi)) != 0) goto fail;
  rc = mdb_txn_commit(txn);
  txn = NULL;
  if (rc != 0) goto fail;
  *out = h;
  return 0;
fail:
  if (txn) mdb_txn_abort(txn);
  if (h->env) mdb_env_close(h->env);
  free(h);
  return lmdb_fail("open", rc);
}

static void e_lmdb_close(void *p) {
  lmdb_h *h = p;
  if (h->rtxn) mdb_txn_abort(h->rtxn);
  mdb_env_close(h->env);
  free(h);
}

static int e_lmdb_write(void *p, const unsigned char *keys,
                        const unsigned char *const *vals, size_t n) {
  lmdb_h *h = p;
  MDB_txn *txn;
  int rc = mdb_txn_begin(h->env, NULL, 0, &txn);
  if (rc != 0) return lmdb_fail("txn_begin", rc);
  for (size_t i = 0; i < n; i++) {
    MDB_val k = {KEY_SIZE, (void *)(keys + i * KEY_SIZE)};
    MDB_val v = {cfg.value_size, (void *)vals[i]};
    if ((rc = mdb_put(txn, h->dbi, &k, &v, 0)) != 0) {
      mdb_txn_abort(txn);
      return lmdb_fail("put", rc);
    }
  }
  rc = mdb_txn_commit(txn);
  return rc == 0 ? 0 : lmdb_fail("commit", rc);
}

static int e_lmdb_del(void *p, const unsigned char *keys, size_t n) {
  lmdb_h *h = p;
  MDB_txn *txn;
  int rc = mdb_txn_begin(h->env, NULL, 0, &txn);
  if (rc != 0) return lmdb_fail("txn_begin", rc);
  for (size_t i = 0; i < n; i++) {
    MDB_val k = {KEY_SIZE, (void *)(keys + i * KEY_SIZE)};
    if ((rc = mdb_del(txn, h->dbi, &k, NULL)) != 0) {
      mdb_txn_abort(txn);
      return lmdb_fail("del", rc);
    }
  }
  rc = mdb_txn_commit(txn);
  return rc == 0 ? 0 : lmdb_fail("commit", rc);
}

static int lmdb_read_txn(lmdb_h *h) {
  int rc = h->rtxn ? mdb_txn_renew(h->rtxn)
                   : mdb_txn_begin(h->env, NULL, MDB_RDONLY, &h->rtxn);
  return rc == 0 ? 0 : lmdb_fail("read txn", rc);
}

static int e_lmdb_get(void *p, const unsigned char *key, unsigned char *buf,
                      size_t cap, int *found) {
  lmdb_h *h = p;
  if (lmdb_read_txn(h) != 0) return -1;
  MDB_val k = {KEY_SIZE, (void *)key}, v;
  int rc = mdb_get(h->rtxn, h->dbi, &k, &v);
  if (rc == 0) memcpy(buf, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
  mdb_txn_reset(h->rtxn);
  if (rc == MDB_NOTFOUND) {
    *found = 0;
    return 0;
  }
  if (rc != 0) return lmdb_fail("get", rc);
  *found = 1;
  return 0;
}

/* readrandom_mt: the same read on a transaction of the calling thread
 * (*tls, made on first use), since h->rtxn belongs to one thread. */
static int e_lmdb_get_tls(void *p, void **tls, const unsigned char *key,
                          unsigned char *buf, size_t cap, int *found) {
  lmdb_h *h = p;
  MDB_txn *txn = *tls;
  int rc =
      txn ? mdb_txn_renew(txn) : mdb_txn_begin(h->env, NULL, MDB_RDONLY, &txn);
  if (rc != 0) return lmdb_fail("read txn", rc);
  *tls = txn;
  MDB_val k = {KEY_SIZE, (void *)key}, v;
  rc = mdb_get(txn, h->dbi, &k, &v);
  if (rc == 0) memcpy(buf, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
  mdb_txn_reset(txn);
  if (rc == MDB_NOTFOUND) {
    *found = 0;
    return 0;
  }
  if (rc != 0) return lmdb_fail("get", rc);
  *found = 1;
  return 0;
}

static int e_lmdb_scan(void *p, int reverse, uint64_t *count) {
  lmdb_h *h = p;
  MDB_cursor *c;
  MDB_val k, v;
  uint64_t n = 0, sink = 0;
  if (lmdb_read_txn(h) != 0) return -1;
  int rc = mdb_cursor_open(h->rtxn, h->dbi, &c);
  if (rc != 0) {
    mdb_txn_reset(h->rtxn);
    return lmdb_fail("cursor_open", rc);
  }
  for (rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_LAST : MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(c, &k, &v, reverse ? MDB_PREV : MDB_NEXT)) {
    sink += ((const unsigned char *)k.mv_data)[k.mv_size - 1] + v.mv_size;
    n++;
  }
  mdb_cursor_close(c);
  mdb_txn_reset(h->rtxn);
  if (rc != MDB_NOTFOUND) return lmdb_fail("cursor_get", rc);
  g_sink += sink;
  *count = n;
  return 0;
}

static int e_lmdb_seek(void *p, const unsigned char *key, uint32_t nexts,
                       uint64_t *count) {
  lmdb_h *h = p;
  MDB_cursor *c;
  MDB_val k = {KEY_SIZE, (void *)key}, v;
  uint64_t n = 0, sink = 0;
  if (lmdb_read_txn(h) != 0) return -1;
  int rc = mdb_cursor_open(h->rtxn, h->dbi, &c);
  if (rc != 0) {
    mdb_txn_reset(h->rtxn);
    return lmdb_fail("cursor_open", rc);
  }
  rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  for (uint32_t i = 0; rc == 0; i++) {
    sink += ((const unsigned char *)k.mv_data)[k.mv_size - 1] + v.mv_size;
    n++;
    if (i == nexts) break;
    rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(c);
  mdb_txn_reset(h->rtxn);
  if (rc != 0 && rc != MDB_NOTFOUND) return lmdb_fail("cursor_get", rc);
  g_sink += sink;
  *count = n;
  return 0;
}

static void e_lmdb_version(char *buf, size_t cap) {
  int maj, min, patch;
  mdb_version(&maj, &min, &patch);
  snprintf(buf, cap, "%d.%d.%d", maj, min, patch);
}

static const struct engine ENGINE_LMDB = {
    "lmdb",         e_lmdb_open, e_lmdb_close, e_lmdb_write,
    e_lmdb_del,     e_lmdb_get,  e_lmdb_scan,  e_lmdb_seek,
    e_lmdb_version, NULL,        NULL,         "data.mdb"};
#endif

/* ------------------------------------------------------------------------ */
/* LevelDB: WriteBatch per commit, sync=false for bulk and sync=true for
 * fillsync, 64 MiB LRU block cache, 10-bit bloom filter, no compression
 * (the other engines do not compress either). */
#ifdef HAVE_LEVELDB
typedef struct {
  leveldb_t *db;
  leveldb_options_t *opts;
  leveldb_cache_t *cache;
  leveldb_filterpolicy_t *bloom;
  leveldb_writeoptions_t *wopts;
  leveldb_readoptions_t *ropts;
  leveldb_writebatch_t *batch;
} leveldb_h;

static int leveldb_fail(const char *what, char *err) {
  fprintf(stderr, "leveldb: %s: %s\n", what, err ? err : "failed");
  leveldb_free(err);
  return -1;
}

static void e_leveldb_close(void *p) {
  leveldb_h *h = p;
  if (h->db) leveldb_close(h->db);
  if (h->batch) leveldb_writebatch_destroy(h->batch);
  if (h->ropts) leveldb_readoptions_destroy(h->ropts);
  if (h->wopts) leveldb_writeoptions_destroy(h->wopts);
  if (h->opts) leveldb_options_destroy(h->opts);
  if (h->bloom) leveldb_filterpolicy_destroy(h->bloom);
  if (h->cache) leveldb_cache_destroy(h->cache);
  free(h);
}

static int e_leveldb_open(const char *dir, int durable, void **out) {
  leveldb_h *h = xmalloc(sizeof *h);
  memset(h, 0, sizeof *h);
  char *err = NULL;
  h->opts = leveldb_options_create();
  h->cache = leveldb_cache_create_lru(cfg.cache_bytes);
  h->bloom = leveldb_filterpolicy_create_bloom(10);
  leveldb_options_set_create_if_missing(h->opts, 1);
  leveldb_options_set_cache(h->opts, h->cache);
  leveldb_options_set_filter_policy(h->opts, h->bloom);
  leveldb_options_set_compression(h->opts, leveldb_no_compression);
  h->wopts = leveldb_writeoptions_create();
  leveldb_writeoptions_set_sync(h->wopts, durable);
  h->ropts = leveldb_readoptions_create();
  h->batch = leveldb_writebatch_create();
  h->db = leveldb_open(h->opts, dir, &err);
  if (err) {
    e_leveldb_close(h);
    return leveldb_fail("open", err);
  }
  *out = h;
  return 0;
}

static int e_leveldb_write(void *p, const unsigned char *keys,
                           const unsigned char *const *vals, size_t n) {
  leveldb_h *h = p;
  char *err = NULL;
  if (n == 1) {
    leveldb_put(h->db, h->wopts, (const char *)keys, KEY_SIZE,
                (const char *)vals[0], cfg.value_size, &err);
  } else {
    leveldb_writebatch_clear(h->batch);
    for (size_t i = 0; i < n; i++)
      leveldb_writebatch_put(h->batch, (const char *)keys + i * KEY_SIZE,
                             KEY_SIZE, (const char *)vals[i], cfg.value_size);
    leveldb_write(h->db, h->wopts, h->batch, &err);
  }
  return err ? leveldb_fail("write", err) : 0;
}

static int e_leveldb_del(void *p, const unsigned char *keys, size_t n) {
  leveldb_h *h = p;
  char *err = NULL;
  leveldb_writebatch_clear(h->batch);
  for (size_t i = 0; i < n; i++)
    leveldb_writebatch_delete(h->batch, (const char *)keys + i * KEY_SIZE,
                              KEY_SIZE);
  leveldb_write(h->db, h->wopts, h->batch, &err);
  return err ? leveldb_fail("delete", err) : 0;
}

/* The C API has no pinned get: leveldb_get returns a malloc'd copy. */
static int e_leveldb_get(void *p, const unsigned char *key, unsigned char *buf,
                         size_t cap, int *found) {
  leveldb_h *h = p;
  char *err = NULL;
  size_t len;
  char *v =
      leveldb_get(h->db, h->ropts, (const char *)key, KEY_SIZE, &len, &err);
  if (err) return leveldb_fail("get", err);
  *found = v != NULL;
  if (v) {
    memcpy(buf, v, len < cap ? len : cap);
    leveldb_free(v);
  }
  return 0;
}

static int e_leveldb_scan(void *p, int reverse, uint64_t *count) {
  leveldb_h *h = p;
  uint64_t n = 0, sink = 0;
  char *err = NULL;
  leveldb_iterator_t *it = leveldb_create_iterator(h->db, h->ropts);
  if (reverse)
    leveldb_iter_seek_to_last(it);
  else
    leveldb_iter_seek_to_first(it);
  while (leveldb_iter_valid(it)) {
    size_t kl, vl;
    const char *k = leveldb_iter_key(it, &kl);
    leveldb_iter_value(it, &vl);
    sink += (unsigned char)k[kl - 1] + vl;
    n++;
    if (reverse)
      leveldb_iter_prev(it);
    else
      leveldb_iter_next(it);
  }
  leveldb_iter_get_error(it, &err);
  leveldb_iter_destroy(it);
  if (err) return leveldb_fail("iterate", err);
  g_sink += sink;
  *count = n;
  return 0;
}

static int e_leveldb_seek(void *p, const unsigned char *key, uint32_t nexts,
                          uint64_t *count) {
  leveldb_h *h = p;
  uint64_t n = 0, sink = 0;
  char *err = NULL;
  leveldb_iterator_t *it = leveldb_create_iterator(h->db, h->ropts);
  leveldb_iter_seek(it, (const char *)key, KEY_SIZE);
  for (uint32_t i = 0; leveldb_iter_valid(it); i++) {
    size_t kl, vl;
    const char *k = leveldb_iter_key(it, &kl);
    leveldb_iter_value(it, &vl);
    sink += (unsigned char)k[kl - 1] + vl;
    n++;
    if (i == nexts) break;
    leveldb_iter_next(it);
  }
  leveldb_iter_get_error(it, &err);
  leveldb_iter_destroy(it);
  if (err) return leveldb_fail("iterate", err);
  g_sink += sink;
  *count = n;
  return 0;
}

static void e_leveldb_version(char *buf, size_t cap) {
  snprintf(buf, cap, "%d.%d", leveldb_major_version(), leveldb_minor_version());
}

static const struct engine ENGINE_LEVELDB = {"leveldb",
                                             e_leveldb_open,
                                             e_leveldb_close,
                                             e_leveldb_write,
                                             e_leveldb_del,
                                             e_leveldb_get,
                                             e_leveldb_scan,
                                             e_leveldb_seek,
                                             e_leveldb_version,
                                             NULL,
                                             NULL,
                                             NULL};
#endif

/* ------------------------------------------------------------------------ */
/* RocksDB: as LevelDB (WriteBatch, sync per phase, 64 MiB LRU block cache,
 * 10-bit bloom filter, no compression), background threads = nproc, and
 * pinned gets (no malloc'd copy per read). */
#ifdef HAVE_ROCKSDB
typedef struct {
  rocksdb_t *db;
  rocksdb_options_t *opts;
  rocksdb_block_based_table_options_t *topts;
  rocksdb_cache_t *cache;
  rocksdb_writeoptions_t *wopts;
  rocksdb_readoptions_t *ropts;
  rocksdb_writebatch_t *batch;
} rocksdb_h;

static int rocksdb_fail(const char *what, char *err) {
  fprintf(stderr, "rocksdb: %s: %s\n", what, err ? err : "failed");
  free(err);
  return -1;
}

static void e_rocksdb_close(void *p) {
  rocksdb_h *h = p;
  if (h->db) rocksdb_close(h->db);
  if (h->batch) rocksdb_writebatch_destroy(h->batch);
  if (h->ropts) rocksdb_readoptions_destroy(h->ropts);
  if (h->wopts) rocksdb_writeoptions_destroy(h->wopts);
  if (h->opts) rocksdb_options_destroy(h->opts);
  if (h->topts) rocksdb_block_based_options_destroy(h->topts);
  if (h->cache) rocksdb_cache_destroy(h->cache);
  free(h);
}

static int e_rocksdb_open(const char *dir, int durable, void **out) {
  rocksdb_h *h = xmalloc(sizeof *h);
  memset(h, 0, sizeof *h);
  char *err = NULL;
  h->opts = rocksdb_options_create();
  rocksdb_options_set_create_if_missing(h->opts, 1);
  rocksdb_options_increase_parallelism(h->opts,
                                       (int)sysconf(_SC_NPROCESSORS_ONLN));
  rocksdb_options_set_compression(h->opts, rocksdb_no_compression);
  h->topts = rocksdb_block_based_options_create();
  h->cache = rocksdb_cache_create_lru(cfg.cache_bytes);
  rocksdb_block_based_options_set_block_cache(h->topts, h->cache);
  /* The table options take ownership of the filter policy. */
  rocksdb_block_based_options_set_filter_policy(
      h->topts, rocksdb_filterpolicy_create_bloom(10));
  rocksdb_options_set_block_based_table_factory(h->opts, h->topts);
  h->wopts = rocksdb_writeoptions_create();
  rocksdb_writeoptions_set_sync(h->wopts, (unsigned char)durable);
  h->ropts = rocksdb_readoptions_create();
  h->batch = rocksdb_writebatch_create();
  h->db = rocksdb_open(h->opts, dir, &err);
  if (err) {
    e_rocksdb_close(h);
    return rocksdb_fail("open", err);
  }
  *out = h;
  return 0;
}

static int e_rocksdb_write(void *p, const unsigned char *keys,
                           const unsigned char *const *vals, size_t n) {
  rocksdb_h *h = p;
  char *err = NULL;
  if (n == 1) {
    rocksdb_put(h->db, h->wopts, (const char *)keys, KEY_SIZE,
                (const char *)vals[0], cfg.value_size, &err);
  } else {
    rocksdb_writebatch_clear(h->batch);
    for (size_t i = 0; i < n; i++)
      rocksdb_writebatch_put(h->batch, (const char *)keys + i * KEY_SIZE,
                             KEY_SIZE, (const char *)vals[i], cfg.value_size);
    rocksdb_write(h->db, h->wopts, h->batch, &err);
  }
  return err ? rocksdb_fail("write", err) : 0;
}

static int e_rocksdb_del(void *p, const unsigned char *keys, size_t n) {
  rocksdb_h *h = p;
  char *err = NULL;
  rocksdb_writebatch_clear(h->batch);
  for (size_t i = 0; i < n; i++)
    rocksdb_writebatch_delete(h->batch, (const char *)keys + i * KEY_SIZE,
                              KEY_SIZE);
  rocksdb_write(h->db, h->wopts, h->batch, &err);
  return err ? rocksdb_fail("delete", err) : 0;
}

static int e_rocksdb_get(void *p, const unsigned char *key, unsigned char *buf,
                         size_t cap, int *found) {
  rocksdb_h *h = p;
  char *err = NULL;
  rocksdb_pinnableslice_t *s =
      rocksdb_get_pinned(h->db, h->ropts, (const char *)key, KEY_SIZE, &err);
  if (err) return rocksdb_fail("get", err);
  *found = s != NULL;
  if (s) {
    size_t len;
    const char *v = rocksdb_pinnableslice_value(s, &len);
    memcpy(buf, v, len < cap ? len : cap);
    rocksdb_pinnableslice_destroy(s);
  }
  return 0;
}

static int e_rocksdb_scan(void *p, int reverse, uint64_t *count) {
  rocksdb_h *h = p;
  uint64_t n = 0, sink = 0;
  char *err = NULL;
  rocksdb_iterator_t *it = rocksdb_create_iterator(h->db, h->ropts);
  if (reverse)
    rocksdb_iter_seek_to_last(it);
  else
    rocksdb_iter_seek_to_first(it);
  while (rocksdb_iter_valid(it)) {
    size_t kl, vl;
    const char *k = rocksdb_iter_key(it, &kl);
    rocksdb_iter_value(it, &vl);
    sink += (unsigned char)k[kl - 1] + vl;
    n++;
    if (reverse)
      rocksdb_iter_prev(it);
    else
      rocksdb_iter_next(it);
  }
  rocksdb_iter_get_error(it, &err);
  rocksdb_iter_destroy(it);
  if (err) return rocksdb_fail("iterate", err);
  g_sink += sink;
  *count = n;
  return 0;
}

static int e_rocksdb_seek(void *p, const unsigned char *key, uint32_t nexts,
                          uint64_t *count) {
  rocksdb_h *h = p;
  uint64_t n = 0, sink = 0;
  char *err = NULL;
  rocksdb_iterator_t *it = rocksdb_create_iterator(h->db, h->ropts);
  rocksdb_iter_seek(it, (const char *)key, KEY_SIZE);
  for (uint32_t i = 0; rocksdb_iter_valid(it); i++) {
    size_t kl, vl;
    const char *k = rocksdb_iter_key(it, &kl);
    rocksdb_iter_value(it, &vl);
    sink += (unsigned char)k[kl - 1] + vl;
    n++;
    if (i == nexts) break;
    rocksdb_iter_next(it);
  }
  rocksdb_iter_get_error(it, &err);
  rocksdb_iter_destroy(it);
  if (err) return rocksdb_fail("iterate", err);
  g_sink += sink;
  *count = n;
  return 0;
}

#ifndef ROCKSDB_VERSION_STR
#define ROCKSDB_VERSION_STR "unknown"
#endif
static void e_rocksdb_version(char *buf, size_t cap) {
  snprintf(buf, cap, "%s", ROCKSDB_VERSION_STR);
}

static const struct engine ENGINE_ROCKSDB = {"rocksdb",
                                             e_rocksdb_open,
                                             e_rocksdb_close,
                                             e_rocksdb_write,
                                             e_rocksdb_del,
                                             e_rocksdb_get,
                                             e_rocksdb_scan,
                                             e_rocksdb_seek,
                                             e_rocksdb_version,
                                             NULL,
                                             NULL,
                                             NULL};
#endif

/* ------------------------------------------------------------------------ */
/* SQLite: a WITHOUT ROWID key-value table, WAL mode, synchronous=OFF for
 * bulk phases and FULL for fillsync, 64 MiB page cache, prepared statements;
 * a batch is one BEGIN..COMMIT, a single put is one autocommit statement. */
#ifdef HAVE_SQLITE
typedef struct {
  sqlite3 *db;
  sqlite3_stmt *put, *del, *get, *begin, *commit, *scan_fwd, *scan_rev, *seek;
} sqlite_h;

static int sqlite_fail(sqlite_h *h, const char *what) {
  fprintf(stderr, "sqlite: %s: %s\n", what,
          h->db ? sqlite3_errmsg(h->db) : "cannot allocate");
  return -1;
}

static void e_sqlite_close(void *p) {
  sqlite_h *h = p;
  sqlite3_stmt *all[] = {h->put,    h->del,      h->get,      h->begin,
                         h->commit, h->scan_fwd, h->scan_rev, h->seek};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    sqlite3_finalize(all[i]);
  if (h->db && sqlite3_close(h->db) != SQLITE_OK) sqlite_fail(h, "close");
  free(h);
}

static int e_sqlite_open(const char *dir, int durable, void **out) {
  sqlite_h *h = xmalloc(sizeof *h);
  memset(h, 0, sizeof *h);
  char path[4096];
  if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
    fprintf(stderr, "sqlite: mkdir %s: %s\n", dir, strerror(errno));
    free(h);
    return -1;
  }
  snprintf(path, sizeof path, "%s/kv.sqlite", dir);
  char setup[512];
  snprintf(setup, sizeof setup,
           "PRAGMA journal_mode=WAL;"
           "PRAGMA synchronous=%s;"
           "PRAGMA cache_size=-%u;"
           "CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB NOT NULL)"
           " WITHOUT ROWID;",
           durable ? "FULL" : "OFF", (unsigned)(cfg.cache_bytes / 1024));
  if (sqlite3_open(path, &h->db) != SQLITE_OK) goto fail;
  if (sqlite3_exec(h->db, setup, NULL, NULL, NULL) != SQLITE_OK) goto fail;
#define PREP(field, sql)                                                       \
  if (sqlite3_prepare_v2(h->db, sql, -1, &h->field, NULL) != SQLITE_OK)        \
    goto fail;
  PREP(put, "INSERT OR REPLACE INTO kv(k, v) VALUES (?1, ?2)")
  PREP(del, "DELETE FROM kv WHERE k = ?1")
  PREP(get, "SELECT v FROM kv WHERE k = ?1")
  PREP(begin, "BEGIN")
  PREP(commit, "COMMIT")
  PREP(scan_fwd, "SELECT k, v FROM kv ORDER BY k ASC")
  PREP(scan_rev, "SELECT k, v FROM kv ORDER BY k DESC")
  PREP(seek, "SELECT k, v FROM kv WHERE k >= ?1 ORDER BY k ASC LIMIT ?2")
#undef PREP
  *out = h;
  return 0;
fail:
  sqlite_fail(h, "open");
  e_sqlite_close(h);
  return -1;
}

static int sqlite_step_done(sqlite_h *h, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : sqlite_fail(h, what);
}

static int e_sqlite_write(void *p, const unsigned char *keys,
                          const unsigned char *const *vals, size_t n) {
  sqlite_h *h = p;
  if (n > 1 && sqlite_step_done(h, h->begin, "begin") != 0) return -1;
  for (size_t i = 0; i < n; i++) {
    sqlite3_bind_blob(h->put, 1, keys + i * KEY_SIZE, KEY_SIZE, SQLITE_STATIC);
    sqlite3_bind_blob(h->put, 2, vals[i], (int)cfg.value_size, SQLITE_STATIC);
    if (sqlite_step_done(h, h->put, "insert") != 0) {
      if (n > 1) sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
      return -1;
    }
  }
  if (n > 1 && sqlite_step_done(h, h->commit, "commit") != 0) return -1;
  return 0;
}

static int e_sqlite_del(void *p, const unsigned char *keys, size_t n) {
  sqlite_h *h = p;
  if (n > 1 && sqlite_step_done(h, h->begin, "begin") != 0) return -1;
  for (size_t i = 0; i < n; i++) {
    sqlite3_bind_blob(h->del, 1, keys + i * KEY_SIZE, KEY_SIZE, SQLITE_STATIC);
    if (sqlite_step_done(h, h->del, "delete") != 0) {
      if (n > 1) sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
      return -1;
    }
  }
  if (n > 1 && sqlite_step_done(h, h->commit, "commit") != 0) return -1;
  return 0;
}

static int e_sqlite_get(void *p, const unsigned char *key, unsigned char *buf,
                        size_t cap, int *found) {
  sqlite_h *h = p;
  sqlite3_bind_blob(h->get, 1, key, KEY_SIZE, SQLITE_STATIC);
  int rc = sqlite3_step(h->get);
  if (rc == SQLITE_ROW) {
    const void *v = sqlite3_column_blob(h->get, 0);
    size_t len = (size_t)sqlite3_column_bytes(h->get, 0);
    memcpy(buf, v, len < cap ? len : cap);
    *found = 1;
    rc = SQLITE_DONE;
  } else {
    *found = 0;
  }
  sqlite3_reset(h->get);
  return rc == SQLITE_DONE ? 0 : sqlite_fail(h, "get");
}

static int sqlite_rows(sqlite_h *h, sqlite3_stmt *st, uint64_t *count) {
  uint64_t n = 0, sink = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char *k = sqlite3_column_blob(st, 0);
    int kl = sqlite3_column_bytes(st, 0);
    sqlite3_column_blob(st, 1);
    sink += k[kl - 1] + (uint64_t)sqlite3_column_bytes(st, 1);
    n++;
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return sqlite_fail(h, "scan");
  g_sink += sink;
  *count = n;
  return 0;
}

static int e_sqlite_scan(void *p, int reverse, uint64_t *count) {
  sqlite_h *h = p;
  return sqlite_rows(h, reverse ? h->scan_rev : h->scan_fwd, count);
}

static int e_sqlite_seek(void *p, const unsigned char *key, uint32_t nexts,
                         uint64_t *count) {
  sqlite_h *h = p;
  sqlite3_bind_blob(h->seek, 1, key, KEY_SIZE, SQLITE_STATIC);
  sqlite3_bind_int64(h->seek, 2, (sqlite3_int64)nexts + 1);
  return sqlite_rows(h, h->seek, count);
}

static void e_sqlite_version(char *buf, size_t cap) {
  snprintf(buf, cap, "%s", sqlite3_libversion());
}

static const struct engine ENGINE_SQLITE = {
    "sqlite",         e_sqlite_open, e_sqlite_close, e_sqlite_write,
    e_sqlite_del,     e_sqlite_get,  e_sqlite_scan,  e_sqlite_seek,
    e_sqlite_version, NULL,          NULL,           "kv.sqlite"};
#endif

/* Every engine compiled in, LightningDB first (the table's ratios compare
 * it with the others). */
static const struct engine *const ALL_ENGINES[] = {
#ifndef NO_LIGHTNINGDB
    &ENGINE_LDB,
#endif
#ifdef HAVE_LMDB
    &ENGINE_LMDB,
#endif
#ifdef HAVE_LEVELDB
    &ENGINE_LEVELDB,
#endif
#ifdef HAVE_ROCKSDB
    &ENGINE_ROCKSDB,
#endif
#ifdef HAVE_SQLITE
    &ENGINE_SQLITE,
#endif
    NULL};

/* ------------------------------------------------------------------------ */
/* Workloads. */

/* What one engine's child process measured besides rates (0: not
 * measured). Sizes are bytes allocated by the files of the bulk database
 * directory ("dir") and by the engine's data file alone ("data"), taken
 * right after the workload named, without waiting for background work,
 * except the "closed" ones, taken after a clean close. */
typedef struct {
  int reported;                /* the child ran to its end */
  double load_start, load_end; /* 1-minute load average around the run */
  uint64_t rss_base;           /* VmRSS before the engine's first open */
  uint64_t rss_peak;           /* VmHWM over the whole run (reset at start) */
  uint64_t rss_open_idle;      /* VmRSS added by reopening the loaded db */
  /* The largest RssAnon (heap, stacks) and RssFile (mapped file pages,
   * which the kernel can drop) seen at the end of each workload: VmHWM has
   * no split, so these tell what the peak is made of (sampled, so they can
   * miss a peak inside a workload). */
  uint64_t anon_max, file_max;
  uint64_t dir_fill, data_fill;                 /* after fillrandom */
  uint64_t dir_overwrite, data_overwrite;       /* after overwrite */
  uint64_t dir_closed, data_closed;             /* closed by reopen */
  uint64_t dir_churn0, data_churn0;             /* before churn */
  uint64_t dir_churn, data_churn;               /* after churn */
  uint64_t dir_churn_closed, data_churn_closed; /* churn, then closed */
  uint64_t put_bytes;   /* key + value bytes of fillrandom + overwrite */
  io_counts io_fill_ow; /* written during fillrandom + overwrite */
  io_counts io_reopen;  /* written by the close and open of reopen */
  uint64_t own_written; /* the engine's own counter, fillrandom+overwrite */
  double open_secs;     /* reopen: the open call alone */
} metrics;

/* The state of one engine's run: the open bulk-mode database, if any, and
 * whether it holds keys 0..num-1. */
typedef struct {
  const struct engine *e;
  char dir[4096]; /* this engine's subdirectory */
  void *h;        /* bulk-mode (non-durable) handle, or NULL */
  int loaded;     /* h holds every key 0..num-1 */
  int churned;    /* the last bulk workload was churn */
  uint64_t wseq;  /* write counter, picks values */
  metrics *m;
  int fill_io_valid; /* fill_io holds the counters at fillrandom's start */
  io_counts fill_io;
} run_state;

static void io_sub(io_counts *out, const io_counts *a, const io_counts *b) {
  out->wchar = a->wchar - b->wchar;
  out->write_bytes = a->write_bytes - b->write_bytes;
  out->cancelled = a->cancelled - b->cancelled;
}

static void bulk_path(const run_state *rs, char *out, size_t cap) {
  snprintf(out, cap, "%s/bulk", rs->dir);
}

/* Sizes of the bulk database: the directory and the data file. */
static void bulk_sizes(const run_state *rs, uint64_t *dir, uint64_t *data) {
  char path[4200], file[4400];
  bulk_path(rs, path, sizeof path);
  *dir = dir_bytes(path);
  *data = *dir;
  if (rs->e->data_file) {
    snprintf(file, sizeof file, "%s/%s", path, rs->e->data_file);
    *data = dir_bytes(file);
  }
}

/* One workload's measurement: wall-clock seconds, and CPU seconds of the
 * whole process (every thread, so an engine's background threads count)
 * over the same interval. */
typedef struct {
  uint64_t ops;
  double secs, cpu_secs;
  double t0, c0; /* start times */
} result;

static double cpu_sec(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void timer_start(result *r) {
  r->c0 = cpu_sec();
  r->t0 = now_sec();
}

static void timer_stop(result *r) {
  r->secs = now_sec() - r->t0;
  r->cpu_secs = cpu_sec() - r->c0;
}

/* Closes and deletes the bulk database, then creates an empty one. */
static int fresh_db(run_state *rs) {
  char path[4200];
  if (rs->h) {
    rs->e->close(rs->h);
    rs->h = NULL;
  }
  rs->loaded = 0;
  rs->churned = 0;
  rs->fill_io_valid = 0;
  bulk_path(rs, path, sizeof path);
  if (remove_tree(path) != 0) return -1;
  return rs->e->open(path, 0, &rs->h);
}

/* Writes `count` puts whose key indexes come from next_index, `batch` puts
 * per commit. */
typedef uint64_t (*index_fn)(void *ctx, uint64_t i);

static int write_keys(run_state *rs, void *h, uint64_t count, uint32_t batch,
                      index_fn next_index, void *ctx) {
  unsigned char *keys = xmalloc((size_t)batch * KEY_SIZE);
  const unsigned char **vals = xmalloc(sizeof *vals * batch);
  int rc = 0;
  for (uint64_t i = 0; i < count && rc == 0;) {
    uint32_t n = 0;
    for (; n < batch && i < count; n++, i++) {
      make_key(keys + (size_t)n * KEY_SIZE, next_index(ctx, i), 0);
      vals[n] = value_for(rs->wseq++);
    }
    rc = rs->e->write(h, keys, vals, n);
  }
  free(keys);
  free(vals);
  return rc;
}

static uint64_t idx_seq(void *ctx, uint64_t i) {
  (void)ctx;
  return i;
}

static uint64_t idx_perm(void *ctx, uint64_t i) {
  return ((const uint32_t *)ctx)[i];
}

static uint64_t idx_random(void *ctx, uint64_t i) {
  (void)i;
  return rng_below((uint64_t *)ctx, cfg.num);
}

/* A random permutation of 0..num-1 (Fisher-Yates, fixed seed), so that
 * fillrandom writes every key exactly once, in random order; churn deletes
 * its first half. Made once, in the parent before the engines' children
 * fork, so that it is part of each child's RSS baseline. */
static uint32_t *g_perm;

static uint32_t *make_perm(void) {
  uint32_t *p = xmalloc(sizeof *p * cfg.num);
  uint64_t s = 42;
  for (uint64_t i = 0; i < cfg.num; i++)
    p[i] = (uint32_t)i;
  for (uint64_t i = cfg.num - 1; i > 0; i--) {
    uint64_t j = rng_below(&s, i + 1);
    uint32_t t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/* Loads keys 0..num-1 untimed when a read workload runs first. */
static int ensure_loaded(run_state *rs) {
  if (rs->loaded) return 0;
  if (cfg.use_existing_db && !rs->h) {
    char path[4200];
    bulk_path(rs, path, sizeof path);
    if (rs->e->open(path, 0, &rs->h) != 0) return -1;
    rs->loaded = 1;
    return 0;
  }
  if (fresh_db(rs) != 0) return -1;
  if (write_keys(rs, rs->h, cfg.num, cfg.batch, idx_seq, NULL) != 0) return -1;
  rs->loaded = 1;
  return 0;
}

/* fillrandom also starts the write-amplification window that overwrite
 * closes, and takes the sizes after it. */
static int bench_fill(run_state *rs, int random, result *r) {
  int rc = fresh_db(rs);
  if (rc == 0) {
    if (random) io_read(&rs->fill_io);
    timer_start(r);
    rc = write_keys(rs, rs->h, cfg.num, cfg.batch, random ? idx_perm : idx_seq,
                    g_perm);
    timer_stop(r);
    r->ops = cfg.num;
    rs->loaded = rc == 0;
    rs->fill_io_valid = random && rc == 0;
    if (random) bulk_sizes(rs, &rs->m->dir_fill, &rs->m->data_fill);
  }
  return rc;
}

/* When fillrandom ran right before, reports the bytes written by both
 * against the bytes of keys and values they put. */
static int bench_overwrite(run_state *rs, result *r) {
  if (ensure_loaded(rs) != 0) return -1;
  uint64_t s = 7;
  timer_start(r);
  int rc = write_keys(rs, rs->h, cfg.num, cfg.batch, idx_random, &s);
  timer_stop(r);
  r->ops = cfg.num;
  if (rc != 0) return rc;
  metrics *m = rs->m;
  bulk_sizes(rs, &m->dir_overwrite, &m->data_overwrite);
  if (rs->fill_io_valid) {
    io_counts now;
    io_read(&now);
    io_sub(&m->io_fill_ow, &now, &rs->fill_io);
    m->put_bytes = 2 * cfg.num * (uint64_t)(KEY_SIZE + cfg.value_size);
    if (rs->e->own_written) m->own_written = rs->e->own_written(rs->h);
  }
  rs->fill_io_valid = 0;
  return 0;
}

/* Closes the loaded bulk database cleanly (untimed; its files are measured
 * then) and times opening it again: the engine's open call alone. The RSS
 * the open adds is what an idle open database of num keys costs. Later
 * workloads read the reopened database. ops = 1. */
static int bench_reopen(run_state *rs, result *r) {
  if (ensure_loaded(rs) != 0) return -1;
  metrics *m = rs->m;
  char path[4200];
  io_counts io0, io1;
  bulk_path(rs, path, sizeof path);
  io_read(&io0);
  rs->e->close(rs->h);
  rs->h = NULL;
  bulk_sizes(rs, &m->dir_closed, &m->data_closed);
  uint64_t rss0 = proc_status_bytes("VmRSS");
  timer_start(r);
  int rc = rs->e->open(path, 0, &rs->h);
  timer_stop(r);
  if (rc != 0) {
    rs->h = NULL;
    rs->loaded = 0;
    return -1;
  }
  uint64_t rss1 = proc_status_bytes("VmRSS");
  io_read(&io1);
  io_sub(&m->io_reopen, &io1, &io0);
  m->rss_open_idle = rss1 > rss0 ? rss1 - rss0 : 0;
  m->open_secs = r->secs;
  r->ops = 1;
  return 0;
}

/* A key index past the loaded keys, for the keys churn adds. */
static uint64_t idx_new(void *ctx, uint64_t i) {
  (void)ctx;
  return cfg.num + i;
}

/* Deletes a random half of the loaded keys, then writes as many new keys
 * (batch per commit both ways): the "does not grow the file" check.
 * ops = deletes + puts. The database no longer holds keys 0..num-1 after
 * it, so a later read workload loads a fresh one. */
static int bench_churn(run_state *rs, result *r) {
  if (ensure_loaded(rs) != 0) return -1;
  metrics *m = rs->m;
  uint64_t half = cfg.num / 2;
  unsigned char *keys = xmalloc((size_t)cfg.batch * KEY_SIZE);
  int rc = 0;
  bulk_sizes(rs, &m->dir_churn0, &m->data_churn0);
  timer_start(r);
  for (uint64_t i = 0; i < half && rc == 0;) {
    uint32_t n = 0;
    for (; n < cfg.batch && i < half; n++, i++)
      make_key(keys + (size_t)n * KEY_SIZE, g_perm[i], 0);
    rc = rs->e->del(rs->h, keys, n);
  }
  if (rc == 0) rc = write_keys(rs, rs->h, half, cfg.batch, idx_new, NULL);
  timer_stop(r);
  free(keys);
  r->ops = 2 * half;
  rs->loaded = 0;
  rs->churned = rc == 0;
  if (rc == 0) bulk_sizes(rs, &m->dir_churn, &m->data_churn);
  return rc;
}

/* readrandom (missing = 0) must find every key; readmissing none. */
static int bench_read(run_state *rs, int missing, result *r) {
  if (ensure_loaded(rs) != 0) return -1;
  unsigned char key[KEY_SIZE], buf[MAX_VALUE];
  uint64_t s = missing ? 11 : 13, found = 0;
  timer_start(r);
  for (uint64_t i = 0; i < cfg.reads; i++) {
    int f;
    make_key(key, rng_below(&s, cfg.num), missing);
    if (rs->e->get(rs->h, key, buf, sizeof buf, &f) != 0) return -1;
    found += (uint64_t)f;
  }
  timer_stop(r);
  r->ops = cfg.reads;
  uint64_t want = missing ? 0 : cfg.reads;
  if (found != want) {
    fprintf(stderr,
            "%s: %s found %" PRIu64 " of %" PRIu64 " keys, expected %" PRIu64
            "\n",
            rs->e->name, missing ? "readmissing" : "readrandom", found,
            cfg.reads, want);
    return -1;
  }
  return 0;
}

/* readrandom_mt: cfg.threads threads each do cfg.reads random gets of
 * present keys (own seeds) on the one open database at once; ops counts
 * all of them, so ops/s against readrandom's is the scaling. Engines whose
 * get is not safe from several threads get a per-thread path (LMDB: a
 * read transaction per thread) or are skipped (SQLite). */
typedef struct {
  run_state *rs;
  uint64_t seed, found;
  int rc;
} mt_reader;

static int get_from_thread(run_state *rs, void **tls, const unsigned char *key,
                           unsigned char *buf, size_t cap, int *found) {
#ifdef HAVE_LMDB
  if (rs->e == &ENGINE_LMDB)
    return e_lmdb_get_tls(rs->h, tls, key, buf, cap, found);
#endif
  (void)tls;
  return rs->e->get(rs->h, key, buf, cap, found);
}

static void *mt_reader_main(void *arg) {
  mt_reader *t = arg;
  unsigned char key[KEY_SIZE], buf[MAX_VALUE];
  void *tls = NULL;
  for (uint64_t i = 0; i < cfg.reads && t->rc == 0; i++) {
    int f;
    make_key(key, rng_below(&t->seed, cfg.num), 0);
    t->rc = get_from_thread(t->rs, &tls, key, buf, sizeof buf, &f);
    t->found += (uint64_t)f;
  }
#ifdef HAVE_LMDB
  if (tls && t->rs->e == &ENGINE_LMDB) mdb_txn_abort(tls);
#endif
  return NULL;
}

static int bench_read_mt(run_state *rs, result *r) {
  if (!strcmp(rs->e->name, "sqlite")) {
    printf("sqlite: readrandom_mt does not apply (one connection)\n");
    return 1;
  }
  if (ensure_loaded(rs) != 0) return -1;
  uint32_t n = cfg.threads;
  mt_reader *t = xmalloc(sizeof *t * n);
  pthread_t *th = xmalloc(sizeof *th * n);
  int rc = 0;
  timer_start(r);
  for (uint32_t i = 0; i < n; i++) {
    t[i] = (mt_reader){rs, 1000 + i, 0, 0};
    if (pthread_create(&th[i], NULL, mt_reader_main, &t[i]) != 0)
      die("pthread_create failed");
  }
  uint64_t found = 0;
  for (uint32_t i = 0; i < n; i++) {
    pthread_join(th[i], NULL);
    if (t[i].rc) rc = -1;
    found += t[i].found;
  }
  timer_stop(r);
  r->ops = (uint64_t)n * cfg.reads;
  free(t);
  free(th);
  if (rc == 0 && found != r->ops) {
    fprintf(stderr, "%s: readrandom_mt found %" PRIu64 " of %" PRIu64 " keys\n",
            rs->e->name, found, r->ops);
    rc = -1;
  }
  return rc;
}

static int bench_scan(run_state *rs, int reverse, result *r) {
  if (ensure_loaded(rs) != 0) return -1;
  uint64_t n = 0;
  timer_start(r);
  if (rs->e->scan(rs->h, reverse, &n) != 0) return -1;
  timer_stop(r);
  r->ops = n;
  if (n != cfg.num) {
    fprintf(stderr, "%s: %s saw %" PRIu64 " entries, expected %" PRIu64 "\n",
            rs->e->name, reverse ? "readreverse" : "readseq", n, cfg.num);
    return -1;
  }
  return 0;
}

/* Seeks to random present keys; every seek but those near the end must see
 * nexts + 1 entries. ops counts seeks. */
static int bench_seek(run_state *rs, result *r) {
  if (ensure_loaded(rs) != 0) return -1;
  unsigned char key[KEY_SIZE];
  uint64_t s = 17, seen = 0, expect = 0;
  timer_start(r);
  for (uint64_t i = 0; i < cfg.seeks; i++) {
    uint64_t idx = rng_below(&s, cfg.num), n;
    make_key(key, idx, 0);
    if (rs->e->seek(rs->h, key, cfg.nexts, &n) != 0) return -1;
    seen += n;
    uint64_t left = cfg.num - idx;
    expect += left < cfg.nexts + 1u ? left : cfg.nexts + 1u;
  }
  timer_stop(r);
  r->ops = cfg.seeks;
  if (seen != expect) {
    fprintf(stderr,
            "%s: seekrandom saw %" PRIu64 " entries, expected %" PRIu64 "\n",
            rs->e->name, seen, expect);
    return -1;
  }
  return 0;
}

/* 80% gets of present keys, 20% single-put commits overwriting present
 * keys, interleaved at random. */
static int bench_mixed(run_state *rs, result *r) {
  if (ensure_loaded(rs) != 0) return -1;
  unsigned char key[KEY_SIZE], buf[MAX_VALUE];
  uint64_t s = 19, found = 0, gets = 0;
  timer_start(r);
  for (uint64_t i = 0; i < cfg.reads; i++) {
    uint64_t x = rng_next(&s);
    make_key(key, (x >> 16) % cfg.num, 0);
    if ((x & 0xffff) % 5 != 0) {
      int f;
      if (rs->e->get(rs->h, key, buf, sizeof buf, &f) != 0) return -1;
      found += (uint64_t)f;
      gets++;
    } else {
      const unsigned char *v = value_for(rs->wseq++);
      if (rs->e->write(rs->h, key, &v, 1) != 0) return -1;
    }
  }
  timer_stop(r);
  r->ops = cfg.reads;
  if (found != gets) {
    fprintf(stderr, "%s: mixed found %" PRIu64 " of %" PRIu64 " keys\n",
            rs->e->name, found, gets);
    return -1;
  }
  return 0;
}

/* sync_num single-put commits, each durable before the next starts, in a
 * separate fresh database opened in the engine's durable mode. */
static int bench_fillsync(run_state *rs, result *r) {
  char path[4200];
  void *h;
  snprintf(path, sizeof path, "%s/sync", rs->dir);
  if (remove_tree(path) != 0) return -1;
  if (rs->e->open(path, 1, &h) != 0) return -1;
  uint64_t s = 23;
  timer_start(r);
  int rc = write_keys(rs, h, cfg.sync_num, 1, idx_random, &s);
  timer_stop(r);
  r->ops = cfg.sync_num;
  if (rs->e->stats) {
    char line[512];
    rs->e->stats(h, line, sizeof line);
    printf("             (durable database) %s\n", line);
  }
  rs->e->close(h);
  if (!cfg.keep_db) remove_tree(path);
  return rc;
}

/* The default order. readrandom_mt runs right after readrandom, on the same
 * reopened database, so that its rate divided by readrandom's is the
 * thread scaling; churn changes the key set, so it comes after every read. */
static const char *const BENCH_NAMES[] = {
    "fillseq",       "fillrandom",  "overwrite", "reopen",      "readrandom",
    "readrandom_mt", "readmissing", "readseq",   "readreverse", "seekrandom",
    "mixed",         "churn",       "fillsync"};
#define N_BENCH_NAMES (sizeof BENCH_NAMES / sizeof BENCH_NAMES[0])

static int run_bench(run_state *rs, const char *name, result *r) {
  if (!strcmp(name, "fillseq")) return bench_fill(rs, 0, r);
  if (!strcmp(name, "fillrandom")) return bench_fill(rs, 1, r);
  if (!strcmp(name, "overwrite")) return bench_overwrite(rs, r);
  if (!strcmp(name, "reopen")) return bench_reopen(rs, r);
  if (!strcmp(name, "churn")) return bench_churn(rs, r);
  if (!strcmp(name, "readrandom")) return bench_read(rs, 0, r);
  if (!strcmp(name, "readrandom_mt")) return bench_read_mt(rs, r);
  if (!strcmp(name, "readmissing")) return bench_read(rs, 1, r);
  if (!strcmp(name, "readseq")) return bench_scan(rs, 0, r);
  if (!strcmp(name, "readreverse")) return bench_scan(rs, 1, r);
  if (!strcmp(name, "seekrandom")) return bench_seek(rs, r);
  if (!strcmp(name, "mixed")) return bench_mixed(rs, r);
  if (!strcmp(name, "fillsync")) return bench_fillsync(rs, r);
  return -1;
}

/* ------------------------------------------------------------------------ */
/* Machine description, table and JSON. */

static void cpu_model(char *buf, size_t cap) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[512];
  snprintf(buf, cap, "unknown");
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    char *c = strchr(line, ':');
    if (!strncmp(line, "model name", 10) && c) {
      c++;
      while (*c == ' ' || *c == '\t')
        c++;
      c[strcspn(c, "\n")] = 0;
      snprintf(buf, cap, "%s", c);
      break;
    }
  }
  fclose(f);
}

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20)
      fprintf(f, "\\u%04x", *s);
    else
      fputc(*s, f);
  }
  fputc('"', f);
}

static double ops_per_sec(const result *r) {
  return r->secs > 0 ? (double)r->ops / r->secs : 0;
}

static double ops_per_cpu_sec(const result *r) {
  return r->cpu_secs > 0 ? (double)r->ops / r->cpu_secs : 0;
}

static void fmt_rate(char *buf, size_t cap, double v) {
  if (v <= 0)
    snprintf(buf, cap, "-");
  else if (v >= 1e6)
    snprintf(buf, cap, "%.2fM", v / 1e6);
  else if (v >= 1e3)
    snprintf(buf, cap, "%.1fK", v / 1e3);
  else
    snprintf(buf, cap, "%.0f", v);
}

/* Prints one row per workload: rate(result) per engine, then
 * LightningDB's ratio to each peer when LightningDB ran. */
static void print_table(const struct engine *const *engines, int n_engine,
                        const char *const *bench_list, int n_bench,
                        const result *res, double (*rate)(const result *)) {
  int ldb_col = -1;
  for (int ei = 0; ei < n_engine; ei++)
    if (!strcmp(engines[ei]->name, "lightningdb")) ldb_col = ei;
  printf("%-12s", "workload");
  for (int ei = 0; ei < n_engine; ei++)
    printf(" %11s", engines[ei]->name);
  if (ldb_col >= 0)
    for (int ei = 0; ei < n_engine; ei++)
      if (ei != ldb_col) printf("  ldb/%-7.7s", engines[ei]->name);
  printf("\n");
  for (int bi = 0; bi < n_bench; bi++) {
    if (!strcmp(bench_list[bi], "reopen")) continue; /* a time: see below */
    printf("%-12s", bench_list[bi]);
    for (int ei = 0; ei < n_engine; ei++) {
      char b[32];
      fmt_rate(b, sizeof b, rate(&res[(size_t)ei * n_bench + bi]));
      printf(" %11s", b);
    }
    if (ldb_col >= 0) {
      double l = rate(&res[(size_t)ldb_col * n_bench + bi]);
      for (int ei = 0; ei < n_engine; ei++) {
        if (ei == ldb_col) continue;
        double p = rate(&res[(size_t)ei * n_bench + bi]);
        if (l > 0 && p > 0)
          printf("  %10.2fx", l / p);
        else
          printf("  %11s", "-");
      }
    }
    printf("\n");
  }
}

/* The metrics table: one row per figure, one column per engine, then
 * LightningDB's ratio to each peer. A getter returns < 0 for "not
 * measured". */
typedef struct {
  const char *name;
  /* A figure computed from several fields, or NULL: the uint64_t byte
   * count at offset `off` of metrics, in MB. */
  double (*get)(const metrics *m);
  size_t off;
  const char *fmt; /* printf format of one value */
  int ratio;       /* LightningDB / peer columns make sense */
} metric_row;

static double mb(uint64_t b) {
  return b ? (double)b / 1e6 : -1;
}
static double per_put(const metrics *m, uint64_t b) {
  return m->put_bytes && b ? (double)b / (double)m->put_bytes : -1;
}
static double g_rss_peak(const metrics *m) {
  return m->rss_peak && m->rss_peak >= m->rss_base
             ? (double)(m->rss_peak - m->rss_base) / 1e6
             : -1;
}
static double g_rss_idle(const metrics *m) {
  return m->open_secs > 0 ? (double)m->rss_open_idle / 1e6 : -1;
}
static double g_open_ms(const metrics *m) {
  return m->open_secs > 0 ? m->open_secs * 1e3 : -1;
}
static double g_churn_growth(const metrics *m) {
  return m->dir_churn_closed && m->dir_closed
             ? (double)m->dir_churn_closed / (double)m->dir_closed
             : -1;
}
static double g_wa_storage(const metrics *m) {
  return per_put(m, m->io_fill_ow.write_bytes);
}
static double g_wa_syscalls(const metrics *m) {
  return per_put(m, m->io_fill_ow.wchar);
}
static double g_wa_own(const metrics *m) {
  return per_put(m, m->own_written);
}
static double g_wa_storage_reopen(const metrics *m) {
  return m->open_secs > 0
             ? per_put(m, m->io_fill_ow.write_bytes + m->io_reopen.write_bytes)
             : -1;
}
static double g_wa_syscalls_reopen(const metrics *m) {
  return m->open_secs > 0 ? per_put(m, m->io_fill_ow.wchar + m->io_reopen.wchar)
                          : -1;
}
static double g_reopen_written(const metrics *m) {
  return m->open_secs > 0 ? (double)m->io_reopen.write_bytes / 1e6 : -1;
}
static double g_load_start(const metrics *m) {
  return m->load_start;
}
static double g_load_end(const metrics *m) {
  return m->load_end;
}

/* The byte counts of metrics shown as MB, by name. */
#define MB_ROW(name, field)                                                    \
  { name, NULL, offsetof(metrics, field), "%.1f", 1 }
static const metric_row METRIC_ROWS[] = {
    {"peak RSS above base, MB", g_rss_peak, 0, "%.1f", 1},
    {"RSS before open, MB", NULL, offsetof(metrics, rss_base), "%.1f", 0},
    MB_ROW("max RssAnon (workload ends)", anon_max),
    MB_ROW("max RssFile (workload ends)", file_max),
    {"RSS of an idle reopen, MB", g_rss_idle, 0, "%.1f", 1},
    {"open (clean close), ms", g_open_ms, 0, "%.2f", 1},
    MB_ROW("files after fillrandom, MB", dir_fill),
    MB_ROW("data file after fillrandom", data_fill),
    MB_ROW("files after overwrite, MB", dir_overwrite),
    MB_ROW("data file after overwrite", data_overwrite),
    MB_ROW("files after ow + close, MB", dir_closed),
    MB_ROW("data file after ow + close", data_closed),
    MB_ROW("files before churn, MB", dir_churn0),
    MB_ROW("files after churn, MB", dir_churn),
    MB_ROW("files after churn + close", dir_churn_closed),
    MB_ROW("data file churn + close", data_churn_closed),
    {"churn growth (closed/closed)", g_churn_growth, 0, "%.2fx", 1},
    {"write amp, storage", g_wa_storage, 0, "%.2f", 1},
    {"write amp, syscalls", g_wa_syscalls, 0, "%.2f", 1},
    {"write amp, engine counter", g_wa_own, 0, "%.2f", 1},
    {"written by close+open, MB", g_reopen_written, 0, "%.1f", 1},
    {"write amp + reopen, storage", g_wa_storage_reopen, 0, "%.2f", 1},
    {"write amp + reopen, syscalls", g_wa_syscalls_reopen, 0, "%.2f", 1},
    {"load avg at start", g_load_start, 0, "%.2f", 0},
    {"load avg at end", g_load_end, 0, "%.2f", 0},
};
#define N_METRIC_ROWS (sizeof METRIC_ROWS / sizeof METRIC_ROWS[0])

/* A row's figure for one engine; negative when not measured. */
static double row_value(const metric_row *row, const metrics *m) {
  if (!m->reported) return -1;
  if (row->get) return row->get(m);
  uint64_t v;
  memcpy(&v, (const char *)m + row->off, sizeof v);
  return mb(v);
}

static void print_metrics(const struct engine *const *engines, int n_engine,
                          const metrics *met) {
  int ldb_col = -1;
  for (int ei = 0; ei < n_engine; ei++)
    if (!strcmp(engines[ei]->name, "lightningdb")) ldb_col = ei;
  printf("%-29s", "figure");
  for (int ei = 0; ei < n_engine; ei++)
    printf(" %11s", engines[ei]->name);
  if (ldb_col >= 0)
    for (int ei = 0; ei < n_engine; ei++)
      if (ei != ldb_col) printf("  ldb/%-7.7s", engines[ei]->name);
  printf("\n");
  for (size_t ri = 0; ri < N_METRIC_ROWS; ri++) {
    const metric_row *row = &METRIC_ROWS[ri];
    int any = 0;
    for (int ei = 0; ei < n_engine; ei++)
      any |= row_value(row, &met[ei]) >= 0;
    if (!any) continue;
    printf("%-29s", row->name);
    for (int ei = 0; ei < n_engine; ei++) {
      char b[32];
      double v = row_value(row, &met[ei]);
      if (v < 0)
        snprintf(b, sizeof b, "-");
      else
        snprintf(b, sizeof b, row->fmt, v);
      printf(" %11s", b);
    }
    if (ldb_col >= 0 && row->ratio) {
      double l = row_value(row, &met[ldb_col]);
      for (int ei = 0; ei < n_engine; ei++) {
        if (ei == ldb_col) continue;
        double p = row_value(row, &met[ei]);
        if (l >= 0 && p > 0)
          printf("  %10.2fx", l / p);
        else
          printf("  %11s", "-");
      }
    }
    printf("\n");
  }
}

static void json_io(FILE *f, const char *name, const io_counts *c) {
  fprintf(f,
          ", \"%s\": {\"wchar\": %" PRIu64 ", \"write_bytes\": %" PRIu64
          ", \"cancelled_write_bytes\": %" PRIu64 "}",
          name, c->wchar, c->write_bytes, c->cancelled);
}

/* The byte counts of metrics in the JSON, by key (bench/targets.mjs reads
 * them by these names). */
static const struct {
  const char *key;
  size_t off;
} METRIC_FIELDS[] = {
    {"rss_base", offsetof(metrics, rss_base)},
    {"rss_peak", offsetof(metrics, rss_peak)},
    {"rss_open_idle", offsetof(metrics, rss_open_idle)},
    {"rss_anon_max", offsetof(metrics, anon_max)},
    {"rss_file_max", offsetof(metrics, file_max)},
    {"dir_fill", offsetof(metrics, dir_fill)},
    {"data_fill", offsetof(metrics, data_fill)},
    {"dir_overwrite", offsetof(metrics, dir_overwrite)},
    {"data_overwrite", offsetof(metrics, data_overwrite)},
    {"dir_closed", offsetof(metrics, dir_closed)},
    {"data_closed", offsetof(metrics, data_closed)},
    {"dir_churn_before", offsetof(metrics, dir_churn0)},
    {"data_churn_before", offsetof(metrics, data_churn0)},
    {"dir_churn", offsetof(metrics, dir_churn)},
    {"data_churn", offsetof(metrics, data_churn)},
    {"dir_churn_closed", offsetof(metrics, dir_churn_closed)},
    {"data_churn_closed", offsetof(metrics, data_churn_closed)},
    {"put_bytes", offsetof(metrics, put_bytes)},
    {"own_written", offsetof(metrics, own_written)},
};

static void json_metrics(FILE *f, const metrics *m) {
  fprintf(f,
          "{\"reported\": %d, \"load_start\": %.2f, \"load_end\": %.2f"
          ", \"open_seconds\": %.6f",
          m->reported, m->load_start, m->load_end, m->open_secs);
  for (size_t i = 0; i < sizeof METRIC_FIELDS / sizeof METRIC_FIELDS[0]; i++) {
    uint64_t v;
    memcpy(&v, (const char *)m + METRIC_FIELDS[i].off, sizeof v);
    fprintf(f, ", \"%s\": %" PRIu64, METRIC_FIELDS[i].key, v);
  }
  json_io(f, "io_fill_overwrite", &m->io_fill_ow);
  json_io(f, "io_reopen", &m->io_reopen);
  fprintf(f, "}");
}

/* One engine's whole run, in its own child process: every workload in
 * turn, then a clean close. A workload returns 0 (done), 1 (does not apply
 * to this engine: skipped, not a failure) or -1 (failed). Fills rows[bench] and
 * *m; returns 0, or 1 when a workload failed (the rest of that engine's
 * workloads are skipped). */
static int run_engine(const struct engine *e, const char *version,
                      const char *root, const char *const *bench_list,
                      int n_bench, result *rows, metrics *m) {
  run_state rs;
  int failed = 0;
  memset(&rs, 0, sizeof rs);
  rs.e = e;
  rs.m = m;
  snprintf(rs.dir, sizeof rs.dir, "%s/%s", root, e->name);
  if ((!cfg.use_existing_db && remove_tree(rs.dir) != 0) ||
      (mkdir(rs.dir, 0755) != 0 && errno != EEXIST))
    die("cannot create %s: %s", rs.dir, strerror(errno));
  m->load_start = load_avg();
  m->rss_base = proc_status_bytes("VmRSS");
  peak_rss_reset();
  printf("\n== %s %s (pid %d, load %.2f, RSS before open %.1f MB)\n", e->name,
         version, (int)getpid(), m->load_start, m->rss_base / 1e6);
  for (int bi = 0; bi < n_bench; bi++) {
    result *r = &rows[bi];
    int rc = run_bench(&rs, bench_list[bi], r);
    if (rc == 1) { /* not applicable to this engine; said why */
      memset(r, 0, sizeof *r);
      printf("%-12s skipped\n", bench_list[bi]);
      continue;
    }
    uint64_t anon = proc_status_bytes("RssAnon");
    uint64_t file = proc_status_bytes("RssFile");
    if (anon > m->anon_max) m->anon_max = anon;
    if (file > m->file_max) m->file_max = file;
    if (rc != 0) {
      fprintf(stderr, "%s: %s failed; skipping the rest of this engine\n",
              e->name, bench_list[bi]);
      memset(r, 0, sizeof *r);
      failed = 1;
      break;
    }
    if (!strcmp(bench_list[bi], "reopen"))
      printf("%-12s %12.3f ms to open (%.3f CPU s)\n", bench_list[bi],
             r->secs * 1e3, r->cpu_secs);
    else
      printf("%-12s %12.0f ops/s  (%" PRIu64 " ops in %.3f s, %.3f CPU s)\n",
             bench_list[bi], ops_per_sec(r), r->ops, r->secs, r->cpu_secs);
    if (rs.e->stats && rs.h) {
      char line[512];
      rs.e->stats(rs.h, line, sizeof line);
      printf("             %s\n", line);
    }
    fflush(stdout);
  }
  m->rss_peak = proc_status_bytes("VmHWM");
  if (rs.h) {
    rs.e->close(rs.h);
    rs.h = NULL;
    if (rs.churned)
      bulk_sizes(&rs, &m->dir_churn_closed, &m->data_churn_closed);
  }
  m->load_end = load_avg();
  if (!cfg.keep_db) remove_tree(rs.dir);
  m->reported = 1;
  return failed;
}

static void usage(void) {
  fprintf(stderr,
          "usage: db_bench [--num=N] [--reads=N] [--seeks=N] [--sync_num=N]\n"
          "                [--batch=N] [--nexts=N] [--value_size=N] "
          "[--cache_mb=N]\n"
          "                [--threads=N] "
          "[--benchmarks=a,b,...] [--engines=a,b,...]\n"
          "                [--db=DIR] [--json=PATH] [--keep_db] "
          "[--fill_check]\n"
          "                [--mmap_bounded=0|1] [--use_existing_db]\n"
          "benchmarks: fillseq fillrandom overwrite reopen readrandom\n"
          "            readrandom_mt (--threads readers at once, default 2)\n"
          "            readmissing readseq readreverse seekrandom mixed churn\n"
          "            fillsync\n"
          "engines:");
  for (const struct engine *const *e = ALL_ENGINES; *e; e++)
    fprintf(stderr, " %s", (*e)->name);
  fprintf(stderr, "\n");
  exit(2);
}

static int split_list(char *s, const char **out, int max) {
  int n = 0;
  for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
    if (n == max) die("too many list items");
    out[n++] = tok;
  }
  return n;
}

static uint64_t parse_u64(const char *opt, const char *v) {
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (errno || end == v || *end || x == 0)
    die("bad value in %s (a positive integer is needed)", opt);
  return x;
}

int main(int argc, char **argv) {
  const char *bench_list[MAX_BENCHES], *engine_list[MAX_ENGINES];
  int n_bench = 0, n_engine = 0;
  uint64_t reads = 0, seeks = 0, sync_num = 0;
  char bench_arg[1024] = "", engine_arg[256] = "";

  cfg.num = 1000000;
  cfg.batch = 1000;
  cfg.nexts = 100;
  cfg.value_size = 100;
  cfg.threads = 2;
  cfg.cache_bytes = (uint64_t)64 << 20;
  cfg.mmap_bounded = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = strchr(a, '=');
    size_t kl = v ? (size_t)(v - a) : strlen(a);
    if (v) v++;
#define OPT(s) (kl == strlen(s) && !strncmp(a, s, kl))
    if (OPT("--keep_db"))
      cfg.keep_db = 1;
    else if (OPT("--use_existing_db"))
      cfg.use_existing_db = cfg.keep_db = 1;
    else if (OPT("--fill_check"))
      cfg.fill_check = 1;
    else if (OPT("--mmap_bounded") && v && (!strcmp(v, "0") || !strcmp(v, "1")))
      cfg.mmap_bounded = *v - '0';
    else if (!v)
      usage();
    else if (OPT("--num"))
      cfg.num = parse_u64(a, v);
    else if (OPT("--reads"))
      reads = parse_u64(a, v);
    else if (OPT("--seeks"))
      seeks = parse_u64(a, v);
    else if (OPT("--sync_num"))
      sync_num = parse_u64(a, v);
    else if (OPT("--batch"))
      cfg.batch = (uint32_t)parse_u64(a, v);
    else if (OPT("--nexts"))
      cfg.nexts = (uint32_t)parse_u64(a, v);
    else if (OPT("--threads"))
      cfg.threads = (uint32_t)parse_u64(a, v);
    else if (OPT("--cache_mb"))
      cfg.cache_bytes = parse_u64(a, v) << 20;
    else if (OPT("--value_size"))
      cfg.value_size = (uint32_t)parse_u64(a, v);
    else if (OPT("--benchmarks"))
      snprintf(bench_arg, sizeof bench_arg, "%s", v);
    else if (OPT("--engines"))
      snprintf(engine_arg, sizeof engine_arg, "%s", v);
    else if (OPT("--db"))
      cfg.db_dir = v;
    else if (OPT("--json"))
      cfg.json_path = v;
    else
      usage();
#undef OPT
  }
  if (cfg.num > UINT32_MAX) die("--num must be below 2^32");
  if (cfg.value_size > MAX_VALUE) die("--value_size must be <= %d", MAX_VALUE);
  cfg.reads = reads ? reads : cfg.num;
  cfg.seeks = seeks ? seeks : (cfg.num / 20 ? cfg.num / 20 : 1);
  cfg.sync_num = sync_num ? sync_num : (cfg.num / 100 ? cfg.num / 100 : 1);

  if (bench_arg[0]) {
    n_bench = split_list(bench_arg, bench_list, MAX_BENCHES);
    for (int i = 0; i < n_bench; i++) {
      size_t j = 0;
      while (j < N_BENCH_NAMES && strcmp(bench_list[i], BENCH_NAMES[j]))
        j++;
      if (j == N_BENCH_NAMES) die("unknown benchmark %s", bench_list[i]);
    }
  } else {
    for (size_t j = 0; j < N_BENCH_NAMES; j++)
      bench_list[n_bench++] = BENCH_NAMES[j];
  }
  const struct engine *engines[MAX_ENGINES];
  if (engine_arg[0]) {
    n_engine = split_list(engine_arg, engine_list, MAX_ENGINES);
    for (int i = 0; i < n_engine; i++) {
      const struct engine *const *e = ALL_ENGINES;
      while (*e && strcmp((*e)->name, engine_list[i]))
        e++;
      if (!*e) die("engine %s is not compiled in (see --help)", engine_list[i]);
      engines[i] = *e;
    }
  } else {
    for (const struct engine *const *e = ALL_ENGINES; *e; e++)
      engines[n_engine++] = *e;
  }
  if (n_engine == 0) die("no engine compiled in");

  /* The working directory: --db, or a fresh temporary one we delete. */
  char root[3072];
  int own_root = 0;
  if (cfg.db_dir) {
    snprintf(root, sizeof root, "%s", cfg.db_dir);
    if (mkdir(root, 0755) != 0 && errno != EEXIST)
      die("mkdir %s: %s", root, strerror(errno));
  } else {
    const char *t = getenv("TMPDIR");
    snprintf(root, sizeof root, "%s/ldb_bench.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(root)) die("mkdtemp %s: %s", root, strerror(errno));
    own_root = 1;
  }

  g_pool = xmalloc(POOL_SIZE);
  uint64_t ps = 99;
  for (size_t i = 0; i < POOL_SIZE; i += 8) {
    uint64_t x = rng_next(&ps);
    memcpy(g_pool + i, &x, 8);
  }

  char cpu[256];
  cpu_model(cpu, sizeof cpu);
  long nproc = sysconf(_SC_NPROCESSORS_ONLN);
  double ram_gib = (double)sysconf(_SC_PHYS_PAGES) *
                   (double)sysconf(_SC_PAGESIZE) / (1 << 30);
  printf("db_bench: %ld CPUs (%s), %.1f GiB RAM, db in %s\n", nproc, cpu,
         ram_gib, root);
  printf("num=%" PRIu64 " reads=%" PRIu64 " seeks=%" PRIu64
         "x%u nexts sync_num=%" PRIu64
         " batch=%u key=%d value=%u bytes cache=%" PRIu64 " MiB%s\n",
         cfg.num, cfg.reads, cfg.seeks, cfg.nexts, cfg.sync_num, cfg.batch,
         KEY_SIZE, cfg.value_size, cfg.cache_bytes >> 20,
         cfg.mmap_bounded < 0 ? ""
         : cfg.mmap_bounded   ? " (lightningdb: mmap_bounded=1)"
                              : " (lightningdb: mmap_bounded=0)");

  /* Results live in a shared anonymous mapping: each engine's child writes
   * its rows and its metrics there; the parent reads them after waitpid. */
  size_t res_bytes = sizeof(result) * (size_t)n_engine * (size_t)n_bench;
  size_t shm_bytes = res_bytes + sizeof(metrics) * (size_t)n_engine;
  void *shm = mmap(NULL, shm_bytes, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shm == MAP_FAILED) die("mmap: %s", strerror(errno));
  memset(shm, 0, shm_bytes);
  result *res = shm;
  metrics *met = (metrics *)((char *)shm + res_bytes);
  char versions[MAX_ENGINES][64];
  int failures = 0;
  g_perm = make_perm();

  for (int ei = 0; ei < n_engine; ei++) {
    engines[ei]->version(versions[ei], sizeof versions[ei]);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
      int rc = run_engine(engines[ei], versions[ei], root, bench_list, n_bench,
                          &res[(size_t)ei * n_bench], &met[ei]);
      fflush(stdout);
      fflush(stderr);
      _exit(rc);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
      if (errno != EINTR) die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !met[ei].reported) {
      if (WIFSIGNALED(status))
        fprintf(stderr, "%s: the child process died of signal %d\n",
                engines[ei]->name, WTERMSIG(status));
      failures++;
    }
  }
  if (own_root && !cfg.keep_db) remove_tree(root);

  /* The tables: ops/s per engine, then LightningDB's ratio to each peer;
   * first by wall clock, then per CPU second. */
  printf("\nops per second (wall clock):\n");
  print_table(engines, n_engine, bench_list, n_bench, res, ops_per_sec);
  printf("\nops per CPU second (all threads of the process; fillsync waits "
         "on the disk, so its CPU rate says little):\n");
  print_table(engines, n_engine, bench_list, n_bench, res, ops_per_cpu_sec);
  printf("(ops/s; seekrandom counts seeks of 1 + %u entries; fillsync: %" PRIu64
         " durable single-put commits)\n",
         cfg.nexts, cfg.sync_num);
  printf("\nmemory, space, writes and open time (each engine in its own "
         "process; sizes are allocated bytes, 1 MB = 10^6 bytes; write amp = "
         "bytes written / %u-byte key+value puts of fillrandom + overwrite; "
         "storage = /proc write_bytes, syscalls = wchar):\n",
         KEY_SIZE + cfg.value_size);
  print_metrics(engines, n_engine, met);

  if (cfg.json_path) {
    FILE *f = fopen(cfg.json_path, "w");
    if (!f) die("cannot write %s: %s", cfg.json_path, strerror(errno));
    struct utsname u;
    uname(&u);
    fprintf(f, "{\n  \"machine\": {\"nproc\": %ld, \"cpu\": ", nproc);
    json_str(f, cpu);
    fprintf(f, ", \"ram_gib\": %.1f, \"kernel\": ", ram_gib);
    json_str(f, u.release);
    fprintf(f,
            "},\n  \"config\": {\"num\": %" PRIu64 ", \"reads\": %" PRIu64
            ", \"seeks\": %" PRIu64 ", \"nexts\": %u, \"sync_num\": %" PRIu64
            ", \"batch\": %u, \"key_size\": %d, \"value_size\": %u"
            ", \"cache_bytes\": %" PRIu64 "},\n",
            cfg.num, cfg.reads, cfg.seeks, cfg.nexts, cfg.sync_num, cfg.batch,
            KEY_SIZE, cfg.value_size, cfg.cache_bytes);
    fprintf(f, "  \"engines\": {");
    for (int ei = 0; ei < n_engine; ei++) {
      fprintf(f, "%s", ei ? ", " : "");
      json_str(f, engines[ei]->name);
      fprintf(f, ": ");
      json_str(f, versions[ei]);
    }
    fprintf(f, "},\n  \"metrics\": {");
    for (int ei = 0; ei < n_engine; ei++) {
      fprintf(f, "%s\n    ", ei ? "," : "");
      json_str(f, engines[ei]->name);
      fprintf(f, ": ");
      json_metrics(f, &met[ei]);
    }
    fprintf(f, "\n  },\n  \"results\": [");
    int first = 1;
    for (int bi = 0; bi < n_bench; bi++)
      for (int ei = 0; ei < n_engine; ei++) {
        const result *r = &res[(size_t)ei * n_bench + bi];
        if (r->ops == 0) continue;
        double la = met[ei].load_start;
        fprintf(f,
                "%s\n    {\"benchmark\": \"%s\", \"engine\": \"%s\", \"ops\": "
                "%" PRIu64 ", \"seconds\": %.6f, \"ops_per_sec\": %.1f"
                ", \"cpu_seconds\": %.6f, \"ops_per_cpu_sec\": %.1f"
                ", \"load_avg\": %.2f}",
                first ? "" : ",", bench_list[bi], engines[ei]->name, r->ops,
                r->secs, ops_per_sec(r), r->cpu_secs, ops_per_cpu_sec(r), la);
        first = 0;
      }
    fprintf(f, "\n  ]\n}\n");
    if (fclose(f) != 0) die("cannot write %s", cfg.json_path);
  }
  munmap(shm, shm_bytes);
  free(g_perm);
  free(g_pool);
  return failures ? 1 : 0;
}
