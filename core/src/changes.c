/*
 * changes.c — the public change feed (ldb_changes_*): cursors over the
 * log's retained records (feed.c) filtered by key range, the wait for new
 * commits, and the commit hooks hosts use instead of a blocked thread.
 */
#include "engine.h"

struct ldb_changes {
  ldb_child node; /* in db's children; node.dead once invalidated */
  ldb_db *db;
  eng *e; /* NULL once invalidated */
  const ldb_allocator *a;
  int waiting; /* in ldb_changes_wait (e->hook_mu) */
  feed_cursor *fc;
  uint8_t *lower, *upper, *prefix;
  size_t lower_len, upper_len, prefix_len;
  int lower_excl, upper_excl, has_lower, has_upper, has_prefix;
  uint64_t pos;       /* last seq passed */
  ldb_change_op *ops; /* the current change's ops in range */
  size_t ops_cap;
  ldb_change cur; /* held back by ldb_changes_read (did not fit) */
  int held;
  uint64_t bad_seq; /* a commit whose ops did not decode: every later call
                       answers LDB_CORRUPT (the feed cursor is past it) */
};

/* ---- notification ------------------------------------------------------- */

void eng_notify(eng *e, uint64_t seq) {
  /* Pairs with the waiter's increment before it reads visible_seq: either
   * it sees the new seq or this sees it waiting. */
  atomic_thread_fence(memory_order_seq_cst);
  if (!atomic_load(&e->hook_waiters) && !atomic_load(&e->nhooks)) return;
  ldb_mutex_lock(&e->hook_mu);
  ldb_cond_broadcast(&e->hook_cv);
  int n = atomic_load(&e->nhooks);
  for (int i = 0; i < n; i++)
    e->hooks[i].fn(e->hooks[i].ctx, seq);
  ldb_mutex_unlock(&e->hook_mu);
}

int ldb_commit_hook_add(ldb_db *db, ldb_commit_hook fn, void *ctx) {
  int rc = check_db(db);
  if (rc) return rc;
  if (!fn) return ldb_err(LDB_INVALID, "ldb_commit_hook_add: fn is NULL");
  eng *e = db->e;
  int cap = (int)(sizeof e->hooks / sizeof e->hooks[0]);
  ldb_mutex_lock(&e->hook_mu);
  int n = atomic_load(&e->nhooks);
  if (n == cap) {
    ldb_mutex_unlock(&e->hook_mu);
    return ldb_err(LDB_BUSY,
                   "ldb_commit_hook_add: %d commit hooks are already "
                   "registered on this database, the most it takes (in "
                   "JavaScript: one per open handle with live changes() "
                   "or subscribe()); remove one, or close its feeds and "
                   "subscriptions, to free a place",
                   cap);
  }
  e->hooks[n].fn = fn;
  e->hooks[n].ctx = ctx;
  e->hooks[n].owner = db;
  atomic_store(&e->nhooks, n + 1);
  ldb_mutex_unlock(&e->hook_mu);
  return LDB_OK;
}

int ldb_commit_hook_remove(ldb_db *db, ldb_commit_hook fn, void *ctx) {
  int rc = check_db(db);
  if (rc) return rc;
  eng *e = db->e;
  rc = LDB_NOTFOUND;
  ldb_mutex_lock(&e->hook_mu);
  int n = atomic_load(&e->nhooks);
  for (int i = 0; i < n; i++) {
    if (e->hooks[i].fn != fn || e->hooks[i].ctx != ctx ||
        e->hooks[i].owner != db)
      continue;
    memmove(&e->hooks[i], &e->hooks[i + 1],
            (size_t)(n - i - 1) * sizeof e->hooks[0]);
    atomic_store(&e->nhooks, n - 1);
    rc = LDB_OK;
    break;
  }
  ldb_mutex_unlock(&e->hook_mu);
  if (rc) ldb_err(rc, "ldb_commit_hook_remove: no such hook");
  return rc;
}

void eng_hooks_drop(eng *e, const ldb_db *db) {
  ldb_mutex_lock(&e->hook_mu);
  int n = atomic_load(&e->nhooks), k = 0;
  for (int i = 0; i < n; i++)
    if (e->hooks[i].owner != db) e->hooks[k++] = e->hooks[i];
  atomic_store(&e->nhooks, k);
  ldb_mutex_unlock(&e->hook_mu);
}

/* ---- cursors ------------------------------------------------------------ */

static int check_cursor(const ldb_changes *c) {
  if (!c) return ldb_err(LDB_INVALID, "change cursor is NULL");
  if (c->node.dead || !c->e)
    return ldb_err(LDB_CLOSED, "the change cursor was invalidated: its "
                               "database is closed");
  return LDB_OK;
}

/* ldb_close: lets go of the feed, and waits for a thread blocked in
 * ldb_changes_wait on this cursor to leave before the engine goes. */
static void changes_invalidate(ldb_child *node) {
  ldb_changes *c = (ldb_changes *)node;
  eng *e = c->e;
  feed_cursor_close(c->fc);
  c->fc = NULL;
  ldb_mutex_lock(&e->hook_mu);
  c->node.dead = 1;
  ldb_cond_broadcast(&e->hook_cv);
  while (c->waiting)
    ldb_cond_wait(&e->hook_cv, &e->hook_mu);
  c->e = NULL;
  ldb_mutex_unlock(&e->hook_mu);
}

