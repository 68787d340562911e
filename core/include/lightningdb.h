/*
 * lightningdb.h — the public C API of LightningDB, and the only public header.
 *
 * LightningDB is an embedded, ordered key-value database: keys are ordered by
 * unsigned byte comparison (memcmp, shorter first on a common prefix).
 * Writes go to a write-ahead log and an in-memory table (memtable); a
 * checkpoint merges the memtable into a copy-on-write B+tree in the data file.
 * Transactions read a consistent snapshot (MVCC) and commit optimistically:
 * a commit fails with LDB_CONFLICT when a key it read or wrote was committed
 * by someone else after its snapshot.
 *
 * Conventions of this header:
 *  - Every function that can fail returns an int error code: LDB_OK (0) or one
 *    of the LDB_* codes below. Nothing in the library calls abort() or
 *    assert() in a release build: corrupt files, I/O errors, full disks and
 *    failed allocations are all reported as codes.
 *  - ldb_errmsg() gives the detail of the most recent failure on the calling
 *    thread.
 *  - Ownership and lifetime of every returned pointer are stated at the
 *    function. Memory the library allocates for the caller is released with
 *    ldb_free().
 *  - Thread safety: an ldb_db handle may be used by many threads at once,
 *    except that ldb_close must not race with other calls on the handle or
 *    its children (the caller's bug). Every thread (or worker) may open its
 *    own handle on the same database; those handles share one engine and
 *    close independently. An ldb_txn, ldb_iter or ldb_batch must be used by
 *    one thread at a time.
 *  - Sizes are size_t; offsets and counters are uint64_t.
 */
#ifndef LIGHTNINGDB_H
#define LIGHTNINGDB_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define LDB_API __declspec(dllexport)
#elif defined(__GNUC__)
#define LDB_API __attribute__((visibility("default")))
#else
#define LDB_API
#endif

#define LDB_VERSION_MAJOR 0
#define LDB_VERSION_MINOR 1
#define LDB_VERSION_PATCH 0
#define LDB_VERSION_STRING "0.1.0"

/* The on-disk format version written into every data file. A file with a
 * newer format version is refused with LDB_INVALID. */
#define LDB_FORMAT_VERSION 1

/* ------------------------------------------------------------------------ */
/* Error codes. Stable: the numbers and the names of ldb_code_name() never
 * change meaning. */

#define LDB_OK 0 /* success */
#define LDB_NOTFOUND                                                           \
  1 /* key absent; iterator exhausted; database missing                        \
       and create_if_missing is 0 */
#define LDB_CONFLICT                                                           \
  2 /* optimistic commit failed: another transaction                           \
       committed a key this one read or wrote after its                        \
       snapshot; nothing was applied, retry */
#define LDB_BUSY                                                               \
  3                   /* the database is locked by another process (the        \
                         message names the holder) or a limit such as          \
                         max_active_txns is reached */
#define LDB_CORRUPT 4 /* a checksum or structural check failed */
#define LDB_IOERR 5   /* the store reported an I/O error */
#define LDB_FULL                                                               \
  6                 /* no space left on the device or over quota; every        \
                       commit that returned LDB_OK before is intact and        \
                       the handle stays usable once space returns */
#define LDB_NOMEM 7 /* an allocation failed; the handle stays usable */
#define LDB_INVALID                                                            \
  8                     /* invalid argument: oversized key,                    \
                           oversized value, bad option, misuse */
#define LDB_CLOSED 9    /* the database, transaction or iterator is closed */
#define LDB_READONLY 10 /* write on a read-only database or transaction */
#define LDB_INTERNAL                                                           \
  11 /* an internal invariant did not hold (a bug); the                        \
        operation was refused, nothing was corrupted */
#define LDB_TIMEOUT                                                            \
  12 /* a bounded wait ran out (a host's lock or owner                         \
        wait, a request to another tab); nothing of the                        \
        call was applied unless its message says so */
#define LDB_ABORTED                                                            \
  13 /* the caller cancelled the call (an AbortSignal in                       \
        the JS API); nothing of it was applied */
#define LDB_SETUP                                                              \
  14 /* the host could not load a part of LightningDB                          \
        (the addon, the .wasm, the Worker script); the                         \
        message names the file and the option to fix it */
#define LDB_COMPACTED                                                          \
  15 /* a change feed was asked to start before the                            \
        oldest commit its retention kept (or retention                         \
        dropped the cursor's position while it lagged):                        \
        start again from a backup, or retain more */
#define LDB_OWNER_LOST                                                         \
  16 /* the host that ran the call went away (the                              \
      browser tab or Worker owning a shared database                           \
      closed or crashed) while a scan or transaction                           \
      lived in it, or before a write was known to be                           \
      committed; nothing of it was committed: retry */
#define LDB_DECODE                                                             \
  17 /* a host's key or value encoding (JSON, MessagePack,                     \
        a user's codec) could not decode stored bytes (read                    \
        intact, but written with another encoding); the                        \
        engine itself never returns it */

/* One past the largest code; every code in [0, LDB_CODE_COUNT) has a row in
 * ldb_error_table(). */
#define LDB_CODE_COUNT 18

/* The fixed English message for a code ("key not found", ...). Never NULL;
 * static storage. */
LDB_API const char *ldb_strerror(int code);

/* The stable symbolic name of a code, as the JavaScript API uses it:
 * "OK", "NOT_FOUND", "CONFLICT", "BUSY", "CORRUPT", "IO", "FULL", "NO_MEMORY",
 * "INVALID_ARGUMENT", "CLOSED", "READ_ONLY", "INTERNAL", "TIMEOUT",
 * "ABORTED", "SETUP", "COMPACTED",
 * "OWNER_LOST", "DECODE"; "UNKNOWN" otherwise. Static storage. */
LDB_API const char *ldb_code_name(int code);

/* Detail of the most recent failed call made by the calling thread (on any
 * handle, including a failed ldb_open), e.g. "key of 2048 bytes exceeds the
 * limit of 1024 bytes". Never NULL (empty string when there is none). The
 * pointer is valid until the calling thread's next call into the library. The
 * db argument is accepted for API symmetry and may be NULL. */
struct ldb_db;
LDB_API const char *ldb_errmsg(const struct ldb_db *db);

/* The library version string, LDB_VERSION_STRING. Static storage. */
LDB_API const char *ldb_version(void);

/* ------------------------------------------------------------------------ */
/* Limits, enforced with LDB_INVALID. */

#define LDB_MAX_KEY_SIZE                                                       \
  1024u /* bytes, on every page size; keys                                     \
           are 0..1024 bytes: the empty key                                    \
           is a key (the smallest), in the                                     \
           API, the log and the B+tree */
#define LDB_MAX_VALUE_SIZE                                                     \
  (64u << 20) /* 64 MiB; empty values allowed;                                 \
                 large values use overflow pages */
#define LDB_MIN_PAGE_SIZE 512u
#define LDB_MAX_PAGE_SIZE 65536u

/* ------------------------------------------------------------------------ */
/* The store seam: where bytes at rest live.
 *
 * A store holds named byte files (the data file "data.ldb" and the log:
 * "feed.head" and the segments "feed-00.log" .. "feed-15.log"; a database
 * written by the previous version also has "wal-0.log" and "wal-1.log",
 * read once by the first open and removed). The engine reaches storage only
 * through these methods, so a store can be a directory of POSIX files, memory,
 * a fault-injecting wrapper for tests, or (under WebAssembly) OPFS or IndexedDB
 * implemented in JavaScript.
 *
 * Implementing a store: embed ldb_store / ldb_file as the first member of
 * your own structs and fill in every method. Methods return LDB_* codes
 * (LDB_IOERR for I/O errors, LDB_FULL for "no space"/quota, LDB_NOTFOUND from
 * open() when the file is missing and LDB_STORE_CREATE was not given).
 * A store and its files may be called from several threads, but never
 * concurrently on the same file for write/truncate/sync.
 */

typedef struct ldb_store ldb_store;
typedef struct ldb_file ldb_file;

#define LDB_STORE_CREATE 1 /* open(): create the file if it is missing */

/* A byte range inside a mapping made by ldb_store_methods.map. */
typedef struct ldb_span {
  const void *addr;
  uint64_t len;
} ldb_span;

