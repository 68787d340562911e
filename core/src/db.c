/*
 * db.c — the engine: open/recovery/close, the process-wide registry of
 * shared engines, snapshots, the commit path (group commit, visibility),
 * memtable freezes and checkpoints (background thread or bounded steps),
 * single operations, batches, maintenance calls, backup and statistics.
 * Transactions are in txn.c, iterators in iter.c; db.h describes the locks.
 */
#include "db.h"

#include <stdio.h>
#include <stdlib.h>

#include "store.h"

/* ---- argument checks ---------------------------------------------------- */

int check_key(const void *key, size_t klen) {
  if (klen == 0) return ldb_err(LDB_INVALID, "keys must not be empty");
  if (klen > LDB_MAX_KEY_SIZE)
    return ldb_err(LDB_INVALID, "key of %zu bytes exceeds the limit of %u bytes",
                   klen, LDB_MAX_KEY_SIZE);
  if (!key) return ldb_err(LDB_INVALID, "key pointer is NULL");
  return LDB_OK;
}

int check_value(const void *val, size_t vlen) {
  if (vlen > LDB_MAX_VALUE_SIZE)
    return ldb_err(LDB_INVALID,
                   "value of %zu bytes exceeds the limit of %u bytes", vlen,
                   LDB_MAX_VALUE_SIZE);
  if (!val && vlen) return ldb_err(LDB_INVALID, "value pointer is NULL");
  return LDB_OK;
}

int check_db(const ldb_db *db) {
  if (!db) return ldb_err(LDB_INVALID, "database handle is NULL");
  if (db->magic != LDB_DB_MAGIC)
    return ldb_err(LDB_CLOSED, "database handle is closed");
  return LDB_OK;
}

static int check_writable(const ldb_db *db) {
  if (db->read_only || db->e->opts.read_only)
    return ldb_err(LDB_READONLY, "database is open read-only");
  return LDB_OK;
}

void hist_add(_Atomic uint64_t *hist, uint64_t ns) {
  int b = ns < 2 ? 0 : 63 - __builtin_clzll(ns);
  if (b >= LDB_HIST_BUCKETS) b = LDB_HIST_BUCKETS - 1;
  atomic_fetch_add_explicit(&hist[b], 1, memory_order_relaxed);
}

static void set_bg_error(eng *e, int rc) {
  atomic_store_explicit(&e->bg_error, rc, memory_order_relaxed);
}

/* ---- options ------------------------------------------------------------ */

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

static int check_options(const ldb_options *o) {
  if (o->page_size < LDB_MIN_PAGE_SIZE || o->page_size > LDB_MAX_PAGE_SIZE ||
      (o->page_size & (o->page_size - 1)))
    return ldb_err(LDB_INVALID,
                   "page_size %u is not a power of two in %u..%u",
                   o->page_size, LDB_MIN_PAGE_SIZE, LDB_MAX_PAGE_SIZE);
  if (o->compression < LDB_COMPRESSION_NONE ||
      o->compression > LDB_COMPRESSION_ZSTD ||
      !ldb_codec_available(o->compression))
    return ldb_err(LDB_INVALID, "compression %d is not supported (use 0 none, "
                                "1 lz4, 2 zstd)", o->compression);
  if (o->sync_mode < LDB_SYNC_FULL || o->sync_mode > LDB_SYNC_OFF)
    return ldb_err(LDB_INVALID, "sync_mode %d is invalid (0 full, 1 normal, "
                                "2 off)", o->sync_mode);
  if (o->memtable_size == 0)
    return ldb_err(LDB_INVALID, "memtable_size must be positive");
  if (o->compression_level < -131072 || o->compression_level > 22)
    return ldb_err(LDB_INVALID, "compression_level %d is out of range",
                   o->compression_level);
  return LDB_OK;
}

/* ---- snapshots and reads ------------------------------------------------ */

void snap_take(eng *e, snap *s) {
  ldb_rwlock_rdlock(&e->state_lk);
  s->seq = atomic_load_explicit(&e->visible_seq, memory_order_acquire);
  s->active = e->active;
  mt_ref(s->active);
  s->frozen = e->frozen;
  if (s->frozen) mt_ref(s->frozen);
  s->tree = e->tree;
  bt_tree_acquire(s->tree);
  ldb_rwlock_unlock(&e->state_lk);
  atomic_fetch_add_explicit(&e->active_snaps, 1, memory_order_relaxed);
}

void snap_release(eng *e, snap *s) {
  if (!s->active) return;
  mt_unref(s->active);
  mt_unref(s->frozen);
  bt_tree_release(s->tree);
  s->active = s->frozen = NULL;
  s->tree = NULL;
  atomic_fetch_sub_explicit(&e->active_snaps, 1, memory_order_relaxed);
}

/* Memtables first (newest wins), then the tree. */
static int snap_find(const snap *s, const void *key, size_t klen,
                     const void **val, uint32_t *vlen) {
  int type;
  if (mt_get(s->active, key, klen, s->seq, &type, val, vlen) ||
      (s->frozen && mt_get(s->frozen, key, klen, s->seq, &type, val, vlen)))
    return type == MT_DEL ? LDB_NOTFOUND : LDB_OK;
  return -1; /* not in memory: ask the tree */
}

int snap_get(const snap *s, const void *key, size_t klen, void *buf,
             size_t cap, size_t *len) {
  const void *v;
  uint32_t vl;
  int rc = snap_find(s, key, klen, &v, &vl);
  if (rc == LDB_OK) {
    if (vl && cap) memcpy(buf, v, vl < cap ? vl : cap);
    *len = vl;
    return LDB_OK;
  }
  if (rc == LDB_NOTFOUND) return rc;
  return bt_get(s->tree, key, klen, buf, cap, len);
}

