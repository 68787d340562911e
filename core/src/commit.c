/*
 * commit.c — the commit path: validation (through the caller's callback),
 * log append, memtable insert, visibility and FULL-mode group commit; and
 * the writes built on it: single operations, batches and ldb_flush.
 */
#include "commit.h"

#include <stdio.h>
#include <stdlib.h>

#include "checkpoint.h"

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
    uint64_t t0 = eng_now(e);
    rc = feed_sync(e->log);
    ev_sync_done(e, t0);
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
void *sort_scratch(eng *e, uint32_t nops) {
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
void apply_ops(mt *m, uint64_t seq, const uint8_t *ops, size_t len,
               uint32_t nops, void *scratch) {
  const uint8_t *p = ops, *end = ops + len;
  wal_op op;
  uint8_t stack[ENG_SORT_STACK * (sizeof(wal_op) + sizeof(wal_op *))];
  if (!scratch && nops >= ENG_SORT_MIN && nops <= ENG_SORT_STACK)
    scratch = stack;
  if (!scratch) {
    for (uint32_t i = 0; i < nops; i++) {
      if (wal_op_decode(&p, end, &op)) break; /* built by us: cannot happen */
      if (i == 0) mt_batch_begin(m, op.key, op.klen, nops == 1);
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
  /* Batches written in key order (bulk loads) are common: check first. */
  uint32_t k = 1;
  while (k < n && op_cmp(&s[k - 1], &s[k]) < 0)
    k++;
  if (k < n) qsort(s, n, sizeof *s, op_cmp);
  if (n) mt_batch_begin(m, s[0]->key, s[0]->klen, 1);
  const void *wk[MT_WARM_MAX];
  uint32_t wl[MT_WARM_MAX];
  for (uint32_t i = 0; i < n; i++) {
    if (i % MT_WARM_MAX == 0) {
      /* The searches of the next keys run in parallel first (their cache
       * misses overlap), so that each insert below finds its path cached. */
      int g = 0;
      for (uint32_t j = i; j < n && g < MT_WARM_MAX; j++, g++) {
        wk[g] = s[j]->key;
        wl[g] = s[j]->klen;
      }
      mt_warm(m, seq, wk, wl, g);
    }
    const wal_op *o = s[i];
    if (i + 1 < n &&
        ldb_keycmp(o->key, o->klen, s[i + 1]->key, s[i + 1]->klen) == 0)
      continue; /* a later op of this batch overrides this one */
    mt_insert(m, seq, o->type == WAL_PUT ? MT_PUT : MT_DEL, o->key, o->klen,
              o->val, o->vlen);
  }
}

/* Whether a commit may grow the memtable. The memtables are at their
 * limit (eng_mt_room) when a commit starts only if the checkpoint that
 * frees them failed or waits for its retry (ckpt_fail_at): the commit
 * that reached the limit froze the memtable or finished the previous
 * checkpoint, and that failed. Rather than grow without bound, a commit
 * then retries it once the back-off has passed and, while it still
 * cannot run, fails with its error (the background error: LDB_FULL,
 * LDB_IOERR, LDB_CORRUPT), writing nothing. Reads keep working; writes
 * resume once a checkpoint succeeds (this retry, the background
 * thread's, ldb_checkpoint or ldb_maintain). commit_mu held. */
static int mem_admit(eng *e) {
  int rc = LDB_OK;
  /* Two tries: a freeze that succeeds may leave a frozen memtable too
   * large for any room (one the open replayed), which the second
   * finishes. */
  for (int i = 0; i < 2; i++) {
    if (eng_mt_room(e, mt_mem(e->active))) return LDB_OK;
    /* After running out of memory the retry is at once: memory may be
     * back now, and if it is not, this call meets the failure itself. */
    if (eng_now(e) < atomic_load(&e->ckpt_fail_at)) {
      if (atomic_load(&e->bg_error) != LDB_NOMEM) break;
      atomic_store(&e->ckpt_fail_at, 0);
    }
    rc = eng_freeze(e, 0);
    if (rc) {
      set_bg_error(e, rc);
      break;
    }
  }
  if (eng_mt_room(e, mt_mem(e->active))) return LDB_OK;
  char why[256];
  snprintf(why, sizeof why, "%s", rc ? ldb_errmsg(NULL) : "");
  /* No room though no checkpoint failed (ckpt_fail_at is cleared when one
   * succeeds): a memtable_size below an empty memtable's fixed parts
   * (filter, index), where every commit freezes. */
  if (!rc && atomic_load(&e->ckpt_fail_at)) rc = atomic_load(&e->bg_error);
  if (!rc) return LDB_OK;
  uint64_t limit = eng_mt_limit(e);
  return ldb_err(rc,
                 "write refused: the memtables hold their whole budget "
                 "(%llu bytes: memtable_size plus %llu borrowed from the "
                 "page cache) and the checkpoint that would free it cannot "
                 "run (%s%s%s); reads work, and writes resume once a "
                 "checkpoint succeeds (it is retried every 200 ms, and by "
                 "ldb_checkpoint; free space or repair the store)",
                 (unsigned long long)limit,
                 (unsigned long long)(limit - e->opts.memtable_size),
                 ldb_strerror(rc), why[0] ? ": " : "", why);
}

int eng_commit(eng *e, const eng_ops *w, eng_validate_fn validate, void *ctx) {
  const uint8_t *ops = w->ops;
  size_t len = w->len, kv = w->kv;
  uint32_t nops = w->nops;
  uint64_t t0 = eng_now(e);
  int rc, more;
  /* Outside the mutex: a malloc need not serialize committers. */
  void *scratch = sort_scratch(e, nops);
  ldb_mutex_lock(&e->commit_mu);
  if (validate) {
    rc = validate(ctx);
    if (rc) {
      ldb_mutex_unlock(&e->commit_mu);
      ldb_mfree(e->a, scratch);
      if (rc == LDB_CONFLICT) atomic_fetch_add(&e->st_conflicts, 1);
      if (rc == LDB_CONFLICT) ev_record(e, LDB_EVENT_CONFLICT, rc, 0);
      return rc;
    }
  }
  rc = mem_admit(e);
  if (!rc) rc = mt_reserve(e->active, nops, kv);
  if (rc) {
    ldb_mutex_unlock(&e->commit_mu);
    ldb_mfree(e->a, scratch);
    return rc;
  }
  uint64_t seq = atomic_load_explicit(&e->last_seq, memory_order_relaxed) + 1;
  /* One append: the log is both the write-ahead log and the feed. */
  rc = feed_append(e->log, seq, ops, len, nops);
  if (rc) {
    note_write_error(e, rc);
    ldb_mutex_unlock(&e->commit_mu);
    ldb_mfree(e->a, scratch);
    return rc;
  }
  feed_publish(e->log);
  write_succeeded(e);
  apply_ops(e->active, seq, ops, len, nops, scratch);
  ldb_mfree(e->a, scratch);
  /* Applied: counted whatever the durability wait below returns. */
  atomic_fetch_add_explicit(&e->st_puts, w->nputs, memory_order_relaxed);
  atomic_fetch_add_explicit(&e->st_dels, nops - w->nputs, memory_order_relaxed);
  atomic_store_explicit(&e->last_seq, seq, memory_order_release);
  if (e->opts.sync_mode != LDB_SYNC_FULL) {
    atomic_store_explicit(&e->visible_seq, seq, memory_order_release);
  } else {
    ldb_mutex_lock(&e->sync_mu);
    e->inserted_seq = seq;
    ldb_mutex_unlock(&e->sync_mu);
  }
  /* The budget counts the memtables' whole heap (mt_mem: arena blocks,
   * index, filter; what memtable_bytes reports), so it bounds real memory,
   * not only the versions' bytes. The memtables and the page cache share
   * one budget, cache_size + memtable_size: the memtables (active and
   * frozen together) hold at most memtable_size plus what they borrowed of
   * the cache's unused budget (eng_mt_room; under the mapping the cache
   * holds almost nothing), at most memtable_size more, and the cache holds
   * at most cache_size less that loan until the checkpoint of the memtable
   * that borrowed it completes. Fewer, larger checkpoints rewrite the tree
   * fewer times (write amplification). A memtable that borrowed nothing
   * (any, without threads) freezes an eighth of memtable_size short of
   * the limit (eng_mt_headroom): that is what the next one fills while
   * the checkpoint runs; one that borrowed grows to the limit. When the
   * two together reach the limit, the writer finishes the checkpoint itself
   * (eng_freeze) and the active memtable goes on filling, frozen only if it
   * still has no room; so memtables never exceed the limit by more than one
   * commit. Without threads, commits also advance the checkpoint by as many
   * keys per key written as the frozen memtable is larger than the headroom
   * (below), so that it usually completes before the writer must wait.
   * When the checkpoint cannot run (a full disk, an I/O error, a damaged
   * page), the next commits fail with its error (mem_admit) instead of
   * growing the memtable past the limit. */
  uint64_t used = mt_mem(e->active);
  if (!eng_mt_room(e, used)) {
    int frc = eng_freeze(e, 0);
    if (frc) set_bg_error(e, frc);
  }
  if (!e->threaded && e->opts.sync_mode == LDB_SYNC_NORMAL) {
    uint64_t now = eng_now(e);
    if (now - e->last_sync_ns >=
        (uint64_t)e->opts.sync_interval_ms * 1000000u) {
      int src = feed_sync(e->log);
      if (src) set_bg_error(e, src);
      e->last_sync_ns = now;
    }
  }
  ldb_mutex_unlock(&e->commit_mu);
  if (e->opts.sync_mode == LDB_SYNC_FULL && (rc = wait_durable(e, seq)))
    note_write_error(e, rc);
  if (!rc)
    eng_notify(e, atomic_load_explicit(&e->visible_seq, memory_order_acquire));
  if (!e->threaded && atomic_load(&e->ckpt_pending) &&
      eng_now(e) >= e->ckpt_fail_at) {
    uint64_t per = atomic_load(&e->frozen_mem) / (eng_mt_headroom(e) + 1) + 1;
    uint64_t budget = (per > 2 ? per : 2) * nops;
    (void)ckpt_run(e, budget > ENG_STEP_BUDGET ? budget : ENG_STEP_BUDGET,
                   &more);
  }
  atomic_fetch_add_explicit(&e->st_commits, 1, memory_order_relaxed);
  uint64_t took = eng_now(e) - t0;
  hist_add(e->commit_hist, &e->commit_sum, took);
  if (took > LDB_EVENT_SLOW_NS)
    ev_record(e, LDB_EVENT_SLOW_COMMIT, LDB_OK, took);
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
  if (!buf)
    return ldb_err(LDB_NOMEM, "out of memory for a %zu-byte value", vlen);
  wal_op_encode(buf, type, key, (uint32_t)klen, val, (uint32_t)vlen);
  eng_ops w = {buf, n, 1, type == WAL_PUT, klen + (type == WAL_PUT ? vlen : 0)};
  rc = eng_commit(e, &w, NULL, NULL);
  if (buf != stackbuf) ldb_mfree(e->a, buf);
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
  size_t puts; /* of count; the rest are deletes */
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
    while (nc < b->len + n)
      nc *= 2;
    uint8_t *nb = ldb_realloc(b->a, b->buf, b->len, nc);
    if (!nb) return ldb_err(LDB_NOMEM, "out of memory growing a batch");
    b->buf = nb;
    b->cap = nc;
  }
  wal_op_encode(b->buf + b->len, type, key, (uint32_t)klen, val,
                (uint32_t)vlen);
  b->len += n;
  b->count++;
  b->puts += type == WAL_PUT;
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

size_t ldb_batch_count(const ldb_batch *b) {
  return b ? b->count : 0;
}

void ldb_batch_clear(ldb_batch *b) {
  if (!b) return;
  b->len = 0;
  b->count = 0;
  b->puts = 0;
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
  eng_ops w = {b->buf, b->len, (uint32_t)b->count, (uint32_t)b->puts, b->kv};
  rc = eng_commit(db->e, &w, NULL, NULL);
  if (!rc)
    atomic_fetch_add_explicit(&db->e->st_batches, 1, memory_order_relaxed);
  return rc;
}

/* ---- maintenance -------------------------------------------------------- */

int ldb_flush(ldb_db *db) {
  int rc = check_db(db);
  if (rc) return rc;
  eng *e = db->e;
  if (e->opts.read_only) return LDB_OK;
  ldb_mutex_lock(&e->commit_mu);
  rc = feed_sync(e->log);
  if (!rc) {
    mark_durable(e, atomic_load(&e->last_seq));
    e->last_sync_ns = eng_now(e);
  }
  ldb_mutex_unlock(&e->commit_mu);
  return rc;
}