typedef struct ldb_store_methods {
  /* Opens file `name` (a plain name, no slashes). On success *out is a file
   * owned by the caller until close(). */
  int (*open)(ldb_store *s, const char *name, int flags, ldb_file **out);
  /* Reads up to len bytes at off into buf; *got is the count read (short
   * only at end of file). */
  int (*read)(ldb_file *f, uint64_t off, void *buf, size_t len, size_t *got);
  /* Writes len bytes at off, extending the file as needed. Not durable
   * until sync(). On LDB_FULL some prefix of the bytes may have been
   * written. */
  int (*write)(ldb_file *f, uint64_t off, const void *buf, size_t len);
  /* Makes every completed write of this file durable. */
  int (*sync)(ldb_file *f);
  /* The file's current size in bytes. */
  int (*size)(ldb_file *f, uint64_t *size);
  /* Sets the file's size (shrinks or extends with zeros). */
  int (*truncate)(ldb_file *f, uint64_t size);
  /* Closes and frees f. Always frees, even when it returns an error. */
  int (*close)(ldb_file *f);
  /* Takes the store's exclusive (writer) lock, or a shared (reader) lock
   * when exclusive is 0. Returns LDB_BUSY when another process holds a
   * conflicting lock, writing a description of the holder ("pid 1234") into
   * holder (NUL-terminated, at most holder_cap bytes). */
  int (*lock)(ldb_store *s, int exclusive, char *holder, size_t holder_cap);
  /* Releases the lock taken by lock(). */
  int (*unlock)(ldb_store *s);
  /* Removes file `name`; LDB_OK if it does not exist. */
  int (*remove)(ldb_store *s, const char *name);
  /* Frees the store itself. Every file must be closed first. */
  void (*destroy)(ldb_store *s);
  /* Optional (NULL: the store cannot map; the engine then reads every page
   * through read()). Maps the first len bytes of f read-only and shared, so
   * that completed write() calls are visible through it; bytes past the
   * file's current end may be mapped but are never touched by the engine
   * unless the file shrinks under it. On LDB_OK *base is the mapping and
   * *faults a counter owned by the store (read it with an atomic load; it
   * stays valid until unmap()): a read through the mapping that the device
   * cannot serve (the file was truncated below the byte read by another
   * process, or an I/O error) must not kill the process; the store then
   * increments *faults before the read completes, and the read sees
   * zeros. The mapping stays valid until unmap(), which the engine calls
   * before close(f). */
  int (*map)(ldb_file *f, uint64_t len, const void **base,
             const uint64_t **faults);
  /* Removes a mapping made by map(). */
  void (*unmap)(ldb_file *f, const void *base, uint64_t len);
  /* Optional (NULL: residency is not measured; a store initialized
   * without this last member has it NULL). Sets *resident to 1 when every
   * byte of [addr, addr + len), which lies inside a mapping of f made by
   * map(), is in memory now (reading it needs no I/O), else to 0. The
   * engine asks it before a sample of its reads through the mapping (1 in
   * 1024 per thread) and counts the answers (ldb_stats.mmap_sampled_resident
   * and mmap_sampled_faults). It must not touch the bytes, may be called
   * from many threads at once, and on an error the sample is not
   * counted. */
  int (*resident)(ldb_file *f, const void *addr, uint64_t len, int *resident);
  /* Optional (NULL: mapped pages stay in memory until the OS reclaims
   * them; ldb_options.mmap_bounded then has no effect; a store initialized
   * without this last member has it NULL). Drops this process's hold on
   * the n ranges spans[0..n-1], each inside a mapping of f made by map(),
   * without changing what a read through the mapping sees: a later read
   * of a range gets the same bytes (the file's), faulting them back in.
   * Called while other threads may be reading the ranges. The engine
   * calls it to keep the mapped pages it has touched within cache_size,
   * with up to 64 ranges at a time; the posix store uses
   * madvise(MADV_DONTNEED), which on its read-only shared file mapping
   * drops only page-table entries (the bytes stay in the OS page cache),
   * all ranges in one process_madvise() call where the kernel has it (one
   * TLB flush for the lot). */
  void (*release)(ldb_file *f, const ldb_span *spans, size_t n);
} ldb_store_methods;

struct ldb_store {
  const ldb_store_methods *methods;
  /* Identity of the storage location (e.g. the canonical directory path).
   * Two ldb_open calls whose stores have the same non-NULL id share one
   * engine. NULL: never shared. Owned by the store. */
  const char *id;
};

struct ldb_file {
  ldb_store *store;
};

/* A store over the directory `dir`. A missing `dir` is created, together
 * with its missing parent directories (mode 0755, like mkdir -p), when
 * create is non-zero; LDB_NOTFOUND otherwise. Files use
 * pread/pwrite/fdatasync;
 * the lock is an fcntl lock on `dir/LOCK`, which holds the holder's pid.
 * The caller owns *out and frees it with ldb_store_destroy() after every
 * database using it is closed. Not part of the WebAssembly build (there
 * the stores are JavaScript and every open passes one). */
#ifndef _WIN32
LDB_API int ldb_store_posix(const char *dir, int create, ldb_store **out);
#else
/* Windows' peer of ldb_store_posix: a store over the directory `dir`
 * (UTF-8; drive-letter, relative or UNC), created with its missing parents
 * when create is non-zero, LDB_NOTFOUND otherwise. Files use
 * CreateFileW/ReadFile/WriteFile at offsets and FlushFileBuffers; the lock
 * is LockFileEx on `dir\LOCK`, which holds the holder's pid. A full disk is
 * LDB_FULL. Ownership as for ldb_store_posix. It is the store ldb_open uses
 * for a path on Windows. */
LDB_API int ldb_store_win32(const char *dir, int create, ldb_store **out);
#endif

/* A store in memory. Files persist in the store across ldb_close/ldb_open
 * until the store is destroyed; useful for tests and ephemeral databases.
 * The caller owns *out (ldb_store_destroy()). */
LDB_API int ldb_store_memory(ldb_store **out);

/* Frees a store made by ldb_store_posix/ldb_store_win32/ldb_store_memory
 * (or any store, via its destroy method). NULL is ignored. */
LDB_API void ldb_store_destroy(ldb_store *s);

/* ------------------------------------------------------------------------ */
/* The environment seam: clocks, the background thread and its timed sleep.
 *
 * Every clock reading, every thread and every timed wait of the engine
 * goes through an ldb_env, as bytes at rest go through the store. A test
 * passes a fake env to drive time by hand: the NORMAL-mode sync interval
 * and the retry back-off after a failed checkpoint then become
 * deterministic, with no real sleeping. A host may pass its own threads.
 *
 * Ownership: ldb_options.env NULL means ldb_env_default(). Otherwise the
 * caller keeps the env (and its ctx) alive and unchanged until every handle
 * on the engine is closed. An engine shared by several ldb_open calls (same
 * store id) keeps the env of the open that created it.
 *
 * Threads: now_ns and wall_ms are called from every thread that calls into
 * the library and from the background thread. thread_start and
 * event_create are called from ldb_open, thread_join and event_destroy
 * from the ldb_close of the last handle, event_signal from any thread, and
 * sleep_until from the background thread only. Every callback receives
 * ctx. */
typedef struct ldb_env {
  void *ctx;
  /* Monotonic nanoseconds (never decreases). Required. */
  uint64_t (*now_ns)(void *ctx);
  /* Wall-clock milliseconds since 1970-01-01 UTC: the change feed's record
   * times and log_retention_ms. Required. */
  uint64_t (*wall_ms)(void *ctx);
  /* Starts fn(arg) on a new thread and sets *thread to a handle for
   * thread_join. LDB_OK, or an LDB_* code that ldb_open then returns. NULL:
   * the env has no threads, and every engine runs as with
   * background_checkpoint = 0. When set, the four functions below and
   * thread_join are required too. */
  int (*thread_start)(void *ctx, void (*fn)(void *arg), void *arg,
                      void **thread);
  /* Waits until fn has returned, and frees the handle. */
  void (*thread_join)(void *ctx, void *thread);
  /* Makes a wake-up event for sleep_until in *ev (LDB_OK or an LDB_*
   * code, e.g. LDB_NOMEM). */
  int (*event_create)(void *ctx, void **ev);
  /* Wakes the sleep_until waiting on ev, or, when none waits, makes the
   * next one return at once (one pending wake is remembered). */
  void (*event_signal)(void *ctx, void *ev);
  /* Returns once now_ns() >= deadline_ns, or ev was signalled (consuming
   * the wake); returning early is allowed (the caller re-checks). */
  void (*sleep_until)(void *ctx, void *ev, uint64_t deadline_ns);
  /* Frees ev. */
  void (*event_destroy)(void *ctx, void *ev);
} ldb_env;