/* Looks up key in s, returning an allocated copy in *val. */
static int snap_get_alloc(const snap *s, const ldb_allocator *a,
                          const void *key, size_t klen, void **val,
                          size_t *vlen) {
  const void *v;
  uint32_t vl;
  int rc = snap_find(s, key, klen, &v, &vl);
  if (rc == LDB_OK) {
    void *p = ldb_memdup(a, v, vl);
    if (!p) return ldb_err(LDB_NOMEM, "out of memory copying a value");
    *val = p;
    *vlen = vl;
    return LDB_OK;
  }
  if (rc == LDB_NOTFOUND) return rc;
  uint8_t small[256];
  size_t len = 0;
  rc = bt_get(s->tree, key, klen, small, sizeof small, &len);
  if (rc) return rc;
  void *p = ldb_malloc(a, len);
  if (!p) return ldb_err(LDB_NOMEM, "out of memory copying a value");
  if (len <= sizeof small) {
    memcpy(p, small, len);
  } else {
    size_t len2 = 0;
    rc = bt_get(s->tree, key, klen, p, len, &len2);
    if (rc || len2 != len) {
      ldb_mfree(a, p);
      return rc ? rc : ldb_err(LDB_INTERNAL, "value length changed in a "
                                             "snapshot");
    }
  }
  *val = p;
  *vlen = len;
  return LDB_OK;
}

int snap_lookup(const snap *s, const ldb_allocator *a, const void *key,
                size_t klen, void **val, size_t *vlen) {
  return snap_get_alloc(s, a, key, klen, val, vlen);
}

/* A snapshot view without references, valid while state_lk is read-held. */
static void snap_peek(eng *e, snap *s) {
  s->seq = atomic_load_explicit(&e->visible_seq, memory_order_acquire);
  s->active = e->active;
  s->frozen = e->frozen;
  s->tree = e->tree;
}

static _Thread_local uint32_t tl_sample;

int ldb_get(ldb_db *db, const void *key, size_t key_len, void **value,
            size_t *value_len) {
  int rc = check_db(db);
  if (rc) return rc;
  if ((rc = check_key(key, key_len))) return rc;
  if (!value || !value_len) return ldb_err(LDB_INVALID, "value out-pointers are NULL");
  eng *e = db->e;
  int timed = (tl_sample++ & 7) == 0;
  uint64_t t0 = timed ? ldb_now_ns() : 0;
  snap s;
  ldb_rwlock_rdlock(&e->state_lk);
  snap_peek(e, &s);
  rc = snap_get_alloc(&s, e->a, key, key_len, value, value_len);
  ldb_rwlock_unlock(&e->state_lk);
  atomic_fetch_add_explicit(&e->st_gets, 1, memory_order_relaxed);
  if (timed) hist_add(e->get_hist, ldb_now_ns() - t0);
  return rc;
}

int ldb_get_buf(ldb_db *db, const void *key, size_t key_len, void *buf,
                size_t cap, size_t *value_len) {
  int rc = check_db(db);
  if (rc) return rc;
  if ((rc = check_key(key, key_len))) return rc;
  if (!value_len || (!buf && cap))
    return ldb_err(LDB_INVALID, "buffer arguments are invalid");
  eng *e = db->e;
  int timed = (tl_sample++ & 7) == 0;
  uint64_t t0 = timed ? ldb_now_ns() : 0;
  snap s;
  ldb_rwlock_rdlock(&e->state_lk);
  snap_peek(e, &s);
  rc = snap_get(&s, key, key_len, buf, cap, value_len);
  ldb_rwlock_unlock(&e->state_lk);
  atomic_fetch_add_explicit(&e->st_gets, 1, memory_order_relaxed);
  if (timed) hist_add(e->get_hist, ldb_now_ns() - t0);
  return rc;
}

void ldb_free(ldb_db *db, void *ptr) {
  if (!ptr) return;
  ldb_mfree(db && db->magic == LDB_DB_MAGIC ? db->e->a : NULL, ptr);
}

/* A memtable for the engine, with a key filter sized from memtable_size
 * (about 1/32 of it: 15+ bits per key even for tiny entries) and a hash
 * index for point lookups. */
static int eng_mt_create(eng *e, mt **out) {
  int rc = mt_create(e->a, ENG_MT_BLOCK, out);
  if (rc) return rc;
  uint64_t fb = e->opts.memtable_size / 32;
  if (fb < 4096) fb = 4096;
  if (fb > (16u << 20)) fb = 16u << 20;
  rc = mt_enable_bloom(*out, (size_t)fb);
  if (!rc) rc = mt_enable_index(*out);
  if (rc) {
    mt_unref(*out);
    *out = NULL;
  }
  return rc;
}

/* ---- checkpoints -------------------------------------------------------- */

/* Runs up to budget keys of the pending checkpoint (merging the frozen
 * memtable into the tree). *more: work remains. On failure the merge is
 * discarded and retried later from the start. */
