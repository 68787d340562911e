/*
 * checkpoint.c — memtable freezes and checkpoints: merging the frozen
 * memtable into the B+tree in bounded steps, run by the background thread,
 * by commits (without threads) or by ldb_checkpoint/ldb_checkpoint_step.
 */
#include "checkpoint.h"

/* Keeps the first I/O error of automatic checkpoint work for
 * ldb_checkpoint to report (retrying a failed write or sync is not enough:
 * the caller must hear that the store refused one). A full disk or no
 * memory is not kept: nothing was written, and a retry that succeeds
 * makes it good. */
static void note_auto_err(eng *e, int rc) {
  int none = LDB_OK;
  if (rc && rc != LDB_FULL && rc != LDB_NOMEM)
    atomic_compare_exchange_strong(&e->auto_err, &none, rc);
}

/* Bytes of pages a merge may hold before it commits what it has
 * (memtable_size / 16, within [64 KiB, 4 MiB]). */
static uint64_t chunk_pages(const eng *e) {
  uint64_t bytes = e->opts.memtable_size / 16;
  if (bytes < (64u << 10)) bytes = 64u << 10;
  if (bytes > (4u << 20)) bytes = 4u << 20;
  uint64_t ps = bt_page_size(e->bf);
  return bytes / ps ? bytes / ps : 1;
}

/* Commits the merge so far as a version of its own, still tagged with
 * the previous checkpoint's seq, and begins the next one. The pages it
 * replaced become reusable two partial commits later, so a checkpoint that
 * rewrites the whole tree needs a few chunks of extra space, not a second
 * tree, and its memory stays bounded by a chunk.
 *
 * Why this is safe: the partial tree differs from the previous version
 * only in keys of the frozen memtable, which every snapshot that sees the
 * new tree also holds (and reads first); recovery from the partial meta
 * page replays the log from the previous checkpoint's seq, which
 * re-applies those same keys (the frozen memtable's log is kept until the
 * next switch). */
static int ckpt_partial(eng *e) {
  int rc = bt_merge_commit(e->merge, atomic_load(&e->ckpt_seq));
  e->merge = NULL;
  if (rc) return rc;
  e->merge_resume = e->merge_pos;
  ldb_rwlock_wrlock(&e->state_lk);
  bt_tree *old = e->tree;
  e->tree = bt_current(e->bf);
  ldb_rwlock_unlock(&e->state_lk);
  bt_tree_release(old);
  rc = bt_merge_begin(e->bf, &e->merge);
  if (rc) e->merge = NULL;
  return rc;
}

/* Runs up to budget keys of the pending checkpoint (merging the frozen
 * memtable into the tree, committed in chunks: ckpt_partial). *more: work
 * remains. On failure the merge is discarded and retried later from the
 * last partial commit. */