/* The system's env: CLOCK_MONOTONIC, the real-time clock, and POSIX
 * threads (no threads in the WebAssembly build: thread_start is NULL).
 * Static storage; never NULL. */
LDB_API const ldb_env *ldb_env_default(void);

/* ------------------------------------------------------------------------ */
/* Options. */

/* Allocation hook. Every allocation the engine makes goes through it (so a
 * test can fail the Nth allocation and check for LDB_NOMEM and leaks).
 * realloc may be NULL (the engine then uses malloc + copy + free). */
typedef struct ldb_allocator {
  void *(*malloc)(void *ctx, size_t size);
  void *(*realloc)(void *ctx, void *ptr, size_t size);
  void (*free)(void *ctx, void *ptr);
  void *ctx;
} ldb_allocator;

/* Value codecs. The codec a value was compressed with is stored with the
 * value (one byte), so every file stays readable whatever the option says
 * at a later open. NONE, LZ4 and ZSTD are format 1 as first written;
 * SNAPPY (3) values are readable by builds that know codec 3. AUTO is an
 * option only, never stored: it picks per value from a sample (the first
 * 4 KiB) the codec with the smallest output, lz4 or snappy, or zstd when
 * that saves another 1/8; it stores raw when none saves 1/8. Snappy's own
 * working memory is allocated by the snappy library (C++ new), not
 * through ldb_options.allocator. The values_* statistics count what was
 * picked. */
#define LDB_COMPRESSION_NONE 0
#define LDB_COMPRESSION_LZ4 1
#define LDB_COMPRESSION_ZSTD 2
#define LDB_COMPRESSION_SNAPPY 3
#define LDB_COMPRESSION_AUTO 4

/* Durability of a commit that returned LDB_OK. */
#define LDB_SYNC_FULL                                                          \
  0 /* the log is synced before commit returns;                                \
       concurrent commits share one sync (group commit) */
#define LDB_SYNC_NORMAL                                                        \
  1 /* the log is written at commit and synced within                          \
       sync_interval_ms (and at flush/checkpoint/close);                       \
       a crash may lose the last commits, never a                              \
       middle one, never corrupts */
#define LDB_SYNC_OFF                                                           \
  2 /* no syncs except at checkpoint/close; for bulk                           \
       loads and tests */

typedef struct ldb_options {
  uint32_t page_size;           /* bytes, power of two in 512..65536; default
                                   4096. Only used when creating: an existing
                                   database keeps its page size. */
  uint64_t cache_size;          /* page cache byte budget; default 64 MiB;
                                   a smaller value is raised to 16 pages.
                                   What the cache does not use, the
                                   memtable may borrow (see memtable_size);
                                   the cache then holds at most cache_size
                                   less that loan */
  int compression;              /* LDB_COMPRESSION_*; default NONE. Applied to
                                   values of at least 64 bytes, kept only when it
                                   saves at least 1/8. May differ between opens. */
  int compression_level;        /* codec level in 0..22; 0 = codec default */
  int sync_mode;                /* LDB_SYNC_*; default LDB_SYNC_NORMAL */
  uint32_t sync_interval_ms;    /* NORMAL mode: longest a commit stays unsynced;
                                   default 100 */
  int create_if_missing;        /* default 1: a missing database is created
                                   (for the posix store, its directory too,
                                   with missing parents); 0: LDB_NOTFOUND.
                                   Only in an empty or new directory (path
                                   opens): one that holds other files
                                   (.gitkeep, .DS_Store and such aside) but
                                   no database (a home directory, a LevelDB
                                   directory) is LDB_INVALID naming them,
                                   and nothing is written to it (nor by an
                                   open that does not create: LDB_NOTFOUND,
                                   no lock file left) */
  int error_if_exists;          /* default 0 (an existing database is opened).
                                   1: ldb_open returns LDB_INVALID when the
                                   database already exists, including when it
                                   is open in this process */
  int read_only;                /* default 0; takes the shared lock; every write
                                   returns LDB_READONLY */
  uint64_t memtable_size;       /* heap bytes the memtable of uncheckpointed
                                   versions may hold (keys, values, node
                                   overhead, its index and filter: what
                                   ldb_stats.memtable_bytes reports) before
                                   a checkpoint starts; the next one
                                   fills while it runs, and a writer waits
                                   for the checkpoint once that one reaches
                                   a quarter of this (see the README);
                                   default 64 MiB; at least 1. One budget
                                   with cache_size: past this the memtable
                                   grows into the part of cache_size the
                                   page cache does not use (up to this much
                                   more; ldb_stats.memtable_limit), and the
                                   cache's capacity shrinks by that until
                                   the memtable's checkpoint completes */
  int background_checkpoint;    /* 1 (default where threads exist): checkpoints
                                   and NORMAL-mode syncs run on a background
                                   thread. 0: no threads at all; checkpoints run
                                   in bounded steps inside commits and in
                                   ldb_maintain() / ldb_checkpoint_step(). */
  uint32_t max_active_txns;     /* open transactions allowed; beyond it
                                   ldb_txn_begin returns LDB_BUSY; default 10000;
                                   0 = unlimited */
  uint64_t log_retention_bytes; /* the change feed (ldb_changes_open) reads
                               the log, which keeps at least this many
                               bytes of the newest commit records past
                               checkpoints (each commit is written once);
                               default 64 MiB; 0 turns the feed off (the
                               log then keeps only what recovery needs).
                               The log is dropped in whole segments of
                               about 1/8 of it (64 KiB..16 MiB), and only
                               once checkpointed: it may hold more than
                               this, never less. */
  uint64_t log_retention_ms;    /* also drop log segments whose newest record
                                  is older than this (wall clock); default 0:
                                  no age limit. Either limit drops
                                  (checkpointed segments only). */
  int salvage;                  /* default 0. 1: when recovery cannot restore
                                   every commit (ldb_open would return
                                   LDB_CORRUPT: a damaged meta page the log
                                   cannot bridge, or a damaged log record
                                   that is not a torn tail, the message
                                   naming the file and offset), open anyway
                                   at the last commit that can be recovered
                                   in order and drop the later ones for
                                   good. Also (read-write) a data file
                                   that is missing or damaged before its
                                   meta pages beside a log (LDB_CORRUPT
                                   "data file data.ldb is ...") is
                                   replaced by a new one and the log
                                   replayed from its first record: every
                                   commit comes back only if the log still
                                   holds them all. For getting
                                   data out of a damaged database; run
                                   ldb_check() afterwards. */
  uint64_t mmap_size;           /* bytes of the data file read through a
                                   read-only memory mapping, with no lock
                                   and no copy, each page verified once per
                                   page version; default 1 TiB (address
                                   space only: the OS page cache holds the
                                   pages). 0: every page goes through the
                                   page cache, as do pages past mmap_size,
                                   stores without a map method and the
                                   WebAssembly build. A file truncated
                                   under the mapping by another process
                                   gives LDB_IOERR, never a crash. Reads
                                   through the mapping bypass the page
                                   cache's counters (cache_hits/misses);
                                   ldb_stats.mmap_sampled_* measure how
                                   often they find their page in memory. */
  int mmap_bounded;             /* 1: cache_size also bounds the
                                   mapped pages this process keeps resident
                                   (ldb_stats.mmap_resident_bytes, at most
                                   cache_size less cache_bytes, at least 16
                                   chunks): a CLOCK over 64 KiB chunks of the
                                   mapping releases cold chunks through the
                                   store's release method
                                   (madvise(MADV_DONTNEED): the bytes stay in
                                   the OS page cache and the next read maps
                                   them again, a minor fault: with a file
                                   much larger than cache_size, random
                                   reads then cost a fault each; see the
                                   README). 0 (default): every mapped page
                                   read stays resident in this process
                                   until the OS reclaims it (as in LMDB).
                                   No effect without a mapping or on a
                                   store without a release method. */
  ldb_store *store;             /* NULL (default): a posix store on `path`
                                   (LDB_INVALID in the WebAssembly build, which
                                   has none). Else
                                   this store is used and `path` is only a label;
                                   the caller keeps ownership and must keep it
                                   alive until every handle on it is closed. */
  const ldb_allocator *allocator; /* NULL (default): malloc/realloc/free */
  const ldb_env *env;             /* NULL (default): ldb_env_default(). Clocks
                                     and threads; see "The environment seam". */
} ldb_options;