static int ckpt_run(eng *e, uint64_t budget, int *more) {
  int rc = LDB_OK;
  ldb_mutex_lock(&e->ckpt_mu);
  ldb_rwlock_rdlock(&e->state_lk);
  mt *fr = e->frozen;
  uint64_t fseq = e->frozen_seq;
  ldb_rwlock_unlock(&e->state_lk);
  *more = 0;
  if (!fr) goto out;
  if (!e->merge) {
    rc = bt_merge_begin(e->bf, &e->merge);
    if (rc) {
      e->merge = NULL;
      goto fail;
    }
    e->merge_pos = mt_first(fr);
  }
  while (e->merge_pos && budget) {
    mt_node *n = e->merge_pos;
    size_t kl, vl;
    const uint8_t *k = mt_node_key(n, &kl);
    const uint8_t *v = mt_node_val(n, &vl);
    /* The first version of a key is its newest. */
    if (mt_node_type(n) == MT_PUT)
      rc = bt_merge_put(e->merge, k, kl, v, vl);
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
  }
  if (e->merge_pos) {
    *more = 1;
    goto out;
  }
  rc = bt_merge_commit(e->merge, fseq);
  e->merge = NULL;
  if (rc) goto fail;
  /* The meta page is durable: the old log's records are obsolete. A failed
   * truncate is harmless (recovery skips seq <= checkpoint_seq, and the
   * next switch truncates it again). */
  (void)wal_truncate_old(e->log);
  ldb_rwlock_wrlock(&e->state_lk);
  bt_tree *old = e->tree;
  e->tree = bt_current(e->bf);
  e->frozen = NULL;
  ldb_rwlock_unlock(&e->state_lk);
  bt_tree_release(old);
  mt_unref(fr);
  atomic_store(&e->ckpt_seq, fseq);
  atomic_store(&e->ckpt_pending, 0);
  atomic_fetch_add(&e->st_checkpoints, 1);
  set_bg_error(e, LDB_OK);
  e->ckpt_fail_at = 0;
out:
  ldb_mutex_unlock(&e->ckpt_mu);
  return rc;
fail:
  if (e->merge) bt_merge_abort(e->merge);
  e->merge = NULL;
  e->merge_pos = NULL;
  e->ckpt_fail_at = ldb_now_ns() + 200000000ull;
  set_bg_error(e, rc);
  *more = 1;
  ldb_mutex_unlock(&e->ckpt_mu);
  return rc;
}

static void bg_kick(eng *e) {
  if (!e->threaded) return;
  ldb_mutex_lock(&e->bg_mu);
  e->bg_kick = 1;
  ldb_cond_signal(&e->bg_cv);
  ldb_mutex_unlock(&e->bg_mu);
}

/* Publishes every appended commit as durable (FULL mode bookkeeping);
 * call after the log was synced past last_seq. */
static void mark_durable(eng *e, uint64_t seq) {
  if (e->opts.sync_mode != LDB_SYNC_FULL) return;
  ldb_mutex_lock(&e->sync_mu);
  if (seq > e->durable_seq) e->durable_seq = seq;
  if (e->durable_seq > atomic_load(&e->visible_seq))
    atomic_store_explicit(&e->visible_seq, e->durable_seq, memory_order_release);
  ldb_cond_broadcast(&e->sync_cv);
  ldb_mutex_unlock(&e->sync_mu);
}

/* Freezes the active memtable and switches the log. commit_mu held. A
 * previous checkpoint still running is finished first (the writer waits or,
 * without threads, does the work). */
