/*
 * engine.h — the engine behind the public handles: its state, snapshots and
 * the helpers every part shares (engine.c). The modules stack one way:
 *   engine.h <- checkpoint.h <- commit.h <- txn.h <- iter.h
 * open.c (lifecycle), stats.c and backup.c sit on top; nothing below knows
 * about transactions or iterators.
 *
 * Locks, in acquisition order:
 *   commit_mu  one commit at a time: validation, seq assignment, log append,
 *              memtable insert, memtable freeze. Also guards ckpt_fail_at.
 *   ckpt_mu    the checkpoint merge state (one merge at a time).
 *   state_lk   (rwlock) the tuple {active, frozen, tree} that snapshots copy;
 *              written only to freeze a memtable or install a checkpoint.
 *   sync_mu    FULL-mode group commit: durable_seq, inserted_seq, leader.
 *   (the log's own mutexes, inside feed.c)
 * Readers take only state_lk's read side, briefly.
 *
 * Visibility: visible_seq is the newest seq a new snapshot sees. Commits
 * become visible in seq order, in FULL mode only once the log is synced past
 * them. Invariant: every entry of a frozen memtable has seq <= visible_seq
 * before it is merged into the tree (the freeze syncs the log, in every
 * mode).
 */
#ifndef LDB_ENGINE_H
#define LDB_ENGINE_H

#include <stdatomic.h>

#include "btree.h"
#include "env.h"
#include "events.h"
#include "feed.h"
#include "memtable.h"
#include "util.h"
#include "wal.h"

#define ENG_MT_BLOCK (256u << 10)
#define ENG_STEP_BUDGET 512u

typedef struct eng eng;

struct eng {
  /* registry (guarded by the registry mutex) */
  eng *reg_next;
  char *id;
  int handles;

  const ldb_allocator *a;
  const ldb_env *env; /* clocks and threads: opts.env or the default */
  ldb_options opts;
  ldb_store *store;
  int own_store;
  int locked;
  char *path;

  bt_file *bf;
  /* The log (feed.c): the write-ahead log and the change feed's history.
   * Never NULL once open; cursors are refused when log_retention_bytes is
   * 0 (the feed is off: the log keeps only what recovery needs). */
  feed *log;

  ldb_mutex commit_mu;
  ldb_mutex ckpt_mu;
  ldb_rwlock state_lk;
  mt *active;
  mt *frozen;
  /* Free arena blocks of checkpointed memtables, for the next ones (up to
   * memtable_size; see eng_mt_create). */
  mt_pool *mt_pool;
  bt_tree *tree;
  /* One memory budget for the memtables and the page cache (eng_mt_room):
   * the memtables together (active + frozen) hold at most memtable_size
   * plus mt_lent + frozen_lent, what they borrowed of the cache's unused
   * budget (at most memtable_size in all), and the cache holds at most
   * cache_size less that loan. mt_lent is the active memtable's loan
   * (written under commit_mu); frozen_lent and frozen_mem are the frozen
   * memtable's loan and heap bytes (mt_mem, fixed once frozen), set at
   * the freeze (commit_mu + ckpt_mu) and zeroed when its checkpoint
   * completes (ckpt_mu); ldb_stats_get reads all three. */
  _Atomic uint64_t mt_lent;
  _Atomic uint64_t frozen_lent;
  _Atomic uint64_t frozen_mem;
  uint64_t frozen_seq;             /* last seq in frozen (its checkpoint_seq) */
  uint64_t frozen_num, frozen_off; /* where the log's records after
                                      frozen_seq start (ckpt_mu) */
  _Atomic uint64_t last_seq;
  _Atomic uint64_t visible_seq;
  _Atomic uint64_t ckpt_seq;

  /* FULL-mode group commit */
  ldb_mutex sync_mu;
  ldb_cond sync_cv;
  uint64_t inserted_seq, durable_seq;
  int sync_leader;

  /* checkpoint merge in progress (ckpt_mu) */
  bt_merge *merge;
  mt_node *merge_pos;
  /* where the merge restarts after a failure: past the part of the frozen
   * memtable that earlier partial commits made durable (NULL: its start) */
  mt_node *merge_resume;
  _Atomic uint64_t ckpt_fail_at; /* ns; retry automatic work after this */
  _Atomic int auto_err; /* first error of automatic checkpoint work since
                           the last ldb_checkpoint, which reports it */
  _Atomic int ckpt_pending;