static int copy_bound(const ldb_allocator *a, const void *p, size_t n,
                      uint8_t **out, size_t *out_len, int *has) {
  if (!p) return LDB_OK;
  if (n > LDB_MAX_KEY_SIZE)
    return ldb_err(LDB_INVALID,
                   "a change feed bound of %zu bytes exceeds "
                   "the key limit",
                   n);
  *out = ldb_memdup(a, p, n);
  if (!*out) return ldb_err(LDB_NOMEM, "out of memory opening a feed");
  *out_len = n;
  *has = 1;
  return LDB_OK;
}

static void changes_free(ldb_changes *c) {
  const ldb_allocator *a = c->a;
  feed_cursor_close(c->fc);
  ldb_mfree(a, c->lower);
  ldb_mfree(a, c->upper);
  ldb_mfree(a, c->prefix);
  ldb_mfree(a, c->ops);
  ldb_mfree(a, c);
}

void ldb_changes_close(ldb_changes *c) {
  if (!c) return;
  /* The handle may be a zombie (closed): removing its last child frees
   * it, so the cursor's memory goes first (the allocator outlives both:
   * the caller's hook or the default). */
  ldb_db *db = c->db;
  ldb_child *node = &c->node;
  ldb_mutex_lock(&db->kids_mu);
  int dead = c->node.dead;
  ldb_mutex_unlock(&db->kids_mu);
  if (!dead) {
    feed_cursor_close(c->fc);
    c->fc = NULL;
  }
  db_child_remove(db, node);
  changes_free(c);
}

int ldb_changes_open(ldb_db *db, uint64_t since,
                     const ldb_changes_options *opts, ldb_changes **out) {
  int rc = check_db(db);
  if (rc) return rc;
  if (!out) return ldb_err(LDB_INVALID, "ldb_changes_open: out is NULL");
  *out = NULL;
  eng *e = db->e;
  if (!e->opts.log_retention_bytes)
    return ldb_err(LDB_INVALID, "the change feed is off (option "
                                "log_retention_bytes (logRetentionBytes) "
                                "is 0)");
  ldb_changes *c = ldb_calloc(e->a, sizeof *c);
  if (!c) return ldb_err(LDB_NOMEM, "out of memory opening a feed");
  c->db = db;
  c->e = e;
  c->a = e->a;
  c->pos = since;
  if (opts) {
    if ((rc = copy_bound(e->a, opts->lower, opts->lower_len, &c->lower,
                         &c->lower_len, &c->has_lower)) ||
        (rc = copy_bound(e->a, opts->upper, opts->upper_len, &c->upper,
                         &c->upper_len, &c->has_upper)) ||
        (rc = copy_bound(e->a, opts->prefix, opts->prefix_len, &c->prefix,
                         &c->prefix_len, &c->has_prefix)))
      goto fail;
    c->lower_excl = opts->lower_exclusive;
    c->upper_excl = opts->upper_exclusive;
  }
  rc = feed_cursor_open(e->log, since, atomic_load(&e->last_seq), &c->fc);
  if (rc) goto fail;
  db_child_add(db, &c->node, CHILD_FEED, NULL, changes_invalidate);
  *out = c;
  return LDB_OK;
fail:
  changes_free(c);
  return rc;
}

static int in_range(const ldb_changes *c, const void *k, size_t kl) {
  if (c->has_prefix &&
      (kl < c->prefix_len || memcmp(k, c->prefix, c->prefix_len)))
    return 0;
  if (c->has_lower) {
    int r = ldb_keycmp(k, kl, c->lower, c->lower_len);
    if (r < 0 || (r == 0 && c->lower_excl)) return 0;
  }
  if (c->has_upper) {
    int r = ldb_keycmp(k, kl, c->upper, c->upper_len);
    if (r > 0 || (r == 0 && c->upper_excl)) return 0;
  }
  return 1;
}