/* Fills *opts with the defaults documented above. */
LDB_API void ldb_options_default(ldb_options *opts);

/* ------------------------------------------------------------------------ */
/* The contract tables: options, statistics and error codes are each defined
 * once, in the core (the .def files of core/src, compiled into the tables
 * below). The Node addon and the wasm exports walk these tables instead of
 * naming fields; the TypeScript declarations (js/contract.ts) are generated
 * from the same .def files by scripts/gen-contract.mjs, and a test fails when
 * they drift. Adding an option means: the ldb_options field, its .def row,
 * the README row. */

#define LDB_OPT_UINT 1 /* unsigned integer in [min, max] */
#define LDB_OPT_BOOL 2 /* 0 or 1 */
#define LDB_OPT_ENUM 3 /* a number in [0, max], named by `values` */

typedef struct ldb_option_info {
  const char *name;    /* the ldb_options field: "cache_size" */
  const char *js_name; /* the JS API's option: "cacheSize" */
  int type;            /* LDB_OPT_* */
  uint64_t def;        /* the default ldb_options_default() sets */
  uint64_t min, max;   /* inclusive range (BOOL: 0..1; ENUM: 0..n-1) */
  const char *values;  /* ENUM: the names of 0..n-1, '|'-separated
                          ("full|normal|off"); NULL otherwise */
  const char *unit;    /* "bytes", "ms" or "" */
  const char *doc;     /* one line of documentation */
} ldb_option_info;

/* The option table: every scalar field of ldb_options (not store,
 * allocator or env), in declaration order. *count receives the number of
 * rows. Static storage. */
LDB_API const ldb_option_info *ldb_option_table(size_t *count);

/* Sets the option named `name` (either the C or the JS spelling) in *opts.
 * LDB_INVALID (with the name, the value and the allowed range in
 * ldb_errmsg()) for an unknown name or a value out of range; *opts is then
 * unchanged. */
LDB_API int ldb_options_set(ldb_options *opts, const char *name,
                            uint64_t value);

/* As ldb_options_set, with the value as text: an ENUM value's name
 * ("normal"), "true"/"false" for a BOOL, or a decimal number. */
LDB_API int ldb_options_set_string(ldb_options *opts, const char *name,
                                   const char *value);

/* ------------------------------------------------------------------------ */
/* Opening and closing. */

typedef struct ldb_db ldb_db;
typedef struct ldb_txn ldb_txn;
typedef struct ldb_iter ldb_iter;
typedef struct ldb_batch ldb_batch;

/* Opens (or creates) the database at `path` (a directory for the posix
 * store; when it is created, so are its missing parent directories). opts
 * may be NULL for the defaults; invalid options are LDB_INVALID naming the
 * option, the value and the allowed range (ldb_option_table). On success
 * *out is a handle owned by the caller, released with ldb_close().
 *
 * Within one process, opening a location that is already open returns a
 * new handle on the same engine (shared cache, log and memtable), so every
 * thread may open its own handle. The engine's options are the first opener's:
 * a later open whose engine options differ (every option but page_size,
 * create_if_missing, error_if_exists, read_only and salvage; for example
 * sync_mode or cache_size) returns LDB_INVALID naming the option and both
 * values, rather than silently running with the first opener's. A
 * read_only open shares a writable engine; a writable open of an engine
 * opened read_only returns LDB_BUSY. Another process that holds the writer
 * lock makes this return LDB_BUSY with the holder named in ldb_errmsg().
 *
 * Recovery runs here at every open of an engine: it replays the log
 * records newer than the last checkpoint (named by the newest meta page of
 * data.ldb with a valid checksum) and, unless read_only, merges them into
 * the B+tree before returning. A clean ldb_close checkpoints, so after one
 * there is nothing to replay; after a crash (or a close whose final
 * checkpoint failed) the time this takes grows with the commits since the
 * last checkpoint (normally at most about memtable_size bytes of them). A
 * read-only open replays into memory only.
 *
 * The log keeps the records of the last two checkpoints, so when the
 * newest meta page is damaged the older one is used and the log brings it
 * up to date: no commit that returned LDB_OK is lost, and a writable open
 * rewrites the damaged page. When the log cannot bridge that gap (the
 * newer meta page was damaged while a checkpoint was under way, or records
 * are missing between the two log files), ldb_open returns LDB_CORRUPT,
 * naming the damaged meta page and the last seq it can restore in
 * ldb_errmsg(), and writes nothing; opts->salvage = 1 opens at that seq
 * instead and drops the later commits. A damaged or torn record in the
 * newest part of the log cannot be told from a commit cut short by a
 * crash: replay ends before it, silently (under the sync mode in use, such
 * a commit was never acknowledged as durable).
 *
 * When merging the replayed records meets a damaged tree page (LDB_CORRUPT,
 * or LDB_FULL on a full disk), the open still succeeds: the records stay in
 * memory as the pending checkpoint, every commit reads back, reads that
 * need the damaged page return LDB_CORRUPT (ldb_check names it, the stats'
 * background_error is set), writes go to the memtable and the log, and the
 * checkpoint is retried. A data.ldb shorter than its newest meta page says
 * is LDB_CORRUPT ("data file data.ldb is truncated: it is N bytes, ...")
 * at every open, read_only too, and the file is left as it is. A data.ldb
 * without a valid meta page is what power loss during its creation leaves
 * only when it is missing, empty or shorter than 512 bytes of zeros or of
 * the start of a new file's meta page, and the log is empty: only then is
 * it replaced by a new database (create_if_missing); beside a log with
 * bytes in it, or holding other bytes, it is LDB_CORRUPT ("data file
 * data.ldb is missing, but the log (feed.head) shows that the database was
 * created ...", read_only too), left as it is (see salvage). */
LDB_API int ldb_open(const char *path, const ldb_options *opts, ldb_db **out);

/* Closes the handle; the last handle on an engine syncs the log (every
 * commit becomes durable, whatever the sync mode), stops the background
 * thread and frees the engine.
 *
 * Never refuses (the idea of SQLite's sqlite3_close_v2, for hosts with a
 * garbage collector): transactions and iterators of this handle that are
 * still open are invalidated first (their buffered writes discarded, their
 * snapshots released). Every later call on an invalidated child returns
 * LDB_CLOSED, and the caller still frees it with ldb_txn_abort() /
 * ldb_iter_destroy(); the handle's own memory is released when its last
 * child is freed. Returns the first error met while closing; the handle is
 * closed in every case. NULL is ignored. Must not run concurrently with
 * another call on the same handle or on its children. */
LDB_API int ldb_close(ldb_db *db);

/* Frees memory the library returned to the caller (ldb_get and
 * ldb_txn_get values) with the database's allocator. db is the handle the
 * value came from, before ldb_close (or a closed handle whose children are
 * not all freed yet), or NULL when the database uses the default allocator
 * (ldb_options.allocator NULL). A NULL ptr is ignored. */
LDB_API void ldb_free(ldb_db *db, void *ptr);

/* ------------------------------------------------------------------------ */
/* Single operations (each is its own atomic commit; reads see the latest
 * commit). */

/* Looks up key. On LDB_OK, *value is a copy (allocated; free with
 * ldb_free(db, *value); non-NULL even for an empty value) and *value_len its
 * length. LDB_NOTFOUND when absent. */
LDB_API int ldb_get(ldb_db *db, const void *key, size_t key_len, void **value,
                    size_t *value_len);

