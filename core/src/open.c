/*
 * open.c — the engine's lifecycle: open and recovery (replaying the log
 * from the checkpoint, and migrating a log-format-1 database once), the
 * process-wide registry that lets every handle (and worker thread) on one
 * database share one engine, close (which checkpoints, so that the next open
 * replays nothing, and never refuses: on failure the log still holds every
 * commit), and the integrity check of an open engine.
 */
#include <stdio.h>

#include "checkpoint.h"
#include "commit.h"
#include "store.h"

#ifndef LDB_NO_THREADS
static ldb_mutex reg_mu = LDB_MUTEX_INITIALIZER;
#define REG_LOCK() ldb_mutex_lock(&reg_mu)
#define REG_UNLOCK() ldb_mutex_unlock(&reg_mu)
#else
#define REG_LOCK() ((void)0)
#define REG_UNLOCK() ((void)0)
#endif
static eng *registry;

static int recover_apply(void *ctx, uint64_t seq, const uint8_t *ops,
                         size_t len, uint32_t nops) {
  eng *e = ctx;
  size_t kv = len; /* payload bytes bound key+value bytes */
  int rc = mt_reserve(e->active, nops, kv);
  if (rc) return rc;
  void *scratch = sort_scratch(e, nops);
  apply_ops(e->active, seq, ops, len, nops, scratch);
  ldb_mfree(e->a, scratch);
  return LDB_OK;
}

/* Recovery found records it cannot replay: the logs hold commits up to
 * seen, but the history stops at last (a hole after it). Either the newer
 * meta page is damaged and the older one's commits were already trimmed
 * from the log, or a log record in the middle is damaged. */
static int report_hole(eng *e, const char *label, uint64_t ckpt, uint64_t last,
                       uint64_t seen) {
  int bad = bt_damaged_meta(e->bf);
  if (bad >= 0)
    return ldb_err(LDB_CORRUPT,
                   "database %s: meta page %d of data.ldb is damaged, and the "
                   "older meta page (checkpoint at seq %llu) cannot be "
                   "brought up to date from the log: the commits after seq "
                   "%llu are missing from it (it holds commits up to seq "
                   "%llu). Open with the salvage option to open at seq %llu "
                   "and drop every later commit",
                   label, bad, (unsigned long long)ckpt,
                   (unsigned long long)last, (unsigned long long)seen,
                   (unsigned long long)last);
  return ldb_err(LDB_CORRUPT,
                 "database %s: the log is damaged after seq %llu (it holds "
                 "commits up to seq %llu that cannot be replayed in order). "
                 "Open with the salvage option to open at seq %llu and drop "
                 "every later commit",
                 label, (unsigned long long)last, (unsigned long long)seen,
                 (unsigned long long)last);
}

/* A checkpoint that changes no key: rewrites the other meta slot so that
 * both name seq, and syncs the data file. */
static int empty_checkpoint(eng *e, uint64_t seq) {
  bt_merge *m;
  int rc = bt_merge_begin(e->bf, &m);
  if (!rc) rc = bt_merge_commit(m, seq);
  if (rc) return rc;
  ldb_rwlock_wrlock(&e->state_lk);
  bt_tree_release(e->tree);
  e->tree = bt_current(e->bf);
  ldb_rwlock_unlock(&e->state_lk);
  return LDB_OK;
}

/* A clean close leaves nothing for the next open to replay: the memtables
 * are checkpointed (the log keeps every record whatever happens: on
 * failure the next open replays it). Like ldb_checkpoint, it also returns
 * the first I/O error that automatic checkpoint work met since the last
 * ldb_checkpoint: the close is the caller's last chance to hear that the
 * store refused a write or sync (the background thread is stopped by now,
 * so nothing can note a later one). */
static int final_checkpoint(eng *e) {
  int rc, more = 0;
  ldb_mutex_lock(&e->commit_mu);
  rc = eng_freeze(e, 1);
  ldb_mutex_unlock(&e->commit_mu);
  while (!rc) {
    rc = ckpt_run(e, UINT64_MAX, &more);
    if (!more) break;
  }
  if (rc) {
    char m[400];
    snprintf(m, sizeof m, "%s", ldb_errmsg(NULL));
    return ldb_err(rc,
                   "the final checkpoint failed: %s (every commit is in the "
                   "log: the next open replays it)",
                   m);
  }
  int fe = atomic_exchange(&e->auto_err, LDB_OK);
  if (fe)
    return ldb_err(fe,
                   "automatic checkpoint work failed earlier: %s (the final "
                   "checkpoint succeeded; check the storage)",
                   ldb_strerror(fe));
  return LDB_OK;
}