int ckpt_run(eng *e, uint64_t budget, int *more) {
  int rc = LDB_OK;
  ldb_mutex_lock(&e->ckpt_mu);
  ldb_rwlock_rdlock(&e->state_lk);
  mt *fr = e->frozen;
  uint64_t fseq = e->frozen_seq;
  ldb_rwlock_unlock(&e->state_lk);
  uint64_t fnum = e->frozen_num, foff = e->frozen_off;
  *more = 0;
  if (!fr) goto out;
  /* A memtable the open froze (its replay of the log) is charged to the
   * budget here, as eng_freeze charges the others. */
  if (!atomic_load(&e->frozen_mem)) atomic_store(&e->frozen_mem, mt_mem(fr));
  if (!e->merge) {
    rc = bt_merge_begin(e->bf, &e->merge);
    if (rc) {
      e->merge = NULL;
      goto fail;
    }
    e->merge_pos = e->merge_resume ? e->merge_resume : mt_first(fr);
  }
  uint64_t chunk = chunk_pages(e);
  while (e->merge_pos && budget) {
    mt_node *n = e->merge_pos;
    size_t kl, vl;
    const uint8_t *k = mt_node_key(n, &kl);
    const uint8_t *v = mt_node_val(n, &vl);
    /* The first version of a key is its newest. The frozen memtable
     * outlives the merge (it is dropped after the last commit), so the
     * merge may point at its bytes. */
    if (mt_node_type(n) == MT_PUT)
      rc = bt_merge_put_ref(e->merge, k, kl, v, vl);
    else
      rc = bt_merge_delete(e->merge, k, kl);
    if (rc) goto fail;
    mt_node_prefetch_next(n);
    for (n = mt_node_next(n); n; n = mt_node_next(n)) {
      size_t nl;
      const uint8_t *nk = mt_node_key(n, &nl);
      if (ldb_keycmp(nk, nl, k, kl) != 0) break;
    }
    e->merge_pos = n;
    budget--;
    if (n && bt_merge_pages(e->merge) >= chunk && (rc = ckpt_partial(e)))
      goto fail;
  }
  if (e->merge_pos) {
    *more = 1;
    goto out;
  }
  rc = bt_merge_commit(e->merge, fseq);
  e->merge = NULL;
  if (rc) goto fail;
  /* The log keeps the records after the previous checkpoint: while the
   * older meta page is a fallback, they are what recovery replays from it.
   * The head's hint lets the next open start reading at fseq's end (a
   * failure to write it costs the next open a longer scan: the checkpoint
   * stands, and the error is reported). */
  int hrc =
      feed_checkpointed(e->log, fseq, fnum, foff, atomic_load(&e->ckpt_seq));
  ldb_rwlock_wrlock(&e->state_lk);
  bt_tree *old = e->tree;
  e->tree = bt_current(e->bf);
  e->frozen = NULL;
  e->merge_resume = NULL;
  ldb_rwlock_unlock(&e->state_lk);
  bt_tree_release(old);
  mt_unref(fr);
  /* Its bytes leave the budget before its loan does (eng_mt_room reads
   * them in the other order). */
  atomic_store(&e->frozen_mem, 0);
  bt_cache_repay(e->bf, atomic_exchange(&e->frozen_lent, 0));
  atomic_store(&e->ckpt_seq, fseq);
  atomic_store(&e->ckpt_pending, 0);
  atomic_fetch_add(&e->st_checkpoints, 1);
  ev_record(e, LDB_EVENT_CHECKPOINT, LDB_OK, fseq);
  set_bg_error(e, hrc);
  note_auto_err(e, hrc);
  e->ckpt_fail_at = 0;
  rc = hrc;
  /* The pages the checkpoint's earlier chunks released are reusable now
   * that its last meta page is durable: cut them off the end of the file
   * when that is worth a meta page. The checkpoint stands either way; a
   * failure is reported (a write or sync the disk refused) and only keeps
   * the file long until a later commit. */
  int src = bt_shrink(e->bf, chunk);
  if (src) {
    set_bg_error(e, src);
    note_auto_err(e, src);
    if (!rc) rc = src;
  } else {
    ldb_rwlock_wrlock(&e->state_lk);
    old = e->tree;
    e->tree = bt_current(e->bf);
    ldb_rwlock_unlock(&e->state_lk);
    bt_tree_release(old);
  }
out:
  ldb_mutex_unlock(&e->ckpt_mu);
  return rc;
fail:
  if (e->merge) bt_merge_abort(e->merge);
  e->merge = NULL;
  e->merge_pos = NULL;
  e->ckpt_fail_at = eng_now(e) + 200000000ull;
  set_bg_error(e, rc);
  note_auto_err(e, rc);
  *more = 1;
  ldb_mutex_unlock(&e->ckpt_mu);
  return rc;
}

static void bg_kick(eng *e) {
  if (!e->threaded) return;
  e->env->event_signal(e->env->ctx, e->bg_ev);
}

/* Freezes the active memtable and syncs the log. commit_mu held. A
 * previous checkpoint still running is finished first (the writer waits or,
 * without threads, does the work). */