/* Looks up key; on LDB_OK *value_len receives the value's full length
 * and, when it fits (cap >= *value_len), the value is copied into buf.
 * When it does not fit, buf receives its first cap bytes or nothing at
 * all: nothing for a value the data file holds on overflow pages (one
 * larger than about a quarter of page_size) or compressed, since a
 * prefix would cost reading or decompressing the whole value; bytes of
 * buf past what was copied are never written. Either way a caller whose
 * cap was too small calls again with a buffer of *value_len bytes, and
 * the first call cost only the lookup. cap 0 (buf may then be NULL) asks
 * for the length alone. LDB_NOTFOUND when absent. */
LDB_API int ldb_get_buf(ldb_db *db, const void *key, size_t key_len, void *buf,
                        size_t cap, size_t *value_len);

/* Stores value under key, replacing any previous value. */
LDB_API int ldb_put(ldb_db *db, const void *key, size_t key_len,
                    const void *value, size_t value_len);

/* Removes key. LDB_OK whether or not it existed. */
LDB_API int ldb_delete(ldb_db *db, const void *key, size_t key_len);

/* ------------------------------------------------------------------------ */
/* Write batches: puts and deletes applied as one atomic commit. A batch
 * does not read, so it never conflicts. Later operations on the same key
 * override earlier ones in the batch. */

/* Creates an empty batch owned by the caller (ldb_batch_destroy). The
 * batch may be applied to any handle of the same engine. */
LDB_API int ldb_batch_create(ldb_db *db, ldb_batch **out);
LDB_API int ldb_batch_put(ldb_batch *b, const void *key, size_t key_len,
                          const void *value, size_t value_len);
LDB_API int ldb_batch_delete(ldb_batch *b, const void *key, size_t key_len);
/* Number of operations recorded. */
LDB_API size_t ldb_batch_count(const ldb_batch *b);
/* Empties the batch for reuse. */
LDB_API void ldb_batch_clear(ldb_batch *b);
/* Applies every operation atomically. The batch keeps its contents. */
LDB_API int ldb_write(ldb_db *db, const ldb_batch *b);
/* Frees the batch. NULL is ignored. */
LDB_API void ldb_batch_destroy(ldb_batch *b);

/* ------------------------------------------------------------------------ */
/* Transactions. A transaction reads the snapshot taken at begin plus its own
 * writes, which are buffered until commit. */

#define LDB_TXN_READONLY 1 /* a snapshot: reads only, commit never fails */

/* Begins a transaction owned by the caller until ldb_txn_commit or
 * ldb_txn_abort, which free it in every case. LDB_BUSY when max_active_txns
 * are open. LDB_READONLY for a read-write transaction on a read-only
 * database. When its handle is closed first, the transaction is
 * invalidated: its writes are discarded, its snapshot released, and every
 * call on it returns LDB_CLOSED (commit and abort still free it). */
LDB_API int ldb_txn_begin(ldb_db *db, unsigned flags, ldb_txn **out);

/* As ldb_get / ldb_get_buf, inside the transaction. In a read-write
 * transaction the key is recorded in the read set for conflict checking. */
LDB_API int ldb_txn_get(ldb_txn *txn, const void *key, size_t key_len,
                        void **value, size_t *value_len);
LDB_API int ldb_txn_get_buf(ldb_txn *txn, const void *key, size_t key_len,
                            void *buf, size_t cap, size_t *value_len);
LDB_API int ldb_txn_put(ldb_txn *txn, const void *key, size_t key_len,
                        const void *value, size_t value_len);
LDB_API int ldb_txn_delete(ldb_txn *txn, const void *key, size_t key_len);

/* Commits: validates that no key in the read or write set was committed by
 * another transaction after this one's snapshot (else LDB_CONFLICT and
 * nothing is applied), then logs and applies the writes atomically. Keys
 * visited by an iterator of the transaction are in the read set; keys that
 * others insert into an iterated range are not detected (snapshot
 * isolation, no phantom protection).
 * Durability follows the sync mode. The transaction is ended and freed in
 * every case, success or not. Iterators still open on it are invalidated
 * (later calls return LDB_CLOSED; free them with ldb_iter_destroy()). On a
 * transaction invalidated by ldb_close() it returns LDB_CLOSED and frees
 * it. */
LDB_API int ldb_txn_commit(ldb_txn *txn);

/* Discards the transaction's writes, ends and frees it; iterators still
 * open on it are invalidated as by ldb_txn_commit. Also frees a transaction
 * that ldb_close() invalidated. NULL is ignored. */
LDB_API void ldb_txn_abort(ldb_txn *txn);

/* The commit sequence number of the transaction's snapshot. */
LDB_API uint64_t ldb_txn_snapshot_seq(const ldb_txn *txn);

/* ------------------------------------------------------------------------ */
/* Iterators: ordered traversal of one snapshot. */

typedef struct ldb_iter_options {
  const void *lower; /* lower bound, NULL = none */
  size_t lower_len;
  int lower_exclusive; /* 0: key >= lower; 1: key > lower */
  const void *upper;   /* upper bound, NULL = none */
  size_t upper_len;
  int upper_exclusive; /* 1: key < upper; 0: key <= upper */
  const void *prefix;  /* only keys starting with prefix; NULL = none;
                          combined with the bounds */
  size_t prefix_len;
  int reverse; /* 1: "forward" means descending: first() goes to
                  the largest key in range, next() to smaller keys,
                  seek(k) to the largest key <= k */
} ldb_iter_options;

/* Creates an iterator over txn's snapshot (including its buffered writes),
 * or over a fresh snapshot of the latest commit when txn is NULL. opts may
 * be NULL (everything, ascending). The bound and prefix bytes are copied.
 * The iterator is unpositioned until first/last/seek (the buffered writes
 * it sees are those made before it was created). Owned by the caller, who
 * frees it with ldb_iter_destroy() in every case: when its transaction
 * ends or its handle is closed first, it is invalidated (every call but
 * ldb_iter_destroy returns LDB_CLOSED, ldb_iter_valid 0). LDB_CLOSED for a
 * closed handle or an invalidated transaction. */
LDB_API int ldb_iter_create(ldb_db *db, ldb_txn *txn,
                            const ldb_iter_options *opts, ldb_iter **out);

/* Movement. Each returns LDB_OK when positioned on an entry, LDB_NOTFOUND
 * when it moved past the end of the range (the iterator is then
 * unpositioned), or an error. Directions are as set by opts->reverse:
 * first/next follow the iteration order, last/prev the opposite. */
LDB_API int ldb_iter_first(ldb_iter *it);
LDB_API int ldb_iter_last(ldb_iter *it);
/* Positions at the first entry at or after key in iteration order (>= key
 * ascending, <= key when reverse). */
LDB_API int ldb_iter_seek(ldb_iter *it, const void *key, size_t key_len);
LDB_API int ldb_iter_next(ldb_iter *it);
LDB_API int ldb_iter_prev(ldb_iter *it);
/* 1 when positioned on an entry, else 0. */
LDB_API int ldb_iter_valid(const ldb_iter *it);

/* The current entry. Pointers are owned by the iterator and valid until it
 * next moves or is destroyed; never NULL, also for the empty key or an
 * empty value. LDB_NOTFOUND when unpositioned. */
LDB_API int ldb_iter_key(ldb_iter *it, const void **key, size_t *key_len);
LDB_API int ldb_iter_value(ldb_iter *it, const void **value, size_t *value_len);

/* Bulk read, for bindings: copies entries starting at the current one into
 * buf, each as [u32 key_len][u32 value_len][key][value] (little-endian,
 * unaligned), advancing past every entry copied, until max_entries are
 * copied, the next entry does not fit, or the range ends. *count receives
 * the number copied and *used the bytes used. When the current entry alone
 * does not fit, returns LDB_OK with *count 0 and *used set to the bytes it
 * needs. Returns LDB_NOTFOUND (with *count 0) when unpositioned/exhausted. */
LDB_API int ldb_iter_read(ldb_iter *it, void *buf, size_t cap,
                          size_t max_entries, size_t *count, size_t *used);