/* Frees an engine; clean (ldb_close of the last handle, not a failed
 * open) checkpoints first. *rcp (may be NULL) receives the first error. */
static void eng_free(eng *e, int clean, int *rcp) {
  int rc = LDB_OK;
  ckpt_thread_stop(e);
  if (clean && e->log && !e->opts.read_only) rc = final_checkpoint(e);
  if (e->merge) bt_merge_abort(e->merge);
  e->merge = NULL;
  if (e->log) {
    int frc = feed_close(e->log); /* syncs */
    if (!rc) rc = frc;
    e->log = NULL;
  }
  if (e->tree) bt_tree_release(e->tree);
  mt_unref(e->frozen);
  mt_unref(e->active);
  mt_pool_unref(e->mt_pool); /* (memtables still referenced hold it too) */
  if (e->bf) bt_close(e->bf);
  if (e->locked) e->store->methods->unlock(e->store);
  if (e->own_store) ldb_store_destroy(e->store);
  ldb_mutex_destroy(&e->commit_mu);
  ldb_mutex_destroy(&e->ckpt_mu);
  ldb_mutex_destroy(&e->sync_mu);
  ldb_cond_destroy(&e->sync_cv);
  ldb_mutex_destroy(&e->hook_mu);
  ldb_cond_destroy(&e->hook_cv);
  ldb_rwlock_destroy(&e->state_lk);
  ldb_mfree(e->a, e->id);
  ldb_mfree(e->a, e->path);
  ldb_mfree(e->a, e);
  if (rcp) *rcp = rc;
}

/* Prefixes the current error message with the database's label. */
static int label_err(int rc, const char *label, const char *what) {
  char m[512];
  snprintf(m, sizeof m, "%s", ldb_errmsg(NULL));
  return ldb_err(rc, "%s %s: %s", what, label, m);
}

/* Recovery of a database written by the previous version (log format 1:
 * wal-0/1 beside the feed segments): replays the old log, then makes the
 * segments end at the same commit (copying what they lack from the old
 * log). The caller checkpoints, writes the format-2 head and removes the
 * old log, in that order, so a crash anywhere leaves a database that opens
 * (format 1 until the head is written). */
static int recover_v1(eng *e, wal *old, const char *label, uint64_t ckpt,
                      uint64_t *last, int *cut) {
  uint64_t seen = 0;
  int rc = wal_recover(old, ckpt, recover_apply, e, last, &seen);
  if (rc) return label_err(rc, label, "recovering");
  if (seen > *last) {
    if (!e->opts.salvage) return report_hole(e, label, ckpt, *last, seen);
    *cut = 1;
  }
  /* The old feed segments were written unsynced beside the old log: their
   * end is wherever a crash left it, and reconcile joins them to it. */
  feed_recovery r;
  rc = feed_recover(e->log, 0, 1, NULL, NULL, &r);
  if (!rc) {
    if (!e->opts.read_only)
      rc = feed_reconcile(e->log, old, *last);
    else if (!r.last || r.last != *last)
      rc = feed_restart(e->log, *last);
  }
  if (rc) return label_err(rc, label, "migrating the log of");
  return LDB_OK;
}

/* Recovery (log format 2): replays the log from the checkpoint. */
static int recover_v2(eng *e, const char *label, uint64_t ckpt, uint64_t *last,
                      int *cut) {
  feed_recovery r;
  int rc = feed_recover(e->log, ckpt, e->opts.salvage, recover_apply, e, &r);
  if (rc) return label_err(rc, label, "recovering");
  *cut = r.cut;
  *last = ckpt;
  if (!r.first || r.last < ckpt) {
    /* An empty log, or one that ends before the tree (the first open of a
     * backup): it starts over after the checkpoint. */
    rc = feed_restart(e->log, ckpt);
  } else if (r.first > ckpt + 1) {
    /* The records right after the checkpoint are missing. */
    if (!e->opts.salvage) return report_hole(e, label, ckpt, ckpt, r.last);
    *cut = 1;
    rc = feed_restart(e->log, ckpt);
  } else {
    *last = r.last;
  }
  if (rc) return label_err(rc, label, "recovering");
  return LDB_OK;
}