static int eng_freeze(eng *e, int force) {
  int rc, more;
  /* After a failure (full disk, I/O error) automatic attempts wait for the
   * retry time instead of redoing a whole merge at every commit; the
   * memtable grows past its threshold meanwhile. */
  if (!force && ldb_now_ns() < atomic_load(&e->ckpt_fail_at)) return LDB_OK;
  ldb_rwlock_rdlock(&e->state_lk);
  mt *fr = e->frozen;
  ldb_rwlock_unlock(&e->state_lk);
  if (fr) {
    rc = ckpt_run(e, UINT64_MAX, &more);
    if (rc) return rc;
  }
  if (mt_count(e->active) == 0) return LDB_OK;
  mt *nm;
  rc = eng_mt_create(e, &nm);
  if (rc) return rc;
  rc = wal_switch(e->log, e->opts.sync_mode != LDB_SYNC_OFF);
  if (rc) {
    mt_unref(nm);
    atomic_store(&e->ckpt_fail_at, ldb_now_ns() + 200000000ull);
    return rc;
  }
  uint64_t last = atomic_load(&e->last_seq);
  /* The old log is synced: everything in the memtable being frozen is
   * durable, so it may become visible (and be merged into the tree). */
  mark_durable(e, last);
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

/* ---- commit path -------------------------------------------------------- */

/* FULL mode: waits until the log is synced past seq; one waiter at a time
 * syncs for everyone who appended before the sync started. */
static int wait_durable(eng *e, uint64_t seq) {
  int rc = LDB_OK;
  ldb_mutex_lock(&e->sync_mu);
  while (e->durable_seq < seq) {
    if (e->sync_leader) {
      ldb_cond_wait(&e->sync_cv, &e->sync_mu);
      continue;
    }
    e->sync_leader = 1;
    uint64_t target = e->inserted_seq;
    ldb_mutex_unlock(&e->sync_mu);
    rc = wal_sync(e->log);
    ldb_mutex_lock(&e->sync_mu);
    e->sync_leader = 0;
    if (!rc && target > e->durable_seq) {
      e->durable_seq = target;
      if (target > atomic_load(&e->visible_seq))
        atomic_store_explicit(&e->visible_seq, target, memory_order_release);
    }
    ldb_cond_broadcast(&e->sync_cv);
    if (rc) break;
  }
  ldb_mutex_unlock(&e->sync_mu);
  return rc;
}

/* Batches of at least this many ops are applied in ascending key order
 * (see apply_ops); smaller ones as they come. Up to ENG_SORT_STACK ops sort
 * in a stack buffer. */
#define ENG_SORT_MIN 4
#define ENG_SORT_STACK 32

/* Scratch for sorting one batch: nops decoded ops plus one pointer each. */
static size_t sort_scratch_size(uint32_t nops) {
  size_t per = sizeof(wal_op) + sizeof(wal_op *);
  if ((size_t)nops > SIZE_MAX / per) return 0;
  return (size_t)nops * per;
}

/* The scratch for apply_ops, or NULL to apply unsorted (small batches, or
 * out of memory: sorting is only a speed-up, so a failed allocation must
 * not fail the commit). Allocated before the commit starts so that nothing
 * after the log append can fail. Free with ldb_mfree (NULL is ignored). */
static void *sort_scratch(eng *e, uint32_t nops) {
  if (nops <= ENG_SORT_STACK) return NULL;
  size_t sz = sort_scratch_size(nops);
  return sz ? ldb_malloc(e->a, sz) : NULL;
}

/* Key ascending; equal keys by position in the batch (the pointers point
 * into one array), so the sort is deterministic and the last op of a key
 * ends its run. */
static int op_cmp(const void *pa, const void *pb) {
  const wal_op *a = *(const wal_op *const *)pa, *b = *(const wal_op *const *)pb;
  int c = ldb_keycmp(a->key, a->klen, b->key, b->klen);
  if (c) return c;
  return a < b ? -1 : a > b;
}

/* Inserts a committed batch into m, all under one seq. With scratch (or a
 * batch small enough for the stack buffer) the ops go in ascending key
 * order, only the last op of each key: the memtable's finger then makes
 * each insert a short walk from the previous one instead of a search from
 * the top. Readers see the same result either way: versions of one key with
 * one seq resolve to the op inserted last, i.e. the batch's last op for
 * that key, and no reader can see the batch before all of it is inserted
 * (visibility is published by seq after apply_ops returns). */
static void apply_ops(mt *m, uint64_t seq, const uint8_t *ops, size_t len,
                      uint32_t nops, void *scratch) {
  const uint8_t *p = ops, *end = ops + len;
  wal_op op;
  uint8_t stack[ENG_SORT_STACK * (sizeof(wal_op) + sizeof(wal_op *))];
  if (!scratch && nops >= ENG_SORT_MIN && nops <= ENG_SORT_STACK)
    scratch = stack;
  if (!scratch) {
    for (uint32_t i = 0; i < nops; i++) {
      if (wal_op_decode(&p, end, &op)) break; /* built by us: cannot happen */
      mt_insert(m, seq, op.type == WAL_PUT ? MT_PUT : MT_DEL, op.key, op.klen,
                op.val, op.vlen);
    }
    return;
  }
  wal_op *v = scratch;
  wal_op **s = (wal_op **)(v + nops);
  uint32_t n = 0;
  while (n < nops && !wal_op_decode(&p, end, &v[n])) {
    s[n] = &v[n];
    n++;
  }
  qsort(s, n, sizeof *s, op_cmp);
  if (n) mt_prefetch(m, s[0]->key, s[0]->klen);
  for (uint32_t i = 0; i < n; i++) {
    const wal_op *o = s[i];
    if (i + 1 < n) {
      if (ldb_keycmp(o->key, o->klen, s[i + 1]->key, s[i + 1]->klen) == 0)
        continue; /* a later op of this batch overrides this one */
      mt_prefetch(m, s[i + 1]->key, s[i + 1]->klen);
    }
    mt_insert(m, seq, o->type == WAL_PUT ? MT_PUT : MT_DEL, o->key, o->klen,
              o->val, o->vlen);
  }
}

int eng_commit(eng *e, const uint8_t *ops, size_t len, uint32_t nops,
               size_t kv, ldb_txn *txn) {
  uint64_t t0 = ldb_now_ns();
  int rc, more;
  /* Outside the mutex: a malloc need not serialize committers. */
  void *scratch = sort_scratch(e, nops);
  ldb_mutex_lock(&e->commit_mu);
  if (txn) {
    rc = txn_validate(txn);
    if (rc) {
      ldb_mutex_unlock(&e->commit_mu);
      ldb_mfree(e->a, scratch);
      if (rc == LDB_CONFLICT) atomic_fetch_add(&e->st_conflicts, 1);
      return rc;
    }
  }
  rc = mt_reserve(e->active, nops, kv);
  if (rc) {
    ldb_mutex_unlock(&e->commit_mu);
    ldb_mfree(e->a, scratch);
    return rc;
  }
  uint64_t seq = atomic_load_explicit(&e->last_seq, memory_order_relaxed) + 1;
  rc = wal_append(e->log, seq, ops, len, nops);
  if (rc) {
    ldb_mutex_unlock(&e->commit_mu);
    ldb_mfree(e->a, scratch);
    return rc;
  }
  apply_ops(e->active, seq, ops, len, nops, scratch);
  ldb_mfree(e->a, scratch);
  atomic_store_explicit(&e->last_seq, seq, memory_order_release);
  if (e->opts.sync_mode != LDB_SYNC_FULL) {
    atomic_store_explicit(&e->visible_seq, seq, memory_order_release);
  } else {
    ldb_mutex_lock(&e->sync_mu);
    e->inserted_seq = seq;
    ldb_mutex_unlock(&e->sync_mu);
  }
  if (mt_bytes(e->active) >= e->opts.memtable_size) {
    int frc = eng_freeze(e, 0);
    if (frc) set_bg_error(e, frc);
  }
  if (!e->threaded && e->opts.sync_mode == LDB_SYNC_NORMAL) {
    uint64_t now = ldb_now_ns();
    if (now - e->last_sync_ns >= (uint64_t)e->opts.sync_interval_ms * 1000000u) {
      int src = wal_sync(e->log);
      if (src) set_bg_error(e, src);
      e->last_sync_ns = now;
    }
  }
  ldb_mutex_unlock(&e->commit_mu);
  if (e->opts.sync_mode == LDB_SYNC_FULL) rc = wait_durable(e, seq);
  if (!e->threaded && atomic_load(&e->ckpt_pending) &&
      ldb_now_ns() >= e->ckpt_fail_at) {
    uint64_t budget = 2ull * nops;
    (void)ckpt_run(e, budget > ENG_STEP_BUDGET ? budget : ENG_STEP_BUDGET, &more);
  }
  atomic_fetch_add_explicit(&e->st_commits, 1, memory_order_relaxed);
  hist_add(e->commit_hist, ldb_now_ns() - t0);
  return rc;
}

/* ---- background thread -------------------------------------------------- */

static void *bg_main(void *arg) {
  eng *e = arg;
  ldb_mutex_lock(&e->bg_mu);
  while (!e->bg_stop) {
    uint64_t wait_ms = e->opts.sync_mode == LDB_SYNC_NORMAL
                           ? (e->opts.sync_interval_ms ? e->opts.sync_interval_ms : 1)
                           : 1000;
    if (atomic_load(&e->ckpt_pending) && e->ckpt_fail_at) wait_ms = 200;
    if (!e->bg_kick) ldb_cond_timedwait(&e->bg_cv, &e->bg_mu, wait_ms * 1000000ull);
    if (e->bg_stop) break;
    e->bg_kick = 0;
    ldb_mutex_unlock(&e->bg_mu);
    if (e->opts.sync_mode == LDB_SYNC_NORMAL && wal_dirty(e->log)) {
      int rc = wal_sync(e->log);
      if (rc) set_bg_error(e, rc);
    }
    int more = atomic_load(&e->ckpt_pending);
    while (more && ldb_now_ns() >= e->ckpt_fail_at) {
      if (ckpt_run(e, 4096, &more)) break;
      ldb_mutex_lock(&e->bg_mu);
      int stop = e->bg_stop;
      ldb_mutex_unlock(&e->bg_mu);
      if (stop) break;
    }
    ldb_mutex_lock(&e->bg_mu);
  }
  ldb_mutex_unlock(&e->bg_mu);
  return NULL;
}

/* ---- open / close ------------------------------------------------------- */

#ifndef LDB_NO_THREADS
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
#define REG_LOCK() pthread_mutex_lock(&reg_mu)
#define REG_UNLOCK() pthread_mutex_unlock(&reg_mu)
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

static void eng_free(eng *e, int *rcp) {
  int rc = LDB_OK;
  if (e->threaded) {
    ldb_mutex_lock(&e->bg_mu);
    e->bg_stop = 1;
    ldb_cond_broadcast(&e->bg_cv);
    ldb_mutex_unlock(&e->bg_mu);
    ldb_thread_join(e->thread);
    e->threaded = 0;
  }
  if (e->merge) bt_merge_abort(e->merge);
  e->merge = NULL;
  if (e->log && !e->opts.read_only) rc = wal_sync_all(e->log);
  if (e->tree) bt_tree_release(e->tree);
  mt_unref(e->frozen);
  mt_unref(e->active);
  if (e->log) wal_close(e->log);
  if (e->bf) bt_close(e->bf);
  if (e->locked) e->store->methods->unlock(e->store);
  if (e->own_store) ldb_store_destroy(e->store);
  ldb_mutex_destroy(&e->commit_mu);
  ldb_mutex_destroy(&e->ckpt_mu);
  ldb_mutex_destroy(&e->sync_mu);
  ldb_mutex_destroy(&e->bg_mu);
  ldb_cond_destroy(&e->sync_cv);
  ldb_cond_destroy(&e->bg_cv);
  ldb_rwlock_destroy(&e->state_lk);
  ldb_mfree(e->a, e->id);
  ldb_mfree(e->a, e->path);
  ldb_mfree(e->a, e);
  if (rcp) *rcp = rc;
}

/* state_lk prefers writers: its read sections are short, and a freeze or a
 * checkpoint installing a new tree must not starve behind a stream of
 * readers (it holds the commit or checkpoint mutex while it waits). No
 * thread ever read-locks it twice, so writer preference cannot deadlock. */
static void state_lock_init(ldb_rwlock *l) {
#if !defined(LDB_NO_THREADS) && defined(__GLIBC__)
  pthread_rwlockattr_t at;
  pthread_rwlockattr_init(&at);
  pthread_rwlockattr_setkind_np(&at, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(l, &at);
  pthread_rwlockattr_destroy(&at);
#else
  ldb_rwlock_init(l);
#endif
}

static char *dupstr(const ldb_allocator *a, const char *s) {
  return ldb_memdup(a, s, strlen(s) + 1);
}

static int eng_open(ldb_store *s, int own, const char *path,
                    const ldb_options *o, eng **out) {
  int rc, created = 0, dirty = 0, more;
  char holder[128] = "";
  const char *label = path ? path : (s->id ? s->id : "(store)");
  eng *e = ldb_calloc(o->allocator, sizeof *e);
  if (!e) return ldb_err(LDB_NOMEM, "out of memory opening %s", label);
  e->a = o->allocator;
  e->opts = *o;
  e->store = s;
  ldb_mutex_init(&e->commit_mu);
  ldb_mutex_init(&e->ckpt_mu);
  ldb_mutex_init(&e->sync_mu);
  ldb_mutex_init(&e->bg_mu);
  ldb_cond_init(&e->sync_cv);
  ldb_cond_init(&e->bg_cv);
  state_lock_init(&e->state_lk);
  e->open_ns = ldb_now_ns();
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
    ldb_err(rc, "cannot lock database %s: %s", label, ldb_strerror(rc));
    goto fail;
  }
  e->locked = 1;
  bt_config cfg = {o->page_size, o->cache_size, o->compression,
                   o->compression_level, o->create_if_missing && !o->read_only,
                   o->read_only, o->allocator};
  if (cfg.cache_size < 16ull * o->page_size) cfg.cache_size = 16ull * o->page_size;
  rc = bt_open(s, &cfg, &e->bf, &created);
  if (rc == LDB_NOTFOUND) {
    rc = ldb_err(LDB_NOTFOUND, "database %s does not exist", label);
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
  rc = wal_open(s, e->a, o->read_only, &e->log);
  if (rc) goto fail;
  rc = eng_mt_create(e, &e->active);
  if (rc) goto fail;
  uint64_t last = ckpt;
  rc = wal_recover(e->log, ckpt, recover_apply, e, &last, &dirty);
  if (rc) {
    ldb_err(rc, "recovering %s: %s", label, ldb_strerror(rc));
    goto fail;
  }
  atomic_store(&e->last_seq, last);
  atomic_store(&e->visible_seq, last);
  e->durable_seq = e->inserted_seq = last;
  if (!o->read_only) {
    if (last > ckpt) {
      /* Merge what was replayed into the tree now, so both logs can start
       * empty: the log never has to hold records of two generations. */
      mt *nm;
      rc = eng_mt_create(e, &nm);
      if (rc) goto fail;
      mt_set_next(e->active, nm);
      e->frozen = e->active;
      e->frozen_seq = last;
      e->active = nm;
      atomic_store(&e->ckpt_pending, 1);
      rc = ckpt_run(e, UINT64_MAX, &more);
      if (rc) goto fail;
    }
    if (dirty && last == ckpt) {
      /* The logs hold only records the tree claims to cover. That claim
       * may rest on data-file writes that were never synced (a failed sync
       * before a restart); an empty checkpoint syncs the data file before
       * the logs are dropped. */
      bt_merge *m;
      rc = bt_merge_begin(e->bf, &m);
      if (!rc) rc = bt_merge_commit(m, ckpt);
      if (rc) goto fail;
      ldb_rwlock_wrlock(&e->state_lk);
      bt_tree_release(e->tree);
      e->tree = bt_current(e->bf);
      ldb_rwlock_unlock(&e->state_lk);
    }
    if (dirty || last > ckpt) {
      rc = wal_reset(e->log);
      if (rc) goto fail;
    }
  }
  e->threaded = 0;
  if (o->background_checkpoint && !o->read_only && ldb_threads_available()) {
    rc = ldb_thread_start(&e->thread, bg_main, e);
    if (rc) {
      ldb_err(rc, "cannot start the background thread");
      goto fail;
    }
    e->threaded = 1;
  }
  (void)own;
  *out = e;
  return LDB_OK;
fail:
  e->own_store = 0; /* the caller destroys its store on failure */
  eng_free(e, NULL);
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
  if ((rc = check_options(&o))) return rc;
  if (!ldb_threads_available()) o.background_checkpoint = 0;
  if (!o.store && (!path || !*path))
    return ldb_err(LDB_INVALID, "ldb_open: path is empty and no store given");
  if (o.store) {
    s = o.store;
  } else {
    rc = ldb_store_posix(path, o.create_if_missing && !o.read_only, &s);
    if (rc == LDB_NOTFOUND)
      return ldb_err(LDB_NOTFOUND, "database %s does not exist", path);
    if (rc) return rc;
    own = 1;
  }
  db = ldb_calloc(o.allocator, sizeof *db);
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
    e->handles++;
    REG_UNLOCK();
    if (own) ldb_store_destroy(s);
    /* The allocator of a shared engine is the first opener's. */
    if (o.allocator != e->a) {
      ldb_db *d2 = ldb_calloc(e->a, sizeof *d2);
      ldb_mfree(o.allocator, db);
      db = d2;
      if (!db) {
        REG_LOCK();
        e->handles--;
        REG_UNLOCK();
        return ldb_err(LDB_NOMEM, "out of memory opening a handle");
      }
    }
    db->magic = LDB_DB_MAGIC;
    db->e = e;
    db->read_only = o.read_only;
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
  db->magic = LDB_DB_MAGIC;
  db->e = e;
  db->read_only = o.read_only;
  *out = db;
  return LDB_OK;
fail:
  ldb_mfree(o.allocator, db);
  if (own) ldb_store_destroy(s);
  return rc;
}

int ldb_close(ldb_db *db) {
  if (!db) return LDB_OK;
  int rc = check_db(db);
  if (rc) return rc;
  if (atomic_load(&db->open_objs) > 0)
    return ldb_err(LDB_BUSY, "close: %d transactions/iterators of this handle "
                             "are still open", atomic_load(&db->open_objs));
  eng *e = db->e;
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
  db->magic = LDB_DB_DEAD;
  ldb_mfree(e->a, db);
  if (last) {
    eng_free(e, &rc);
    if (rc) ldb_err(rc, "close: final log sync failed: %s", ldb_strerror(rc));
  }
  return rc;
}

/* ---- single operations and batches ------------------------------------- */

static int single_op(ldb_db *db, int type, const void *key, size_t klen,
                     const void *val, size_t vlen) {
  int rc = check_db(db);
  if (rc) return rc;
  if ((rc = check_key(key, klen))) return rc;
  if (type == WAL_PUT && (rc = check_value(val, vlen))) return rc;
  if ((rc = check_writable(db))) return rc;
  eng *e = db->e;
  uint8_t stackbuf[2048];
  size_t n = wal_op_size(klen, type == WAL_PUT ? vlen : 0);
  uint8_t *buf = n <= sizeof stackbuf ? stackbuf : ldb_malloc(e->a, n);
  if (!buf) return ldb_err(LDB_NOMEM, "out of memory for a %zu-byte value", vlen);
  wal_op_encode(buf, type, key, (uint32_t)klen, val, (uint32_t)vlen);
  rc = eng_commit(e, buf, n, 1, klen + (type == WAL_PUT ? vlen : 0), NULL);
  if (buf != stackbuf) ldb_mfree(e->a, buf);
  if (!rc)
    atomic_fetch_add_explicit(type == WAL_PUT ? &e->st_puts : &e->st_dels, 1,
                              memory_order_relaxed);
  return rc;
}

int ldb_put(ldb_db *db, const void *key, size_t key_len, const void *value,
            size_t value_len) {
  return single_op(db, WAL_PUT, key, key_len, value, value_len);
}

int ldb_delete(ldb_db *db, const void *key, size_t key_len) {
  return single_op(db, WAL_DEL, key, key_len, NULL, 0);
}

struct ldb_batch {
  const ldb_allocator *a;
  uint8_t *buf;
  size_t len, cap;
  size_t count;
  size_t kv;
};

int ldb_batch_create(ldb_db *db, ldb_batch **out) {
  int rc = check_db(db);
  if (rc) return rc;
  if (!out) return ldb_err(LDB_INVALID, "ldb_batch_create: out is NULL");
  ldb_batch *b = ldb_calloc(db->e->a, sizeof *b);
  if (!b) return ldb_err(LDB_NOMEM, "out of memory creating a batch");
  b->a = db->e->a;
  *out = b;
  return LDB_OK;
}

static int batch_add(ldb_batch *b, int type, const void *key, size_t klen,
                     const void *val, size_t vlen) {
  if (!b) return ldb_err(LDB_INVALID, "batch is NULL");
  int rc = check_key(key, klen);
  if (rc) return rc;
  if (type == WAL_PUT && (rc = check_value(val, vlen))) return rc;
  if (b->count >= UINT32_MAX)
    return ldb_err(LDB_INVALID, "batch holds too many operations");
  size_t n = wal_op_size(klen, vlen);
  if (b->len + n > (size_t)UINT32_MAX - WAL_HDR)
    return ldb_err(LDB_INVALID, "batch exceeds %u bytes", UINT32_MAX - WAL_HDR);
  if (b->len + n > b->cap) {
    size_t nc = b->cap ? b->cap : 1024;
    while (nc < b->len + n) nc *= 2;
    uint8_t *nb = ldb_realloc(b->a, b->buf, b->len, nc);
    if (!nb) return ldb_err(LDB_NOMEM, "out of memory growing a batch");
    b->buf = nb;
    b->cap = nc;
  }
  wal_op_encode(b->buf + b->len, type, key, (uint32_t)klen, val, (uint32_t)vlen);
  b->len += n;
  b->count++;
  b->kv += klen + vlen;
  return LDB_OK;
}

int ldb_batch_put(ldb_batch *b, const void *key, size_t key_len,
                  const void *value, size_t value_len) {
  return batch_add(b, WAL_PUT, key, key_len, value, value_len);
}

int ldb_batch_delete(ldb_batch *b, const void *key, size_t key_len) {
  return batch_add(b, WAL_DEL, key, key_len, NULL, 0);
}

size_t ldb_batch_count(const ldb_batch *b) { return b ? b->count : 0; }

void ldb_batch_clear(ldb_batch *b) {
  if (!b) return;
  b->len = 0;
  b->count = 0;
  b->kv = 0;
}

void ldb_batch_destroy(ldb_batch *b) {
  if (!b) return;
  ldb_mfree(b->a, b->buf);
  ldb_mfree(b->a, b);
}

int ldb_write(ldb_db *db, const ldb_batch *b) {
  int rc = check_db(db);
  if (rc) return rc;
  if (!b) return ldb_err(LDB_INVALID, "batch is NULL");
  if ((rc = check_writable(db))) return rc;
  if (b->count == 0) return LDB_OK;
  rc = eng_commit(db->e, b->buf, b->len, (uint32_t)b->count, b->kv, NULL);
  if (!rc) atomic_fetch_add_explicit(&db->e->st_batches, 1, memory_order_relaxed);
  return rc;
}

/* ---- maintenance -------------------------------------------------------- */

int ldb_flush(ldb_db *db) {
  int rc = check_db(db);
  if (rc) return rc;
  eng *e = db->e;
  if (e->opts.read_only) return LDB_OK;
  ldb_mutex_lock(&e->commit_mu);
  rc = wal_sync_all(e->log);
  if (!rc) {
    mark_durable(e, atomic_load(&e->last_seq));
    e->last_sync_ns = ldb_now_ns();
  }
  ldb_mutex_unlock(&e->commit_mu);
  return rc;
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
  return rc;
}

int ldb_checkpoint_step(ldb_db *db, uint32_t budget, int *more) {
  int rc = check_db(db), m = 0;
  if (more) *more = 0;
  if (rc) return rc;
  eng *e = db->e;
  if (e->opts.read_only) return LDB_OK;
  if (e->opts.sync_mode == LDB_SYNC_NORMAL && !e->threaded) {
    ldb_mutex_lock(&e->commit_mu);
    uint64_t now = ldb_now_ns();
    if (wal_dirty(e->log) &&
        now - e->last_sync_ns >= (uint64_t)e->opts.sync_interval_ms * 1000000u) {
      rc = wal_sync(e->log);
      if (!rc) e->last_sync_ns = now;
    }
    ldb_mutex_unlock(&e->commit_mu);
    if (rc) return rc;
  }
  if (atomic_load(&e->ckpt_pending))
    rc = ckpt_run(e, budget ? budget : 1, &m);
  if (more) *more = m;
  return rc;
}

int ldb_check(ldb_db *db) {
  int rc = check_db(db);
  if (rc) return rc;
  eng *e = db->e;
  rc = bt_check(e->bf);
  if (rc) return rc;
  ldb_mutex_lock(&e->commit_mu);
  ldb_rwlock_rdlock(&e->state_lk);
  if (!e->opts.read_only) rc = wal_check(e->log, e->frozen != NULL);
  if (!rc) rc = mt_check(e->active);
  if (!rc && e->frozen) rc = mt_check(e->frozen);
  ldb_rwlock_unlock(&e->state_lk);
  ldb_mutex_unlock(&e->commit_mu);
  return rc;
}

/* ---- backup ------------------------------------------------------------- */

int ldb_backup_to_store(ldb_db *db, ldb_store *dst) {
  int rc = check_db(db), created = 0;
  if (rc) return rc;
  if (!dst) return ldb_err(LDB_INVALID, "backup: target store is NULL");
  eng *e = db->e;
  if (dst == e->store || (dst->id && e->id && !strcmp(dst->id, e->id)))
    return ldb_err(LDB_INVALID, "backup: the target is the database itself");
  char holder[128] = "";
  bt_file *bf = NULL;
  bt_merge *m = NULL;
  wal *w = NULL;
  ldb_iter *it = NULL;
  int locked = 0;
  rc = dst->methods->lock(dst, 1, holder, sizeof holder);
  if (rc) {
    ldb_err(rc, "backup: target is locked by %s", holder[0] ? holder : "another user");
    goto out;
  }
  locked = 1;
  bt_config cfg = {bt_page_size(e->bf), 16ull * bt_page_size(e->bf) + (8u << 20),
                   e->opts.compression, e->opts.compression_level, 1, 0, e->a};
  rc = bt_open(dst, &cfg, &bf, &created);
  if (rc) goto out;
  if (!created) {
    rc = ldb_err(LDB_INVALID, "backup: the target already holds a database");
    goto out;
  }
  /* Empty logs, so that nothing stale is ever replayed over the copy. */
  rc = wal_open(dst, e->a, 0, &w);
  if (!rc) rc = wal_reset(w);
  if (rc) goto out;
  rc = ldb_iter_create(db, NULL, NULL, &it);
  if (rc) goto out;
  uint64_t seq = iter_snap_seq(it);
  size_t chunk = 0;
  for (rc = ldb_iter_first(it); rc == LDB_OK; rc = ldb_iter_next(it)) {
    const void *k, *v;
    size_t kl, vl;
    if ((rc = ldb_iter_key(it, &k, &kl)) || (rc = ldb_iter_value(it, &v, &vl)))
      goto out;
    if (!m && (rc = bt_merge_begin(bf, &m))) {
      m = NULL;
      goto out;
    }
    if ((rc = bt_merge_put(m, k, kl, v, vl))) goto out;
    chunk += kl + vl + 16;
    if (chunk >= (16u << 20)) {
      /* Bounded memory: commit in pieces; each is a consistent prefix. */
      rc = bt_merge_commit(m, seq);
      m = NULL;
      if (rc) goto out;
      chunk = 0;
    }
  }
  if (rc != LDB_NOTFOUND) goto out;
  if (!m && (rc = bt_merge_begin(bf, &m))) {
    m = NULL;
    goto out;
  }
  rc = bt_merge_commit(m, seq);
  m = NULL;
out:
  ldb_iter_destroy(it);
  if (m) bt_merge_abort(m);
  if (w) wal_close(w);
  if (bf) bt_close(bf);
  if (locked) dst->methods->unlock(dst);
  return rc;
}

int ldb_backup(ldb_db *db, const char *path) {
  int rc = check_db(db);
  if (rc) return rc;
  if (!path || !*path) return ldb_err(LDB_INVALID, "backup: path is empty");
  ldb_store *s = NULL;
  ldb_file *f = NULL;
  rc = ldb_store_posix(path, 1, &s);
  if (rc) return rc;
  if (ldb_fopen(s, "data.ldb", 0, &f) == LDB_OK) {
    uint64_t sz = 0;
    ldb_fsize(f, &sz);
    ldb_fclose(f);
    if (sz) {
      ldb_store_destroy(s);
      return ldb_err(LDB_INVALID, "backup: %s already holds a database", path);
    }
  }
  rc = ldb_backup_to_store(db, s);
  ldb_store_destroy(s);
  return rc;
}

/* ---- statistics --------------------------------------------------------- */

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
  out->memtable_bytes = mt_bytes(e->active) + (e->frozen ? mt_bytes(e->frozen) : 0);
  ldb_rwlock_unlock(&e->state_lk);
  out->last_seq = atomic_load(&e->last_seq);
  out->checkpoint_seq = atomic_load(&e->ckpt_seq);
  out->uptime_ns = ldb_now_ns() - e->open_ns;
  out->background_error = atomic_load(&e->bg_error);
  for (int i = 0; i < LDB_HIST_BUCKETS; i++) {
    out->get_latency[i] = atomic_load_explicit(&e->get_hist[i], memory_order_relaxed);
    out->commit_latency[i] = atomic_load_explicit(&e->commit_hist[i], memory_order_relaxed);
  }
  return LDB_OK;
}

double ldb_hist_percentile(const uint64_t *hist, double p) {
  if (!hist || !(p > 0)) return 0;
  if (p > 100) p = 100;
  double total = 0;
  for (int i = 0; i < LDB_HIST_BUCKETS; i++) total += (double)hist[i];
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