  /* NORMAL mode without a thread: time of the last log sync */
  uint64_t last_sync_ns;

  /* background thread, through env (thread_start, sleep_until on bg_ev) */
  int threaded;
  void *bg_thread;
  void *bg_ev;
  _Atomic int bg_stop;

  /* statistics */
  _Atomic uint64_t st_gets, st_puts, st_dels, st_batches, st_commits,
      st_conflicts, st_aborts, st_checkpoints;
  _Atomic uint64_t st_range_deletes, st_counts; /* range.c */
  _Atomic uint64_t active_txns, active_snaps;
  _Atomic int bg_error;
  _Atomic int append_err; /* FULL or IO: the last commit's log append (or
                             its sync in FULL mode) failed, and bg_error
                             was set to it (note_write_error) */
  _Atomic uint64_t get_hist[LDB_HIST_BUCKETS];
  _Atomic uint64_t commit_hist[LDB_HIST_BUCKETS];
  _Atomic uint64_t get_sum, commit_sum; /* ns, of the histogram samples */
  ev_ring events;                       /* events.c */
  uint64_t open_ns;

  /* change feed (changes.c over the log): hook_mu guards hooks and is what
   * ldb_changes_wait sleeps on. */
  ldb_mutex hook_mu;
  ldb_cond hook_cv;
  _Atomic int hook_waiters, nhooks;
  struct {
    ldb_commit_hook fn;
    void *ctx;
    const ldb_db *owner; /* the handle that added it */
  } hooks[64];
};

/* A child of a handle: a transaction, an iterator or a change cursor, linked
 * into its handle's list so that ldb_close can invalidate it (close never
 * refuses). An invalidated child holds nothing of the engine (no snapshot,
 * cursor or buffer); it keeps only its own memory and the handle's, which the
 * caller frees with ldb_txn_abort/ldb_iter_destroy. */
enum { CHILD_TXN = 1, CHILD_ITER = 2, CHILD_FEED = 3 };
typedef struct ldb_child ldb_child;
struct ldb_child {
  ldb_child *prev, *next;
  int kind; /* CHILD_* */
  int dead; /* invalidated: every call but the free returns LDB_CLOSED */
  const ldb_txn *owner; /* an iterator's transaction, else NULL */
  /* Releases what the child holds of the engine; called once, with its
   * handle's kids_mu held, while the engine is still alive. */
  void (*invalidate)(ldb_child *c);
};

/* A handle. Lives until ldb_close and, after it, as long as it has
 * children (a zombie: magic LDB_DB_CLOSED, e NULL), so that a child's free
 * can always reach it. */
struct ldb_db {
  uint32_t magic;
  eng *e;                 /* NULL once closed */
  const ldb_allocator *a; /* the engine's allocator; frees the handle */
  int read_only;
  ldb_mutex kids_mu; /* guards kids (handles are shared by threads) */
  ldb_child kids;    /* sentinel of the circular list of children */
};

#define LDB_DB_MAGIC 0x4c444231u
#define LDB_DB_CLOSED 0xdeadbeefu

/* A new open handle on e, allocated with a; NULL when out of memory. */
ldb_db *db_new(eng *e, const ldb_allocator *a, int read_only);
/* Links c into db's children. */
void db_child_add(ldb_db *db, ldb_child *c, int kind, const ldb_txn *owner,
                  void (*invalidate)(ldb_child *c));
/* Unlinks c; frees the handle when it is closed and c was its last child.
 * c must not be used to reach db afterwards. */
void db_child_remove(ldb_db *db, ldb_child *c);
/* Invalidates, under kids_mu, every live iterator of db whose owner is txn
 * (txn ending), or every live child when txn is NULL (the handle closing:
 * iterators first, as they read their transaction's snapshot). */
void db_invalidate_children(ldb_db *db, const ldb_txn *txn);
/* Frees a handle without children. */
void db_free(ldb_db *db);

/* A consistent view: everything committed up to seq. Holds references. */
typedef struct snap {
  uint64_t seq;
  mt *active;
  mt *frozen; /* may be NULL */
  bt_tree *tree;
} snap;

void snap_take(eng *e, snap *s);
void snap_release(eng *e, snap *s);
/* As snap_get, returning an allocated copy (allocator a) in *val. */
int snap_lookup(const snap *s, const ldb_allocator *a, const void *key,
                size_t klen, void **val, size_t *vlen);