/* state_lk prefers writers: its read sections are short, and a freeze or a
 * checkpoint installing a new tree must not starve behind a stream of
 * readers (it holds the commit or checkpoint mutex while it waits). No
 * thread ever read-locks it twice, so writer preference cannot deadlock. */
static void state_lock_init(ldb_rwlock *l) {
#if !defined(LDB_NO_THREADS) && defined(__GLIBC__)
  pthread_rwlockattr_t at;
  pthread_rwlockattr_init(&at);
  pthread_rwlockattr_setkind_np(&at,
                                PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(l, &at);
  pthread_rwlockattr_destroy(&at);
#else
  ldb_rwlock_init(l);
#endif
}

/* 1 when file name of s has bytes, or cannot be inspected. */
static int has_bytes(ldb_store *s, const char *name) {
  ldb_file *f = NULL;
  uint64_t size = 0;
  int rc = ldb_fopen(s, name, 0, &f);
  if (rc == LDB_NOTFOUND) return 0;
  if (!rc) {
    rc = ldb_fsize(f, &size);
    ldb_fclose(f);
  }
  return rc || size;
}

/* bt_config.created_before: the log's files (this version's head and
 * segments, the previous version's wal files) hold bytes only once the
 * data file was created completely. */
static int log_exists(ldb_store *s, char *what, size_t cap) {
  if (feed_exists(s, what, cap)) return 1;
  for (int i = 0; i < 2; i++) {
    if (has_bytes(s, wal_names[i])) {
      snprintf(what, cap, "%s", wal_names[i]);
      return 1;
    }
  }
  return 0;
}

#ifndef LDB_NO_POSIX_STORE
/* The engine's files in a database directory (the directory store adds
 * its lock file). */
static int own_name(const char *name) {
  return !strcmp(name, BT_FILE_NAME) || feed_is_file(name) ||
         !strcmp(name, wal_names[0]) || !strcmp(name, wal_names[1]);
}

/* Names check_dir does not count as another's files: ours, and the
 * placeholders that file managers and version control leave in an empty
 * directory (`mkdir data && touch data/.gitkeep`, a folder opened in
 * Finder or Explorer). */
static int not_foreign(const char *name) {
  static const char *const placeholders[] = {".gitkeep",   ".keep",
                                             ".gitignore", ".DS_Store",
                                             "Thumbs.db",  "desktop.ini"};
  for (size_t i = 0; i < sizeof placeholders / sizeof *placeholders; i++)
    if (!strcmp(name, placeholders[i])) return 1;
  return own_name(name);
}

/* Directory path (store s over it) holds no database (no data file with
 * bytes, no log: else it is ours, or damage bt_open reports). Looked at
 * before the lock, whose file an open creates: an open that will not
 * create answers LDB_NOTFOUND and leaves no lock file behind; one that
 * would create a new database refuses a directory holding other files (a
 * home directory, another database's files: its files would mix with
 * them, and a LevelDB or RocksDB LOCK would be taken for ours) with
 * LDB_INVALID naming them (placeholders such as .gitkeep or .DS_Store
 * are not counted: not_foreign). */
static int check_dir(ldb_store *s, const char *path, int create) {
  char what[64], list[256];
  size_t n = 0;
  if (has_bytes(s, BT_FILE_NAME) || log_exists(s, what, sizeof what))
    return LDB_OK;
  if (!create) return ldb_err(LDB_NOTFOUND, "database %s does not exist", path);
  int rc = store_dir_foreign(path, not_foreign, list, sizeof list, &n);
  if (rc || !n) return rc;
  return ldb_err(LDB_INVALID,
                 "directory %s holds no database but %zu other file%s "
                 "(%s%s): a new database is created only in an empty or new "
                 "directory, so that its files never mix with others: give "
                 "a new directory",
                 path, n, n == 1 ? "" : "s", list,
                 n > STORE_LIST_MAX ? ", ..." : "");
}
#endif

static char *dupstr(const ldb_allocator *a, const char *s) {
  return ldb_memdup(a, s, strlen(s) + 1);
}

static int eng_open(ldb_store *s, int own, const char *path,
                    const ldb_options *o, eng **out) {
  int rc, created = 0, more;
  wal *old = NULL;
  char holder[128] = "";
  const char *label = path ? path : (s->id ? s->id : "(store)");
  eng *e = ldb_calloc(o->allocator, sizeof *e);
  if (!e) return ldb_err(LDB_NOMEM, "out of memory opening %s", label);
  e->a = o->allocator;
  e->opts = *o;
  e->store = s;
  e->env = o->env ? o->env : ldb_env_default();
  ldb_mutex_init(&e->commit_mu);
  ldb_mutex_init(&e->ckpt_mu);
  ldb_mutex_init(&e->sync_mu);
  ldb_cond_init(&e->sync_cv);
  ldb_mutex_init(&e->hook_mu);
  ldb_cond_init(&e->hook_cv);
  state_lock_init(&e->state_lk);
  e->open_ns = eng_now(e);
  e->last_sync_ns = e->open_ns;
  e->path = dupstr(e->a, label);
  if (s->id) e->id = dupstr(e->a, s->id);
  if (!e->path || (s->id && !e->id)) {
    rc = ldb_err(LDB_NOMEM, "out of memory opening %s", label);
    goto fail;
  }
  rc = s->methods->lock(s, !o->read_only, holder, sizeof holder);
  if (rc == LDB_BUSY) {
    rc = ldb_err(LDB_BUSY, "database %s is locked by %s", label,
                 holder[0] ? holder : "another process");
    goto fail;
  }
  if (rc) {
    /* The store's message says why (e.g. "open lock file ...: Permission
     * denied"); copied first, since ldb_err rewrites the same buffer. */
    char why[256];
    const char *m = ldb_errmsg(NULL);
    snprintf(why, sizeof why, "%s", m && m[0] ? m : ldb_strerror(rc));
    ldb_err(rc, "cannot lock database %s: %s", label, why);
    goto fail;
  }
  e->locked = 1;
  /* A data file lost beside a log is damage; salvage (read-write) starts
   * a new one and replays what the log holds. */
  int replace = o->salvage && !o->read_only;
  bt_config cfg = {o->page_size,
                   o->cache_size,
                   o->mmap_size,
                   o->compression,
                   o->compression_level,
                   o->create_if_missing && !o->read_only,
                   o->read_only,
                   o->allocator,
                   !o->mmap_bounded,
                   replace ? NULL : log_exists,
                   replace};
  if (cfg.cache_size < 16ull * o->page_size)
    cfg.cache_size = 16ull * o->page_size;
  rc = bt_open(s, &cfg, &e->bf, &created);
  if (rc == LDB_NOTFOUND) {
    rc = ldb_err(LDB_NOTFOUND, "database %s does not exist", label);
    goto fail;
  }
  if (rc == LDB_CORRUPT) {
    /* which database: the message names only the file */
    label_err(rc, label, "database");
    goto fail;
  }
  if (rc) goto fail;
  if (!created && o->error_if_exists) {
    rc = ldb_err(LDB_INVALID, "database %s already exists", label);
    goto fail;
  }
  e->tree = bt_current(e->bf);
  uint64_t ckpt = bt_tree_seq(e->tree);
  atomic_store(&e->ckpt_seq, ckpt);
  rc = eng_mt_create(e, 0, &e->active);
  if (rc) goto fail;
  feed_config fc = {o->log_retention_bytes, o->log_retention_ms,
                    o->memtable_size};
  rc = feed_open(s, e->a, e->env, &fc, o->read_only, &e->log);
  if (rc) {
    label_err(rc, label, "opening the log of");
    goto fail;
  }
  uint64_t old_bytes = 0, last = ckpt;
  rc = wal_open(s, e->a, &old_bytes, &old);
  if (rc) goto fail;
  /* Format 1 (a previous version): its log is replayed once, then the
   * database continues in format 2. Old log files beside a format-2 head
   * are what a crash during that migration left: already redundant. */
  int fmt = feed_format(e->log);
  int cut = 0, legacy = fmt != 2 && (old_bytes || fmt == 1);
  rc = legacy ? recover_v1(e, old, label, ckpt, &last, &cut)
              : recover_v2(e, label, ckpt, &last, &cut);
  if (rc) goto fail;
  atomic_store(&e->last_seq, last);
  atomic_store(&e->visible_seq, last);
  e->durable_seq = e->inserted_seq = last;
  if (!o->read_only) {
    if (last > ckpt) {
      /* Merge what was replayed into the tree now. The log keeps its
       * records: the older meta page still needs them. */
      mt *nm;
      rc = eng_mt_create(e, 0, &nm);
      if (rc) goto fail;
      mt_set_next(e->active, nm);
      e->frozen = e->active;
      e->frozen_seq = last;
      feed_end(e->log, &e->frozen_num, &e->frozen_off);
      e->active = nm;
      atomic_store(&e->ckpt_pending, 1);
      rc = ckpt_run(e, UINT64_MAX, &more);
      /* A full disk (a database closed when its final checkpoint could not
       * write, and not yet given space) still opens: the replayed log
       * stays in memory as the pending checkpoint, as after a background
       * checkpoint that met a full disk; reads see every commit, writes
       * answer LDB_FULL until space returns, and the checkpoint is retried
       * (ckpt_fail_at). Not where the replay must reach the tree before
       * the open goes on: salvaged records (cut) and a format-1 log,
       * whose files are removed below. A damaged page the checkpoint must
       * rewrite (LDB_CORRUPT: a write before a close reached a damaged
       * leaf) opens the same way: every commit stays readable from the
       * memtable and the undamaged pages, reads of keys that only the
       * damaged page holds answer LDB_CORRUPT, ldb_check names the page,
       * writes are accepted into the memtable and the log, and the
       * checkpoint is retried (it fails again until the page is repaired;
       * each close reports it, and the log keeps every commit). */
      if ((rc == LDB_FULL || rc == LDB_CORRUPT) && !cut && fmt == 2 &&
          !old_bytes) {
        rc = LDB_OK;
      }
      if (rc) goto fail;
    }
    if (cut) {
      /* Salvage dropped records for good and their seqs will be reused:
       * both meta pages must name the same commit, so that no fallback
       * needs them. */
      if ((rc = empty_checkpoint(e, last)) || (rc = empty_checkpoint(e, last)))
        goto fail;
    } else if (last == ckpt && bt_damaged_meta(e->bf) >= 0) {
      /* Rewrite the invalid meta slot (the next commit's slot). Best
       * effort: on a full disk the open still succeeds and ldb_check names
       * the page. */
      (void)empty_checkpoint(e, last);
    }
    if (fmt != 2 && (rc = feed_set_format2(e->log, last))) {
      label_err(rc, label, "migrating the log of");
      goto fail;
    }
    if (old_bytes && (rc = wal_remove(old))) goto fail;
  }
  wal_close(old);
  old = NULL;
  e->threaded = 0;
  if (o->background_checkpoint && !o->read_only) {
    rc = ckpt_thread_start(e);
    if (rc) {
      ldb_err(rc, "cannot start the background thread");
      goto fail;
    }
  }
  (void)own;
  *out = e;
  return LDB_OK;
fail:
  wal_close(old);
  e->own_store = 0; /* the caller destroys its store on failure */
  eng_free(e, 0, NULL);
  return rc;
}

int ldb_open(const char *path, const ldb_options *opts, ldb_db **out) {
  ldb_options o;
  ldb_store *s = NULL;
  int own = 0, rc;
  eng *e = NULL;
  ldb_db *db = NULL;
  if (!out) return ldb_err(LDB_INVALID, "ldb_open: out is NULL");
  *out = NULL;
  if (opts)
    o = *opts;
  else
    ldb_options_default(&o);
  if ((rc = options_check(&o))) return rc;
  if ((rc = env_check(o.env))) return rc;
  /* Without threads (this build, or the env has none) checkpoints run in
   * bounded steps. */
  if (!(o.env ? o.env : ldb_env_default())->thread_start)
    o.background_checkpoint = 0;
  if (!o.store && (!path || !*path))
    return ldb_err(LDB_INVALID, "ldb_open: path is empty and no store given");
  if (o.store) {
    s = o.store;
  } else {
    rc = ldb_store_default(path, o.create_if_missing && !o.read_only, &s);
    if (rc == LDB_NOTFOUND)
      return ldb_err(LDB_NOTFOUND, "database %s does not exist", path);
    if (rc) return rc;
    own = 1;
#ifndef LDB_NO_POSIX_STORE
    if ((rc = check_dir(s, path, o.create_if_missing && !o.read_only))) {
      ldb_store_destroy(s);
      return rc;
    }
#endif
  }
  db = db_new(NULL, o.allocator, o.read_only);
  if (!db) {
    rc = ldb_err(LDB_NOMEM, "out of memory opening %s", path ? path : "");
    goto fail;
  }
  REG_LOCK();
  if (s->id)
    for (e = registry; e; e = e->reg_next)
      if (e->id && !strcmp(e->id, s->id)) break;
  if (e) {
    if (e->opts.read_only && !o.read_only) {
      REG_UNLOCK();
      rc = ldb_err(LDB_BUSY, "database %s is open read-only in this process",
                   e->path);
      goto fail;
    }
    if (o.error_if_exists) {
      REG_UNLOCK();
      rc = ldb_err(LDB_INVALID, "database %s already exists", e->path);
      goto fail;
    }
    if ((rc = options_match(&e->opts, &o, e->path))) {
      REG_UNLOCK();
      goto fail;
    }
    e->handles++;
    REG_UNLOCK();
    if (own) ldb_store_destroy(s);
    /* The allocator of a shared engine is the first opener's. */
    if (o.allocator != e->a) {
      db_free(db);
      db = db_new(e, e->a, o.read_only);
      if (!db) {
        REG_LOCK();
        e->handles--;
        REG_UNLOCK();
        return ldb_err(LDB_NOMEM, "out of memory opening a handle");
      }
    }
    db->e = e;
    *out = db;
    return LDB_OK;
  }
  rc = eng_open(s, own, path, &o, &e);
  if (rc) {
    REG_UNLOCK();
    goto fail;
  }
  e->own_store = own;
  e->handles = 1;
  e->reg_next = registry;
  registry = e;
  REG_UNLOCK();
  db->e = e;
  *out = db;
  return LDB_OK;
fail:
  if (db) db_free(db);
  if (own) ldb_store_destroy(s);
  return rc;
}

int ldb_close(ldb_db *db) {
  if (!db) return LDB_OK;
  int rc = check_db(db);
  if (rc) return rc;
  eng *e = db->e;
  /* Never refuses: the children let go of the engine first (while it is
   * alive), then the handle is closed; its memory stays while children
   * remain, for their frees (db_child_remove frees it with the last). */
  db_invalidate_children(db, NULL);
  eng_hooks_drop(e, db);
  ldb_mutex_lock(&db->kids_mu);
  db->magic = LDB_DB_CLOSED;
  db->e = NULL;
  int orphan = db->kids.next == &db->kids;
  ldb_mutex_unlock(&db->kids_mu);
  if (orphan) db_free(db);
  REG_LOCK();
  int last = --e->handles == 0;
  if (last) {
    for (eng **pp = &registry; *pp; pp = &(*pp)->reg_next)
      if (*pp == e) {
        *pp = e->reg_next;
        break;
      }
  }
  REG_UNLOCK();
  if (last) {
    eng_free(e, 1, &rc);
    if (rc) {
      char m[512];
      snprintf(m, sizeof m, "%s", ldb_errmsg(NULL));
      ldb_err(rc, "close: %s", m);
    }
  }
  return rc;
}

int ldb_check(ldb_db *db) {
  return ldb_check_report(db, NULL);
}

int ldb_check_report(ldb_db *db, ldb_check_result *out) {
  ldb_check_result scratch;
  if (!out) out = &scratch;
  memset(out, 0, sizeof *out);
  int rc = check_db(db);
  if (rc) return rc;
  eng *e = db->e;
  rc = bt_check_report(e->bf, out);
  if (rc) return rc;
  ldb_mutex_lock(&e->commit_mu);
  ldb_rwlock_rdlock(&e->state_lk);
  /* Read-only too (the CLI's check opens so): recovery of a read-only
   * open cuts a torn tail in memory only, so the log's published ends
   * are what a read-write open would keep. */
  if (e->log) rc = feed_check(e->log);
  if (!rc) rc = mt_check(e->active);
  if (!rc && e->frozen) rc = mt_check(e->frozen);
  ldb_rwlock_unlock(&e->state_lk);
  ldb_mutex_unlock(&e->commit_mu);
  return rc;
}