/* Frees the iterator and releases its snapshot; also frees an invalidated
 * one (and, when it is the last child of a closed handle, the handle's
 * memory). NULL is ignored. */
LDB_API void ldb_iter_destroy(ldb_iter *it);

/* ------------------------------------------------------------------------ */
/* Range operations, done inside the engine: nothing of the range is copied
 * to the caller. The range is given as for an iterator (ldb_iter_options:
 * bounds, prefix, reverse; NULL = every key). */

/* Counts the keys in the range in one snapshot: txn's view (its snapshot
 * plus its buffered writes; in a read-write transaction the keys counted
 * join its read set) or, with txn NULL, a fresh snapshot of the latest
 * commit. Reads keys only, never values. *count receives the number.
 * Counted in ldb_stats.counts. Errors as ldb_iter_create. */
LDB_API int ldb_count(ldb_db *db, ldb_txn *txn, const ldb_iter_options *opts,
                      uint64_t *count);

/* Deletes the keys in the range, at most `limit` of them (UINT64_MAX: no
 * limit), taken in the range's iteration order (with opts->reverse, the
 * largest first). With txn NULL: the keys present in a snapshot taken at
 * the call are deleted in one atomic commit (durable per the sync mode;
 * a key another thread writes into the range after that snapshot is not
 * deleted); with a read-write txn: the deletes are buffered in it, applied
 * at its commit, and the keys join its read set. *deleted (may be NULL)
 * receives the number of keys deleted. Counted in ldb_stats.range_deletes
 * (calls that deleted something) and, per key, in deletes. LDB_READONLY on
 * a read-only database or transaction. */
LDB_API int ldb_delete_range(ldb_db *db, ldb_txn *txn,
                             const ldb_iter_options *opts, uint64_t limit,
                             uint64_t *deleted);

/* ------------------------------------------------------------------------ */
/* Maintenance. */

/* Makes every commit so far durable (syncs the log). */
LDB_API int ldb_flush(ldb_db *db);

/* Merges every commit so far into the B+tree, syncs the data file, writes
 * the meta page and trims the log. Returns when done. Does nothing on a
 * read-only database. Also returns, once, the first I/O error (LDB_IOERR,
 * LDB_CORRUPT) that automatic checkpoint work (a memtable freeze, a
 * checkpoint step run by a commit or the background thread) met since the
 * previous call, even when this checkpoint then succeeded: a write or
 * sync the store refused is reported, never only retried. */
LDB_API int ldb_checkpoint(ldb_db *db);

/* Runs at most `budget` units (about one key each) of pending checkpoint
 * work; for hosts without threads (background_checkpoint = 0), e.g. in idle
 * time. *more (may be NULL) is set to 1 when work remains. */
LDB_API int ldb_checkpoint_step(ldb_db *db, uint32_t budget, int *more);

/* Idle maintenance in one call, for hosts that own only a timer (the
 * wasm build, background_checkpoint = 0): runs a NORMAL-mode log sync that
 * is due and at most `budget` units (0: the engine's default step, 512) of
 * pending checkpoint work. *next_ms (may be NULL) receives when to call
 * again: 0 when work remains now, else the milliseconds (rounded up) until
 * the next due sync or the end of a checkpoint's retry back-off, or
 * UINT32_MAX when nothing is pending. With a background thread, or on a
 * read-only database, it does nothing and sets UINT32_MAX. Returns the
 * error of the work it ran (also recorded as the stats' background_error);
 * the work is retried, *next_ms says when. */
LDB_API int ldb_maintain(ldb_db *db, uint32_t budget, uint32_t *next_ms);

/* Checks the integrity of the whole database, every page of the data file:
 * both meta pages (the newer must describe the current version, the older
 * its predecessor); every page of the current tree (checksum, key order
 * within and across pages, child bounds, search hints, overflow chains);
 * every page of the previous version the older meta page names (free now,
 * but kept intact because recovery falls back to it when the newer meta
 * page is damaged); the free list pages; that no page is referenced twice
 * and every page is either in the tree or free; the checksum of every
 * other free page; the memtables; and every record the log retains.
 *
 * Damage in a free page that neither meta page reaches is harmless and
 * does not fail the check: no version of the data refers to the page, so
 * it is never read before it is written again, and a crash may leave one
 * torn legitimately (a checkpoint was writing it when the process died, or
 * a checkpoint cut short left it half-written). Such pages are counted in
 * the ldb_check_result (ldb_check_report) instead of reported as CORRUPT.
 *
 * LDB_OK when no page any version reaches is damaged, or LDB_CORRUPT with
 * the first problem, naming the page (or log file and offset), in
 * ldb_errmsg(). On a read-only handle the log is not checked. Safe to
 * call from any thread while others read and write. */
LDB_API int ldb_check(ldb_db *db);

/* Most page numbers of damaged free pages an ldb_check_result lists. */
#define LDB_CHECK_LISTED 16

/* What ldb_check_report found besides its verdict. */
typedef struct ldb_check_result {
  uint64_t pages;        /* pages in the data file (both meta pages included) */
  uint64_t free_checked; /* free pages no meta page reaches whose checksum
                            was verified */
  uint64_t free_damaged; /* of those, the ones whose checksum failed (torn
                            or never completely written): harmless, see
                            ldb_check */
  uint64_t free_damaged_pages[LDB_CHECK_LISTED]; /* the lowest page numbers
                            of them, ascending (min(free_damaged,
                            LDB_CHECK_LISTED) are set) */
  int free_skipped; /* 1 when a checkpoint was writing pages during the
                       check, so the free pages' content was not verified
                       (free_checked and free_damaged are then 0): check
                       again when it is done */
  /* How full the current tree's pages are (its shape, not a verdict):
   * leaf_bytes / (leaf_pages * (page size - 16)) is the leaves' fill. */
  uint64_t leaf_pages;     /* leaf pages of the current tree */
  uint64_t leaf_bytes;     /* bytes of their cells and slots */
  uint64_t branch_pages;   /* branch pages of the current tree */
  uint64_t overflow_pages; /* overflow-chain pages of the current tree */
} ldb_check_result;

/* As ldb_check, and fills *out (caller-owned; may be NULL, then the same as
 * ldb_check) with what the check found; *out is valid when it returns
 * LDB_OK. ok = (return value == LDB_OK): damaged free pages leave it
 * LDB_OK and are counted in out->free_damaged. */
LDB_API int ldb_check_report(ldb_db *db, ldb_check_result *out);

/* Writes a consistent snapshot of the database (the latest commit at the
 * time of the call) as a new, compact database in the directory `path`
 * (created, with missing parents, when absent). Writers continue meanwhile.
 * The result holds exactly that snapshot and is synced before return.
 *
 * The target must not hold a database: when any of the engine's files
 * (the data file "data.ldb", the log's "feed.head", the previous version's
 * "wal-0.log" and "wal-1.log") exists there with at least one byte, it returns
 * LDB_INVALID naming the file and writes nothing; files left empty by an
 * interrupted create do not count. The target being the database itself is
 * LDB_INVALID; a target locked by another user is LDB_BUSY. Hosts rely on this
 * check and have none of their own. */
LDB_API int ldb_backup(ldb_db *db, const char *path);

/* As ldb_backup, into a store owned by the caller, refused in the same
 * cases (its files checked through the store's methods, under its lock). */
LDB_API int ldb_backup_to_store(ldb_db *db, ldb_store *dst);

/* ------------------------------------------------------------------------ */
/* The change feed: committed transactions in commit order, read from the
 * retained log (log_retention_bytes / log_retention_ms). Every commit has a
 * sequence number (seq), 1, 2, 3, ... without gaps; the feed is resumable
 * from any `since` (the last seq a consumer processed) inside the retained
 * range, across restarts.
 *
 * A cursor belongs to its handle like an iterator: one thread at a time,
 * ldb_changes_close() before ldb_close(). Cursors of any handle on one
 * engine see every commit of that engine (every handle and thread of the
 * process). */

typedef struct ldb_changes ldb_changes;

/* Which ops a cursor returns; NULL = every op. Commits none of whose ops
 * match are skipped. The bytes are copied. */