int eng_freeze(eng *e, int force) {
  int rc, more;
  /* After a failure (full disk, I/O error) automatic attempts wait for the
   * retry time instead of redoing a whole merge at every commit; the
   * memtable grows past its threshold meanwhile. */
  if (!force && eng_now(e) < atomic_load(&e->ckpt_fail_at)) return LDB_OK;
  ldb_rwlock_rdlock(&e->state_lk);
  mt *fr = e->frozen;
  ldb_rwlock_unlock(&e->state_lk);
  if (fr) {
    rc = ckpt_run(e, UINT64_MAX, &more);
    if (rc) return rc;
    /* With the frozen memtable's bytes and loan gone from the budget the
     * active one may have room again: it keeps filling (a freeze now
     * would checkpoint a small memtable). */
    if (!force && eng_mt_room(e, mt_mem(e->active))) return LDB_OK;
  }
  if (mt_count(e->active) == 0) return LDB_OK;
  mt *nm;
  /* The next memtable will likely hold about as many indexed keys as this
   * one: its index starts at that size instead of growing to it (after a
   * bulk load in key order, whose versions skip the index, at its
   * smallest: a large table would only cost page faults). */
  rc = eng_mt_create(e, mt_count(e->active) - mt_unindexed(e->active), &nm);
  if (rc) return rc;
  /* The records of the memtable being frozen must be durable before a
   * checkpoint claims them, in every sync mode: the log must never lack a
   * record the tree has (the feed serves them). */
  rc = feed_sync(e->log);
  if (rc) {
    mt_unref(nm);
    atomic_store(&e->ckpt_fail_at, eng_now(e) + 200000000ull);
    if (!force) note_auto_err(e, rc);
    return rc;
  }
  rc = feed_trim(e->log);
  if (rc) {
    mt_unref(nm);
    atomic_store(&e->ckpt_fail_at, eng_now(e) + 200000000ull);
    if (!force) note_auto_err(e, rc);
    return rc;
  }
  uint64_t last = atomic_load(&e->last_seq);
  /* Everything in the memtable being frozen is durable, so it may become
   * visible (and be merged into the tree). */
  mark_durable(e, last);
  uint64_t num, off;
  feed_end(e->log, &num, &off);
  ldb_mutex_lock(&e->ckpt_mu);
  e->frozen_num = num;
  e->frozen_off = off;
  /* The frozen memtable's bytes and the cache budget it borrowed stay
   * charged to the budget until its checkpoint completes (ckpt_run). */
  atomic_fetch_add(&e->frozen_lent, atomic_exchange(&e->mt_lent, 0));
  atomic_store(&e->frozen_mem, mt_mem(e->active));
  ldb_mutex_unlock(&e->ckpt_mu);
  ldb_rwlock_wrlock(&e->state_lk);
  mt_set_next(e->active, nm);
  e->frozen = e->active;
  e->frozen_seq = last;
  e->active = nm;
  ldb_rwlock_unlock(&e->state_lk);
  atomic_store(&e->ckpt_pending, 1);
  bg_kick(e);
  return LDB_OK;
}

/* ---- background thread -------------------------------------------------- */

/* The background thread: NORMAL-mode log syncs every sync_interval_ms and
 * checkpoint work when kicked, retried after the back-off when it failed.
 * It sleeps on the env's event, so its timing follows the env's clock. */
static void bg_main(void *arg) {
  eng *e = arg;
  const ldb_env *env = e->env;
  uint64_t seen_seq = atomic_load(&e->last_seq);
  while (!atomic_load(&e->bg_stop)) {
    uint64_t wait_ms =
        e->opts.sync_mode == LDB_SYNC_NORMAL
            ? (e->opts.sync_interval_ms ? e->opts.sync_interval_ms : 1)
            : 1000;
    if (atomic_load(&e->ckpt_pending) && e->ckpt_fail_at) wait_ms = 200;
    env->sleep_until(env->ctx, e->bg_ev, eng_now(e) + wait_ms * 1000000ull);
    if (atomic_load(&e->bg_stop)) break;
    if (e->opts.sync_mode == LDB_SYNC_NORMAL && feed_dirty(e->log)) {
      uint64_t t0 = eng_now(e);
      int rc = feed_sync(e->log);
      ev_sync_done(e, t0);
      if (rc) set_bg_error(e, rc);
    }
    int more = atomic_load(&e->ckpt_pending);
    while (more && eng_now(e) >= e->ckpt_fail_at) {
      if (ckpt_run(e, 4096, &more)) break;
      if (atomic_load(&e->bg_stop)) break;
    }
    /* No commit since the last wake-up (a sync interval, or a second):
     * the memtable blocks pooled for the next memtable go back to the
     * allocator, so that an idle engine holds no more than its data. */
    uint64_t seq = atomic_load(&e->last_seq);
    if (seq == seen_seq && e->mt_pool) mt_pool_trim(e->mt_pool);
    seen_seq = seq;
  }
}

int ckpt_thread_start(eng *e) {
  const ldb_env *env = e->env;
  if (!env->thread_start) return LDB_OK; /* an env without threads */
  int rc = env->event_create(env->ctx, &e->bg_ev);
  if (rc) return rc;
  rc = env->thread_start(env->ctx, bg_main, e, &e->bg_thread);
  if (rc) {
    env->event_destroy(env->ctx, e->bg_ev);
    e->bg_ev = NULL;
    return rc;
  }
  e->threaded = 1;
  return LDB_OK;
}