/* Looks key up in the snapshot: LDB_OK with the value copied as in
 * bt_get (min(cap,len) bytes into buf, *len full length), LDB_NOTFOUND. */
int snap_get(const snap *s, const void *key, size_t klen, void *buf, size_t cap,
             size_t *len);

/* Argument checks shared by every entry point. */
int check_key(const void *key, size_t klen);
int check_value(const void *val, size_t vlen);
int check_db(const ldb_db *db);
/* LDB_READONLY when db (or its engine) is read-only. */
int check_writable(const ldb_db *db);
/* Validates options for ldb_open (options.c). */
int options_check(const ldb_options *o);
/* A second open of an engine already running (ldb_open's registry): the
 * engine's own options (every row but page_size, create_if_missing,
 * error_if_exists, read_only and salvage) must equal the running ones, else
 * LDB_INVALID naming the first that differs with both values. */
int options_match(const ldb_options *run, const ldb_options *o,
                  const char *path);

/* Counts one latency sample of ns nanoseconds in a histogram. */
void hist_add(_Atomic uint64_t *hist, _Atomic uint64_t *sum, uint64_t ns);
/* Records (or, with LDB_OK, clears) the error of background work. */
void set_bg_error(eng *e, int rc);
/* A commit failed to append (or sync) the log with rc: FULL and IO set
 * bg_error, so health checks and the background_error gauge show that
 * writes are refused, until write_succeeded (the next commit whose append
 * succeeds) or set_bg_error (a checkpoint) clears it. An error background
 * work set stays; other codes are ignored. */
void note_write_error(eng *e, int rc);
void write_succeeded(eng *e);

/* ---- events (the ring is events.c; what is an event is decided here) -- */

/* Records an event in the engine's ring, timed by its env's clock. */
void ev_record(eng *e, int type, int code, uint64_t value);
/* A log sync that began at t0 (eng_now()) just ended: records a
 * SYNC_STALL when it took over LDB_EVENT_STALL_NS. */
void ev_sync_done(eng *e, uint64_t t0);
/* The background error changed from old to rc (set_bg_error). */
void ev_bg_error(eng *e, int old, int rc);

/* The engine's monotonic clock (its env's now_ns), in ns. */
static inline uint64_t eng_now(const eng *e) {
  return env_now(e->env);
}

/* A memtable for the engine, with a key filter and a hash index sized
 * for about `keys` distinct keys (0: small, grown as needed). */
int eng_mt_create(eng *e, uint64_t keys, mt **out);

/* Whether the active memtable, holding used heap bytes (mt_mem), may keep
 * growing within the one memory budget of the memtables and the page
 * cache: the active and the frozen memtable together stay below
 * memtable_size plus what they borrowed of the cache's unused budget
 * (eng_mt_limit; borrowed here, in steps, when the active one needs
 * more), and while no memtable is frozen an active one that borrowed
 * nothing (any, without a background thread) stops eng_mt_headroom (an
 * eighth of memtable_size) short of that: the room the next memtable
 * fills while this one's checkpoint runs. commit_mu held. */
int eng_mt_room(eng *e, uint64_t used);

/* What the memtables (active + frozen) may hold together: memtable_size
 * plus every loan of the page cache's budget they hold (what the
 * memtable_limit stat reports). */
uint64_t eng_mt_limit(const eng *e);

/* The room a memtable that borrowed nothing (or any memtable, without a
 * background thread) leaves the next one when it freezes: an eighth of
 * memtable_size. A memtable that borrowed grows to the limit instead
 * (eng_mt_room): every byte less is a larger share of
 * checkpoints, each of which rewrites most of the tree under random keys.
 * Leaving a quarter, then an eighth, 1M random puts and as many
 * overwrites (db_bench) took one checkpoint more and wrote 3.14x their
 * bytes instead of 2.60x. */
static inline uint64_t eng_mt_headroom(const eng *e) {
  return e->opts.memtable_size / 8;
}

/* Tells ldb_changes_wait waiters and commit hooks that commits up to seq
 * are visible (changes.c); cheap when nobody listens. Call without
 * commit_mu. */
void eng_notify(eng *e, uint64_t seq);
/* Removes the commit hooks db added (ldb_close). */
void eng_hooks_drop(eng *e, const ldb_db *db);

/* Publishes every appended commit up to seq as durable (FULL mode
 * bookkeeping); call after the log was synced past seq. */
void mark_durable(eng *e, uint64_t seq);

#endif /* LDB_ENGINE_H */