typedef struct ldb_changes_options {
  const void *lower; /* lower bound, NULL = none */
  size_t lower_len;
  int lower_exclusive; /* 0: key >= lower; 1: key > lower */
  const void *upper;   /* upper bound, NULL = none */
  size_t upper_len;
  int upper_exclusive; /* 1: key < upper; 0: key <= upper */
  const void *prefix;  /* only keys starting with prefix; NULL = none */
  size_t prefix_len;
} ldb_changes_options;

#define LDB_CHANGE_PUT 1
#define LDB_CHANGE_DEL 2

typedef struct ldb_change_op {
  int type; /* LDB_CHANGE_PUT or LDB_CHANGE_DEL */
  const void *key;
  size_t key_len;
  const void *value; /* NULL and 0 for a delete */
  size_t value_len;
} ldb_change_op;

/* One committed transaction. Every pointer is owned by the cursor and
 * valid until its next call or ldb_changes_close(). */
typedef struct ldb_change {
  uint64_t seq;     /* its sequence number */
  uint64_t time_ms; /* commit time, wall clock, ms since the
                       Unix epoch (as the primary's clock said) */
  size_t op_count;  /* ops in range, in commit order (> 0) */
  const ldb_change_op *ops;
} ldb_change;

/* Opens a cursor that returns the commits with seq > since. since may be
 * any seq from ldb_stats.log_retained_since to ldb_stats.last_seq.
 * Errors: LDB_COMPACTED when since is older than what is retained;
 * LDB_INVALID when since is after the last commit, when the feed is off
 * (log_retention_bytes 0), or for bad options. *out is owned by the
 * caller: ldb_changes_close(). */
LDB_API int ldb_changes_open(ldb_db *db, uint64_t since,
                             const ldb_changes_options *opts,
                             ldb_changes **out);

/* The next committed transaction with ops in range: LDB_OK and *out;
 * LDB_NOTFOUND when caught up (call again later: see ldb_changes_wait and
 * ldb_commit_hook_add); LDB_COMPACTED when retention dropped the cursor's
 * position while it lagged behind; LDB_CLOSED after ldb_close(). Only
 * visible commits are returned (in sync mode full, once durable). */
LDB_API int ldb_changes_next(ldb_changes *c, ldb_change *out);

/* Bulk form for bindings: encodes commits from the cursor into buf until
 * max_commits are encoded, the next does not fit, or it is caught up.
 * Each commit: [u64 seq][u64 time_ms][u32 op_count][u32 bytes of its ops]
 * then op_count ops [u8 type][u32 key_len][u32 value_len][key][value]
 * (little-endian, unaligned). *count receives the commits encoded, *used
 * the bytes. When the first commit does not fit, returns LDB_OK with *count
 * 0 and *used the bytes it needs (it is returned by the next call).
 * Returns LDB_NOTFOUND with *count 0 when caught up; other errors as
 * ldb_changes_next. */
LDB_API int ldb_changes_read(ldb_changes *c, void *buf, size_t cap,
                             size_t max_commits, size_t *count, size_t *used);

/* The seq of the last commit the cursor passed (returned or skipped as out
 * of range): a consumer that stops may resume from it. */
LDB_API uint64_t ldb_changes_seq(const ldb_changes *c);

/* Waits until a commit with seq > after is visible or timeout_ms passes,
 * without polling (a condition variable the commit path signals). LDB_OK,
 * LDB_TIMEOUT, or LDB_CLOSED when the cursor's handle is closed meanwhile.
 * Builds without threads (wasm) return LDB_TIMEOUT at once unless a commit
 * is already there. */
LDB_API int ldb_changes_wait(ldb_changes *c, uint64_t after,
                             uint32_t timeout_ms);

/* Frees the cursor. NULL is ignored. */
LDB_API void ldb_changes_close(ldb_changes *c);

/* Commit notification for hosts that cannot block a thread per consumer
 * (the Node addon): fn(ctx, seq) is called after each commit of the engine
 * becomes visible, from the committing thread (or the thread that made it
 * durable), with a hook mutex held. seq is a lower bound of what is
 * visible; calls from several threads may arrive out of seq order, so a
 * host reads the feed up to the end rather than trusting seq. fn must be
 * quick and must not call into the library. Up to 64 hooks per engine;
 * LDB_BUSY beyond. A hook belongs to the handle that added it: it stays
 * until removed through that handle with the same fn and ctx
 * (ldb_commit_hook_remove; LDB_NOTFOUND when absent) or until that handle
 * is closed (ldb_close removes it, and no call is in progress once
 * ldb_close or ldb_commit_hook_remove returns). */
typedef void (*ldb_commit_hook)(void *ctx, uint64_t seq);
LDB_API int ldb_commit_hook_add(ldb_db *db, ldb_commit_hook fn, void *ctx);
LDB_API int ldb_commit_hook_remove(ldb_db *db, ldb_commit_hook fn, void *ctx);

/* ------------------------------------------------------------------------ */
/* Statistics. Counters count since the engine was opened. Every field is a
 * uint64_t (the histograms arrays of them), so a host can walk
 * ldb_stat_table() by offset. The exact meaning of each field is the help
 * text of its row in ldb_stat_table() (core/src/stats.def); the comments
 * below are a summary. */

#define LDB_HIST_BUCKETS                                                       \
  48 /* bucket i counts samples in [2^i, 2^(i+1)) ns                           \
        (bucket 0 also counts 0 ns) */

typedef struct ldb_stats {
  uint64_t gets;              /* point lookups (ldb_get, ldb_get_buf,
                                 their txn forms), found or not */
  uint64_t puts, deletes;     /* operations applied by commits of
                                 every path: single ops, each op of a
                                 batch, each key a txn commit writes
                                 (a batch of 1,000 puts adds 1,000) */
  uint64_t batches;           /* ldb_write calls that committed */
  uint64_t commits;           /* commits that applied (incl. single
                                 ops and batches) */
  uint64_t conflicts, aborts; /* LDB_CONFLICT commits; aborted txns */
  uint64_t cache_hits, cache_misses, cache_evictions;
  uint64_t cache_bytes;               /* bytes held in the page cache now */
  uint64_t cache_capacity;            /* the byte budget (cache_size; the
                                         cache holds at most this less
                                         what a memtable borrowed) */
  uint64_t bytes_read, bytes_written; /* through the store, all files */
  uint64_t syncs;                     /* store syncs, all files */
  uint64_t checkpoints;               /* completed */
  uint64_t active_txns;               /* open transactions now */
  uint64_t active_snapshots;          /* open snapshots (txns + iterators) */
  uint64_t memtable_bytes;            /* heap bytes of the memtables not yet
                                         checkpointed; 0 when none is */
  uint64_t data_file_size, log_file_size; /* bytes now (log: both files) */
  uint64_t page_size;
  uint64_t page_count, free_pages; /* pages in the data file, free ones */
  uint64_t last_seq;               /* sequence number of the last commit */
  uint64_t checkpoint_seq;         /* last seq merged into the B+tree */
  uint64_t uptime_ns;              /* since the engine was opened */
  uint64_t background_error;       /* LDB_OK, or the error that stopped
                                      background work (checkpoint/sync;
                                      it is retried), or LDB_FULL/LDB_IOERR
                                      that refused the last commit's log
                                      append or sync (until a commit or
                                      checkpoint succeeds) */
  uint64_t get_latency[LDB_HIST_BUCKETS];    /* sampled get latencies (one
                                                get in 8) */
  uint64_t commit_latency[LDB_HIST_BUCKETS]; /* every commit's latency */
  uint64_t get_latency_sum_ns;           /* sum of the get_latency samples */
  uint64_t commit_latency_sum_ns;        /* sum of the commit_latency samples */
  uint64_t get_p50_ns, get_p99_ns;       /* ldb_hist_percentile of get_latency,
                                            rounded */
  uint64_t commit_p50_ns, commit_p99_ns; /* the same of commit_latency */
  uint64_t log_retained_bytes;           /* bytes the change feed retains */
  uint64_t log_retained_segments;        /* its segment files */
  uint64_t log_retained_since;           /* the oldest since ldb_changes_open
                                            accepts: the seq before the first
                                            retained record; 0 with the feed
                                            off */
  uint64_t range_deletes;                /* ldb_delete_range calls that deleted
                                            keys (each key counts in deletes) */
  uint64_t counts;                       /* ldb_count calls */
  uint64_t values_raw;                   /* values of >= 64 bytes checkpointed
                                            while compression was on, stored
                                            raw (no codec saved 1/8) */
  uint64_t values_lz4, values_zstd, values_snappy; /* values checkpointed
                                       compressed with each codec (the
                                       option's, or what auto picked) */
  uint64_t mmap_bytes; /* bytes of the data file read through the memory
                          mapping (0: off, see ldb_options.mmap_size) */
  uint64_t mmap_sampled_resident, mmap_sampled_faults; /* a sample of the
                          reads through the mapping (1 in 1024 per thread):
                          page resident in memory, or not (the read
                          faulted it in from the file) */
  uint64_t mmap_resident_bytes; /* bytes of the mapping counted resident in
                          this process (64 KiB chunks read since their last
                          release); within cache_size - cache_bytes when
                          ldb_options.mmap_bounded; 0 when unbounded */
  uint64_t mmap_released_bytes; /* bytes of chunks released so far to keep
                          mmap_resident_bytes within that budget */
  uint64_t memtable_limit; /* heap bytes the active memtable may reach before
                          a checkpoint starts: memtable_size plus what it
                          borrowed of the cache budget the cache does not
                          use (at most memtable_size more) */
  uint64_t corrupt_reads;  /* reads (gets, scans and iterator steps, counts,
                           backups) that answered LDB_CORRUPT since the
                           engine opened: a damaged page of the data file
                           that only reads reach; ldb_check names it */
} ldb_stats;