void ckpt_thread_stop(eng *e) {
  if (!e->threaded) return;
  const ldb_env *env = e->env;
  atomic_store(&e->bg_stop, 1);
  env->event_signal(env->ctx, e->bg_ev);
  env->thread_join(env->ctx, e->bg_thread);
  env->event_destroy(env->ctx, e->bg_ev);
  e->bg_thread = e->bg_ev = NULL;
  e->threaded = 0;
}

int ldb_checkpoint(ldb_db *db) {
  int rc = check_db(db), more = 0;
  if (rc) return rc;
  eng *e = db->e;
  if (e->opts.read_only) return LDB_OK;
  ldb_mutex_lock(&e->commit_mu);
  rc = eng_freeze(e, 1);
  ldb_mutex_unlock(&e->commit_mu);
  if (rc) return rc;
  do {
    rc = ckpt_run(e, UINT64_MAX, &more);
  } while (!rc && more);
  /* A sync that failed before is not made good by one that succeeds now
   * (the kernel may have dropped the data): the caller hears of it. */
  int fe = atomic_exchange(&e->auto_err, LDB_OK);
  if (!rc && fe)
    rc = ldb_err(fe, "automatic checkpoint work failed earlier: %s",
                 ldb_strerror(fe));
  return rc;
}

/* NORMAL mode without a thread: syncs the log when a sync is due. *wait_ns
 * (may be NULL) receives the time until the next one is due, UINT64_MAX
 * when nothing is unsynced. */
static int sync_if_due(eng *e, uint64_t *wait_ns) {
  int rc = LDB_OK;
  if (wait_ns) *wait_ns = UINT64_MAX;
  if (e->opts.sync_mode != LDB_SYNC_NORMAL || e->threaded) return LDB_OK;
  uint64_t interval = (uint64_t)e->opts.sync_interval_ms * 1000000u;
  ldb_mutex_lock(&e->commit_mu);
  uint64_t now = eng_now(e);
  if (feed_dirty(e->log)) {
    uint64_t age = now - e->last_sync_ns;
    if (age >= interval) {
      rc = feed_sync(e->log);
      if (!rc) e->last_sync_ns = now;
    } else if (wait_ns) {
      *wait_ns = interval - age;
    }
  }
  ldb_mutex_unlock(&e->commit_mu);
  return rc;
}

int ldb_checkpoint_step(ldb_db *db, uint32_t budget, int *more) {
  int rc = check_db(db), m = 0;
  if (more) *more = 0;
  if (rc) return rc;
  eng *e = db->e;
  if (e->opts.read_only) return LDB_OK;
  if ((rc = sync_if_due(e, NULL))) return rc;
  if (atomic_load(&e->ckpt_pending)) rc = ckpt_run(e, budget ? budget : 1, &m);
  if (more) *more = m;
  return rc;
}

int ldb_maintain(ldb_db *db, uint32_t budget, uint32_t *next_ms) {
  int rc = check_db(db), more = 0;
  if (next_ms) *next_ms = UINT32_MAX;
  if (rc) return rc;
  eng *e = db->e;
  if (e->opts.read_only || e->threaded) return LDB_OK;
  uint64_t wait = UINT64_MAX;
  if ((rc = sync_if_due(e, &wait))) {
    set_bg_error(e, rc);
    if (next_ms) *next_ms = e->opts.sync_interval_ms;
    return rc;
  }
  if (atomic_load(&e->ckpt_pending)) {
    uint64_t now = eng_now(e), retry = atomic_load(&e->ckpt_fail_at);
    if (now >= retry) {
      rc = ckpt_run(e, budget ? budget : ENG_STEP_BUDGET, &more);
      /* A failure is retried after the back-off, not at once. */
      if (rc) more = 0;
      retry = atomic_load(&e->ckpt_fail_at);
      now = eng_now(e);
    }
    if (more)
      wait = 0;
    else if (atomic_load(&e->ckpt_pending) && retry > now && retry - now < wait)
      wait = retry - now;
  }
  if (next_ms) {
    /* Round up, so that a call at *next_ms finds the work due. */
    uint64_t ms = wait == UINT64_MAX ? UINT32_MAX : (wait + 999999) / 1000000;
    *next_ms = ms >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)ms;
    if (wait == UINT64_MAX) *next_ms = UINT32_MAX;
  }
  return rc;
}