int ldb_changes_next(ldb_changes *c, ldb_change *out) {
  int rc = check_cursor(c);
  if (rc) return rc;
  if (!out) return ldb_err(LDB_INVALID, "ldb_changes_next: out is NULL");
  if (c->held) {
    c->held = 0;
    *out = c->cur;
    return LDB_OK;
  }
  if (c->bad_seq)
    return ldb_err(LDB_CORRUPT, "feed: malformed ops in seq %llu",
                   (unsigned long long)c->bad_seq);
  eng *e = c->e;
  for (;;) {
    uint64_t seq, t;
    const uint8_t *ops;
    size_t len;
    uint32_t nops;
    uint64_t vis = atomic_load_explicit(&e->visible_seq, memory_order_acquire);
    rc = feed_cursor_next(c->fc, vis, &seq, &t, &ops, &len, &nops);
    if (rc) return rc;
    if (nops > c->ops_cap) {
      size_t nc = c->ops_cap ? c->ops_cap : 16;
      while (nc < nops)
        nc *= 2;
      ldb_change_op *no = ldb_realloc(e->a, c->ops, 0, nc * sizeof *no);
      if (!no) return ldb_err(LDB_NOMEM, "out of memory reading the feed");
      c->ops = no;
      c->ops_cap = nc;
    }
    const uint8_t *p = ops, *end = ops + len;
    size_t n = 0;
    for (uint32_t i = 0; i < nops; i++) {
      wal_op op;
      if (wal_op_decode(&p, end, &op)) {
        c->bad_seq = seq;
        return ldb_err(LDB_CORRUPT, "feed: malformed ops in seq %llu",
                       (unsigned long long)seq);
      }
      if (!in_range(c, op.key, op.klen)) continue;
      ldb_change_op *o = &c->ops[n++];
      o->type = op.type == WAL_PUT ? LDB_CHANGE_PUT : LDB_CHANGE_DEL;
      o->key = op.key;
      o->key_len = op.klen;
      o->value = op.type == WAL_PUT ? op.val : NULL;
      o->value_len = op.type == WAL_PUT ? op.vlen : 0;
    }
    c->pos = seq;
    if (!n) continue;
    out->seq = seq;
    out->time_ms = t;
    out->op_count = n;
    out->ops = c->ops;
    return LDB_OK;
  }
}

int ldb_changes_read(ldb_changes *c, void *buf, size_t cap, size_t max_commits,
                     size_t *count, size_t *used) {
  int rc = check_cursor(c);
  if (rc) return rc;
  if (!count || !used || (!buf && cap))
    return ldb_err(LDB_INVALID, "ldb_changes_read: bad buffer arguments");
  *count = 0;
  *used = 0;
  uint8_t *p = buf;
  while (*count < max_commits) {
    ldb_change ch;
    rc = ldb_changes_next(c, &ch);
    /* The commits read so far are delivered; an error comes back at the
     * next call (the cursor stays at it: a damaged record is CORRUPT every
     * time, after every commit before it). */
    if (rc && *count) return LDB_OK;
    if (rc) return rc;
    size_t ob = 0;
    for (size_t i = 0; i < ch.op_count; i++)
      ob += 9 + ch.ops[i].key_len + ch.ops[i].value_len;
    size_t need = 24 + ob;
    if (ob > UINT32_MAX || need > cap - *used) {
      c->cur = ch;
      c->held = 1;
      if (!*count) *used = need;
      return LDB_OK;
    }
    uint8_t *q = p + *used;
    ldb_put64(q, ch.seq);
    ldb_put64(q + 8, ch.time_ms);
    ldb_put32(q + 16, (uint32_t)ch.op_count);
    ldb_put32(q + 20, (uint32_t)ob);
    q += 24;
    for (size_t i = 0; i < ch.op_count; i++) {
      const ldb_change_op *o = &ch.ops[i];
      q[0] = (uint8_t)o->type;
      ldb_put32(q + 1, (uint32_t)o->key_len);
      ldb_put32(q + 5, (uint32_t)o->value_len);
      if (o->key_len) memcpy(q + 9, o->key, o->key_len);
      if (o->value_len) memcpy(q + 9 + o->key_len, o->value, o->value_len);
      q += 9 + o->key_len + o->value_len;
    }
    *used += need;
    (*count)++;
  }
  return LDB_OK;
}

uint64_t ldb_changes_seq(const ldb_changes *c) {
  return c ? (c->held ? c->cur.seq - 1 : c->pos) : 0;
}

int ldb_changes_wait(ldb_changes *c, uint64_t after, uint32_t timeout_ms) {
  int rc = check_cursor(c);
  if (rc) return rc;
  eng *e = c->e;
  if (atomic_load_explicit(&e->visible_seq, memory_order_acquire) > after)
    return LDB_OK;
#ifdef LDB_NO_THREADS
  (void)timeout_ms;
  return LDB_TIMEOUT;
#else
  uint64_t deadline = eng_now(e) + (uint64_t)timeout_ms * 1000000u;
  ldb_mutex_lock(&e->hook_mu);
  atomic_fetch_add(&e->hook_waiters, 1);
  c->waiting = 1;
  rc = LDB_TIMEOUT;
  for (;;) {
    if (c->node.dead) {
      rc = ldb_err(LDB_CLOSED, "the database was closed during the wait");
      break;
    }
    if (atomic_load(&e->visible_seq) > after) {
      rc = LDB_OK;
      break;
    }
    uint64_t now = eng_now(e);
    if (now >= deadline) break;
    /* The deadline is on the env's clock: wait at most that long in real
     * time, and look at the env's clock again at least every 50 ms (a
     * fake clock in a test decides when the wait times out). */
    uint64_t left = deadline - now;
    ldb_cond_timedwait(&e->hook_cv, &e->hook_mu,
                       left < 50000000u ? left : 50000000u);
  }
  c->waiting = 0;
  atomic_fetch_sub(&e->hook_waiters, 1);
  ldb_cond_broadcast(&e->hook_cv); /* a closer may wait for this */
  ldb_mutex_unlock(&e->hook_mu);
  return rc;
#endif
}