/* Fills *out with a snapshot of the engine's statistics. */
LDB_API int ldb_stats_get(ldb_db *db, ldb_stats *out);

#define LDB_METRIC_COUNTER 1   /* only grows while the engine is open */
#define LDB_METRIC_GAUGE 2     /* a value now */
#define LDB_METRIC_HISTOGRAM 3 /* uint64_t[LDB_HIST_BUCKETS] of ns samples */
#define LDB_METRIC_SUM                                                         \
  4 /* the sum of a histogram's samples: exposed                               \
       as the _sum of the HISTOGRAM family named                               \
       by `metric`, not as a family of its own */

typedef struct ldb_stat_info {
  const char *name;    /* the ldb_stats field: "cache_hits" */
  const char *js_name; /* the key in the JS API's metrics(): "cacheHits" */
  const char *metric;  /* the Prometheus family, base units, counters end
                          in _total: "lightningdb_cache_hits_total" */
  int type;            /* LDB_METRIC_* */
  double scale;        /* field unit -> metric base unit (ns -> s: 1e-9) */
  const char *help;    /* the # HELP text */
  size_t offset;       /* offsetof(ldb_stats, field) */
} ldb_stat_info;

/* The statistics table: one row per field of ldb_stats, in declaration
 * order. *count receives the number of rows. Static storage. */
LDB_API const ldb_stat_info *ldb_stat_table(size_t *count);

/* The Prometheus text exposition (format 0.0.4) of *s: # HELP and # TYPE
 * for every family of ldb_stat_table(), histograms with cumulative
 * le buckets in seconds, _sum and _count. `labels` (NULL or "" for none),
 * e.g. "db=\"main\"", is added to every sample; it must be a list of
 * name="value" pairs separated by commas (LDB_INVALID otherwise). Writes at
 * most cap bytes into buf, NUL-terminated when cap > 0; *len receives the
 * full length without the NUL, so a caller whose cap was too small calls
 * again (buf may be NULL when cap is 0). Sequence numbers and sizes are
 * gauges; rates are left to the host (they need two samples). */
LDB_API int ldb_stats_prometheus(const ldb_stats *s, const char *labels,
                                 char *buf, size_t cap, size_t *len);

typedef struct ldb_error_info {
  int code;            /* LDB_* */
  const char *name;    /* ldb_code_name(code) */
  const char *message; /* ldb_strerror(code) */
} ldb_error_info;

/* The error table: one row per code in [0, LDB_CODE_COUNT), by code.
 * *count receives LDB_CODE_COUNT. Static storage. */
LDB_API const ldb_error_info *ldb_error_table(size_t *count);

/* The p-th percentile (0 < p <= 100) of a latency histogram in ns,
 * interpolated within the bucket; 0 for an empty histogram. */
LDB_API double ldb_hist_percentile(const uint64_t *hist, double p);

/* ------------------------------------------------------------------------ */
/* Events: a bounded ring of what happened to the engine, for operators
 * (the diagnostics page's timeline). Kept per engine, shared by every
 * handle on it; the newest LDB_EVENT_RING events are kept, older ones are
 * overwritten (a gap in seq shows how many were lost). */

/* The ring's size; a commit slower than LDB_EVENT_SLOW_NS is a
 * SLOW_COMMIT, a timed read slower than it a SLOW_READ, a log sync slower
 * than LDB_EVENT_STALL_NS a SYNC_STALL;
 * LDB_EVENT_BURST_NS is the burst window of ldb_event.count. */
#define LDB_EVENT_RING 256
#define LDB_EVENT_SLOW_NS 100000000ull
#define LDB_EVENT_STALL_NS 500000000ull
#define LDB_EVENT_BURST_NS 1000000000ull

/* Event types (ldb_event.type), with what value and code hold:
 *   CHECKPOINT   a checkpoint completed; value: its checkpoint seq
 *   SLOW_COMMIT  a commit took over LDB_EVENT_SLOW_NS; value: ns
 *   SLOW_READ    a point read (ldb_get/ldb_get_buf) took over
 *                LDB_EVENT_SLOW_NS; reads are timed one in eight per
 *                thread (those feed the get latency histogram too), so a
 *                burst of slow reads is seen, a lone one may not be;
 *                value: ns
 *   SYNC_STALL   a log sync took over LDB_EVENT_STALL_NS; value: ns
 *   ERROR        background work (checkpoint, log sync) started failing;
 *                code: the error
 *   DISK_FULL    a commit or background work failed with LDB_FULL
 *   RECOVERED    background work succeeded again; code: the error it had
 *   CONFLICT     commits refused with LDB_CONFLICT
 *   BUSY         transactions refused with LDB_BUSY at max_active_txns;
 *                value: the limit */
#define LDB_EVENT_CHECKPOINT 1
#define LDB_EVENT_SLOW_COMMIT 2
#define LDB_EVENT_SYNC_STALL 3
#define LDB_EVENT_ERROR 4
#define LDB_EVENT_DISK_FULL 5
#define LDB_EVENT_RECOVERED 6
#define LDB_EVENT_CONFLICT 7
#define LDB_EVENT_BUSY 8
#define LDB_EVENT_SLOW_READ 9

typedef struct ldb_event {
  uint64_t seq;     /* 1, 2, ... in the order recorded; never reused */
  uint64_t time_ns; /* when, on the clock of ldb_stats.uptime_ns */
  uint64_t last_ns; /* the latest occurrence folded into this event */
  uint64_t count;   /* occurrences: SLOW_COMMIT, SLOW_READ, SYNC_STALL,
                       CONFLICT and BUSY within LDB_EVENT_BURST_NS of the previous
                       one   of the same type and code join it while it is the
                       newest event (count, last_ns and value grow; read
                       again from seq - 1 to see them); others are 1 */
  uint64_t value;   /* per type, above (the largest in a burst); else 0 */
  int type;         /* LDB_EVENT_* */
  int code;         /* an LDB_* code, per type above; else LDB_OK */
} ldb_event;

/* Copies the kept events with seq > after, oldest first, at most cap of
 * them, into out (caller-owned); *count receives the number copied.
 * Thread-safe; cheap (a short lock, no I/O). LDB_CLOSED on a closed
 * handle. */
LDB_API int ldb_events_read(ldb_db *db, uint64_t after, ldb_event *out,
                            size_t cap, size_t *count);

/* The stable name of an event type: "checkpoint", "slow_commit",
 * "sync_stall", "error", "disk_full", "recovered", "conflict", "busy";
 * "unknown" otherwise. Static storage. */
LDB_API const char *ldb_event_name(int type);

#ifdef __cplusplus
}
#endif

#endif /* LIGHTNINGDB_H */
