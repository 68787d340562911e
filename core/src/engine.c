/*
 * engine.c — what every part of the engine shares: argument checks,
 * snapshots and point reads (ldb_get), the engine's memtable factory, the
 * FULL-mode durability bookkeeping, and the event hooks (what is recorded
 * in the ring of events.c). Owns no lifecycle: open.c creates and
 * frees engines, commit.c writes, checkpoint.c merges.
 */
#include "engine.h"

/* ---- argument checks ---------------------------------------------------- */

int check_key(const void *key, size_t klen) {
  /* The empty key (klen 0) is a key like any other, the smallest of all;
   * its pointer may then be NULL. */
  if (klen > LDB_MAX_KEY_SIZE)
    return ldb_err(LDB_INVALID,
                   "key of %zu bytes exceeds the limit of %u bytes", klen,
                   LDB_MAX_KEY_SIZE);
  if (!key && klen) return ldb_err(LDB_INVALID, "key pointer is NULL");
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

int check_writable(const ldb_db *db) {
  if (db->read_only || db->e->opts.read_only)
    return ldb_err(LDB_READONLY, "database is open read-only");
  return LDB_OK;
}

void hist_add(_Atomic uint64_t *hist, _Atomic uint64_t *sum, uint64_t ns) {
  atomic_fetch_add_explicit(sum, ns, memory_order_relaxed);
  int b = ns < 2 ? 0 : 63 - __builtin_clzll(ns);
  if (b >= LDB_HIST_BUCKETS) b = LDB_HIST_BUCKETS - 1;
  atomic_fetch_add_explicit(&hist[b], 1, memory_order_relaxed);
}

void set_bg_error(eng *e, int rc) {
  /* Background work owns the error now (or has recovered): a later write
   * that succeeds must not clear it. */
  atomic_store(&e->append_err, LDB_OK);
  int old = atomic_exchange_explicit(&e->bg_error, rc, memory_order_relaxed);
  if (old != rc) ev_bg_error(e, old, rc);
}

void note_write_error(eng *e, int rc) {
  if (rc != LDB_FULL && rc != LDB_IOERR) return;
  int old = LDB_OK;
  if (!atomic_compare_exchange_strong(&e->bg_error, &old, rc)) {
    /* An error of background work stays: it clears it when it recovers.
     * One that a write set is replaced. */
    int mine = atomic_load(&e->append_err);
    if (!mine || old != mine ||
        !atomic_compare_exchange_strong(&e->bg_error, &old, rc)) {
      if (rc == LDB_FULL) ev_record(e, LDB_EVENT_DISK_FULL, rc, 0);
      return;
    }
  }
  atomic_store(&e->append_err, rc);
  /* Every refused append is a disk-full event, as before; IO once. */
  if (old != rc || rc == LDB_FULL) ev_bg_error(e, old, rc);
}

void write_succeeded(eng *e) {
  if (!atomic_load_explicit(&e->append_err, memory_order_relaxed)) return;
  int fe = atomic_exchange(&e->append_err, LDB_OK);
  if (fe && atomic_compare_exchange_strong(&e->bg_error, &fe, LDB_OK))
    ev_bg_error(e, fe, LDB_OK);
}

/* ---- events ------------------------------------------------------------- */

void ev_record(eng *e, int type, int code, uint64_t value) {
  ev_ring_record(&e->events, eng_now(e) - e->open_ns, type, code, value);
}

void ev_sync_done(eng *e, uint64_t t0) {
  uint64_t ns = eng_now(e) - t0;
  if (ns > LDB_EVENT_STALL_NS) ev_record(e, LDB_EVENT_SYNC_STALL, LDB_OK, ns);
}

void ev_bg_error(eng *e, int old, int rc) {
  if (rc == LDB_OK)
    ev_record(e, LDB_EVENT_RECOVERED, old, 0);
  else
    ev_record(e, rc == LDB_FULL ? LDB_EVENT_DISK_FULL : LDB_EVENT_ERROR, rc, 0);
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

int snap_get(const snap *s, const void *key, size_t klen, void *buf, size_t cap,
             size_t *len) {
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
      return rc ? rc
                : ldb_err(LDB_INTERNAL, "value length changed in a "
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

/* Ends a timed read: the get latency histogram, and a SLOW_READ event
 * past LDB_EVENT_SLOW_NS (a stalled disk under the mapping or the cache,
 * a reader starved of CPU). */
static void get_timed(eng *e, uint64_t t0) {
  uint64_t took = eng_now(e) - t0;
  hist_add(e->get_hist, &e->get_sum, took);
  if (took > LDB_EVENT_SLOW_NS) ev_record(e, LDB_EVENT_SLOW_READ, LDB_OK, took);
}

int ldb_get(ldb_db *db, const void *key, size_t key_len, void **value,
            size_t *value_len) {
  int rc = check_db(db);
  if (rc) return rc;
  if ((rc = check_key(key, key_len))) return rc;
  if (!value || !value_len)
    return ldb_err(LDB_INVALID, "value out-pointers are NULL");
  eng *e = db->e;
  int timed = (tl_sample++ & 7) == 0;
  uint64_t t0 = timed ? eng_now(e) : 0;
  snap s;
  ldb_rwlock_rdlock(&e->state_lk);
  snap_peek(e, &s);
  rc = snap_get_alloc(&s, e->a, key, key_len, value, value_len);
  ldb_rwlock_unlock(&e->state_lk);
  atomic_fetch_add_explicit(&e->st_gets, 1, memory_order_relaxed);
  if (timed) get_timed(e, t0);
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
  uint64_t t0 = timed ? eng_now(e) : 0;
  snap s;
  ldb_rwlock_rdlock(&e->state_lk);
  snap_peek(e, &s);
  rc = snap_get(&s, key, key_len, buf, cap, value_len);
  ldb_rwlock_unlock(&e->state_lk);
  atomic_fetch_add_explicit(&e->st_gets, 1, memory_order_relaxed);
  if (timed) get_timed(e, t0);
  return rc;
}

void ldb_free(ldb_db *db, void *ptr) {
  if (!ptr) return;
  ldb_mfree(db ? db->a : NULL, ptr);
}

/* A memtable for the engine, with a key filter sized from memtable_size
 * (about 1/32 of it: 15+ bits per key even for tiny entries) and a hash
 * index for point lookups. Its arena blocks are at most 1/16 of
 * memtable_size, since the budget counts them whole. */
int eng_mt_create(eng *e, uint64_t keys, mt **out) {
  uint64_t block = e->opts.memtable_size / 16;
  if (block > ENG_MT_BLOCK) block = ENG_MT_BLOCK;
  if (block < 4096) block = 4096;
  /* The blocks of a checkpointed memtable serve the next one: a memtable
   * freed after its checkpoint leaves them in the pool while the active
   * one, which takes them, is small, so the two together never hold more
   * than the two memtables did (at most memtable_size is pooled). The
   * background thread frees the pool once commits pause (bg_main). */
  if (!e->mt_pool) {
    int prc =
        mt_pool_create(e->a, (size_t)block, e->opts.memtable_size, &e->mt_pool);
    if (prc) return prc;
  }
  int rc = mt_create(e->a, (size_t)block, out);
  if (rc) return rc;
  mt_use_pool(*out, e->mt_pool);
  uint64_t fb = e->opts.memtable_size / 32;
  if (fb < 4096) fb = 4096;
  if (fb > (16u << 20)) fb = 16u << 20;
  rc = mt_enable_bloom(*out, (size_t)fb);
  if (!rc) rc = mt_enable_index(*out, keys);
  if (rc) {
    mt_unref(*out);
    *out = NULL;
  }
  return rc;
}

uint64_t eng_mt_limit(const eng *e) {
  return e->opts.memtable_size + atomic_load(&e->mt_lent) +
         atomic_load(&e->frozen_lent);
}

/* The frozen memtable's bytes count against the same limit as the active
 * one's, and so does its loan: the next memtable borrows only what the
 * loans together leave of memtable_size. The memtable borrows in steps of
 * an eighth of memtable_size (or what a jump of its heap, an index
 * doubling, needs), so the cache keeps the rest of its unused budget until
 * the memtable reaches it; a cache that fills meanwhile keeps what it
 * holds and the memtable stops there. */
int eng_mt_room(eng *e, uint64_t used) {
  uint64_t size = e->opts.memtable_size;
  /* The loan first: a checkpoint completing zeroes frozen_mem before it
   * repays frozen_lent, so a loan seen repaid comes with its bytes gone. */
  uint64_t lent = atomic_load_explicit(&e->mt_lent, memory_order_relaxed) +
                  atomic_load(&e->frozen_lent);
  uint64_t fmem = atomic_load(&e->frozen_mem);
  /* Without a frozen memtable the active one keeps the headroom free for
   * its successor, unless it borrowed and a background thread runs the
   * checkpoint: then it grows to the limit, and its successor waits for
   * (helps finish) the checkpoint. Without threads the headroom stays,
   * so that commits can advance the checkpoint in steps. */
  uint64_t room_next = lent && e->threaded ? 0 : eng_mt_headroom(e);
  uint64_t need = used + (fmem ? fmem : room_next);
  if (need < size + lent) return 1;
  if (lent >= size) return 0;
  uint64_t want = need - (size + lent) + (size / 8 ? size / 8 : 1);
  if (want > size - lent) want = size - lent;
  uint64_t got = bt_cache_borrow(e->bf, want);
  atomic_fetch_add_explicit(&e->mt_lent, got, memory_order_relaxed);
  return need < size + lent + got;
}

/* Publishes every appended commit as durable (FULL mode bookkeeping);
 * call after the log was synced past seq. */
void mark_durable(eng *e, uint64_t seq) {
  if (e->opts.sync_mode != LDB_SYNC_FULL) return;
  ldb_mutex_lock(&e->sync_mu);
  if (seq > e->durable_seq) e->durable_seq = seq;
  if (e->durable_seq > atomic_load(&e->visible_seq))
    atomic_store_explicit(&e->visible_seq, e->durable_seq,
                          memory_order_release);
  ldb_cond_broadcast(&e->sync_cv);
  ldb_mutex_unlock(&e->sync_mu);
}

/* ---- handles and their children ---------------------------------------- */

ldb_db *db_new(eng *e, const ldb_allocator *a, int read_only) {
  ldb_db *db = ldb_calloc(a, sizeof *db);
  if (!db) return NULL;
  db->magic = LDB_DB_MAGIC;
  db->e = e;
  db->a = a;
  db->read_only = read_only;
  ldb_mutex_init(&db->kids_mu);
  db->kids.prev = db->kids.next = &db->kids;
  return db;
}

void db_free(ldb_db *db) {
  db->magic = LDB_DB_CLOSED;
  ldb_mutex_destroy(&db->kids_mu);
  ldb_mfree(db->a, db);
}

void db_child_add(ldb_db *db, ldb_child *c, int kind, const ldb_txn *owner,
                  void (*invalidate)(ldb_child *c)) {
  c->kind = kind;
  c->dead = 0;
  c->owner = owner;
  c->invalidate = invalidate;
  ldb_mutex_lock(&db->kids_mu);
  c->prev = db->kids.prev;
  c->next = &db->kids;
  c->prev->next = c;
  db->kids.prev = c;
  ldb_mutex_unlock(&db->kids_mu);
}

void db_child_remove(ldb_db *db, ldb_child *c) {
  ldb_mutex_lock(&db->kids_mu);
  c->prev->next = c->next;
  c->next->prev = c->prev;
  c->prev = c->next = NULL;
  int last = db->magic != LDB_DB_MAGIC && db->kids.next == &db->kids;
  ldb_mutex_unlock(&db->kids_mu);
  if (last) db_free(db);
}

void db_invalidate_children(ldb_db *db, const ldb_txn *txn) {
  ldb_mutex_lock(&db->kids_mu);
  for (int kind = txn ? CHILD_ITER : CHILD_FEED; kind;
       kind = txn ? 0 : kind - 1)
    for (ldb_child *c = db->kids.next; c != &db->kids; c = c->next)
      if (!c->dead && c->kind == kind && (!txn || c->owner == txn)) {
        c->invalidate(c);
        c->dead = 1;
      }
  ldb_mutex_unlock(&db->kids_mu);
}
